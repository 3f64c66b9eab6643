"""What each role sees on the home page. Reads only; each block asks its app's selectors."""

from autodoctor.accounts.models import User

UPCOMING_ON_HOME = 5


def home_context(user: User) -> dict:
    context: dict = {}
    if user.is_customer or user.is_mechanic:
        from autodoctor.booking.selectors import upcoming_sessions

        context["upcoming"] = list(
            upcoming_sessions(user).select_related("mechanic__user")[:UPCOMING_ON_HOME]
        )
    if user.is_customer and hasattr(user, "customer_profile"):
        context["vehicles"] = list(user.customer_profile.vehicles.all())
    if user.is_mechanic and hasattr(user, "mechanic_profile"):
        from autodoctor.accounts.mechanic_types import mechanic_type
        from autodoctor.accounts.presence import mechanic_presence
        from autodoctor.booking.page_selectors import mechanic_home

        profile = user.mechanic_profile
        context["mechanic"] = profile
        context["mechanic_type"] = mechanic_type(profile).label
        context["mechanic_home"] = mechanic_home(profile, zone=user.zone)
        context["presence"] = mechanic_presence(profile)
    if user.is_workshop_staff:
        from autodoctor.accounts.selectors import workshops_for_staff

        context["workshops"] = list(workshops_for_staff(user))
    return context
