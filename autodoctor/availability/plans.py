"""Session plans and how long each lasts (plan §6.3). The one place durations live;
prices are data (booking.Plan, editable in the admin)."""

from datetime import timedelta

from django.utils.translation import gettext as _

from autodoctor.errors import InvalidInput

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


def plan_duration(plan: str) -> timedelta:
    """Session length of ``plan`` for the slot API: InvalidInput naming ``plan`` if unknown."""
    if plan not in PLAN_MINUTES:
        raise InvalidInput(
            _("Unknown plan %(plan)s; choose one of %(choices)s.")
            % {"plan": repr(plan), "choices": ", ".join(PLAN_MINUTES)},
            field="plan",
        )
    return timedelta(minutes=PLAN_MINUTES[plan])
