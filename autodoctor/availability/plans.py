"""Session plans and how long each lasts (plan §6.3). The one place durations live;
prices are data (booking.Plan, editable in the admin)."""

PLAN_MINUTES: dict[str, int] = {
    "free": 15,
    "trial": 15,
    "quick": 15,
    "advice": 30,
    "premium": 60,
    "urgent": 15,
}


def plan_minutes(plan: str) -> int:
    """Minutes for a plan code; KeyError for an unknown plan (callers turn it into a 422)."""
    return PLAN_MINUTES[plan]
