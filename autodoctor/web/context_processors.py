"""Navigation links shown in the layout, by role."""

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

# (label, url name, roles that see it); "*" = every signed-in user.
NAV = [
    ("Home", "home", "*"),
    ("Book a mechanic", "booking:wizard", "customer"),
    ("My sessions", "booking:my_sessions", "customer"),
    ("Payments", "payments:mine", "customer"),
    ("My schedule", "booking:calendar", "mechanic"),
    ("Availability", "availability:weekly", "mechanic"),
    ("Offers", "booking:offers", "mechanic"),
    ("Earnings", "payments:earnings", "mechanic,workshop_staff"),
    ("Appointments", "home", "workshop_staff"),
    ("Workshop hours", "availability:workshop_hours", "workshop_staff"),
    ("Time-off requests", "availability:workshop_time_off", "workshop_staff"),
    ("Admin", "admin:index", "admin"),
    ("Notifications", "notifications:centre", "*"),
]


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_links": []}
    role = "admin" if user.is_superuser else user.role
    links = []
    for label, name, roles in NAV:
        if roles != "*" and role not in roles.split(","):
            continue
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue  # the app providing this page is not installed
        links.append({"label": label, "url": url, "active": request.path == url})
    return {"nav_links": links}
