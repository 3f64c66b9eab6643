"""Layout context: the navigation links by role, and the last refused form (so the page
it returns to can show the error next to its field with what the person typed)."""

from django.conf import settings
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy

# (label, url name, roles that see it); "*" = every signed-in user. "workshop_owner" is a
# mechanic who also manages a workshop (an independent workshop owner). Notifications are
# the bell beside the menu.
NAV = [
    (gettext_lazy("Home"), "home", "*"),
    (gettext_lazy("Book a mechanic"), "booking:wizard", "customer"),
    (gettext_lazy("Find a mechanic"), "directory:search", "customer"),
    (gettext_lazy("My sessions"), "booking:my_sessions", "customer"),
    (gettext_lazy("My visits"), "workshops:my_visits", "customer"),
    (gettext_lazy("Payments"), "payments:mine", "customer"),
    (gettext_lazy("My schedule"), "booking:calendar", "mechanic"),
    (gettext_lazy("Availability"), "availability:weekly", "mechanic"),
    (gettext_lazy("Offers"), "booking:offers", "mechanic"),
    (gettext_lazy("Earnings"), "payments:earnings", "mechanic,workshop_staff"),
    (gettext_lazy("Appointments"), "workshops:appointments", "workshop_staff,workshop_owner"),
    (gettext_lazy("Hours"), "availability:workshop_hours", "workshop_staff,workshop_owner"),
    (gettext_lazy("Time off"), "availability:workshop_time_off", "workshop_staff"),
    (gettext_lazy("Workshop"), "accounts:workshop_list", "workshop_staff,workshop_owner"),
    (gettext_lazy("Mechanic profile"), "accounts:mechanic_application", "mechanic"),
    (gettext_lazy("Schedule"), "booking:admin_schedule", "admin"),
    (gettext_lazy("Mechanic approvals"), "accounts:review_queue", "admin"),
    (gettext_lazy("Admin"), "admin:index", "admin"),
    (gettext_lazy("Analytics"), "analytics:platform", "admin"),
    (gettext_lazy("My numbers"), "analytics:mine", "mechanic"),
    (gettext_lazy("Analytics"), "analytics:workshop_default", "workshop_staff,workshop_owner"),
]

FORM_ERROR_KEY = "form_error"


def _roles(user) -> set[str]:
    if user.is_superuser:
        return {"admin"}
    roles = {user.role}
    if user.is_mechanic:
        from autodoctor.accounts.selectors import workshops_for_staff

        if workshops_for_staff(user).exists():
            roles.add("workshop_owner")
    return roles


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_links": []}
    roles = _roles(user)
    links = []
    for label, name, allowed in NAV:
        if allowed != "*" and not roles & set(allowed.split(",")):
            continue
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue  # the app providing this page is not installed
        links.append({"label": label, "url": url, "active": request.path == url})
    return {"nav_links": links}


def form_error(request: HttpRequest) -> dict:
    """The error (message, field, typed values) of a plain form post that was refused and
    redirected back here; app.js puts it next to the field and refills the form."""
    session = getattr(request, "session", None)
    if session is None or FORM_ERROR_KEY not in session:
        return {}
    return {"form_error": session.pop(FORM_ERROR_KEY)}


def live_poll(request: HttpRequest) -> dict:
    """`poll.<page>`: seconds between a waiting page's htmx refreshes (settings.LIVE_POLL_SECONDS)."""
    return {"poll": settings.LIVE_POLL_SECONDS}
