"""Pages of the availability app (mounted at /availability/)."""

from django.urls import path

from . import views

app_name = "availability"
urlpatterns = [
    # mechanic: own week, special dates, time off, booking rules
    path("", views.weekly, name="weekly"),
    path("blocks/add/", views.weekly_add, name="weekly_add"),
    path("blocks/<int:block_id>/remove/", views.weekly_remove, name="weekly_remove"),
    path("dates/add/", views.weekly_override_add, name="weekly_override_add"),
    path(
        "dates/<int:override_id>/remove/",
        views.weekly_override_remove,
        name="weekly_override_remove",
    ),
    path("calendar/", views.calendar, name="calendar"),
    path("time-off/", views.time_off, name="time_off"),
    path("time-off/<int:time_off_id>/cancel/", views.time_off_cancel, name="time_off_cancel"),
    path("settings/", views.settings, name="settings"),
    path("calendars/", views.calendars, name="calendars"),
    path("calendars/<int:calendar_id>/refresh/", views.calendar_refresh, name="calendar_refresh"),
    path("calendars/<int:calendar_id>/remove/", views.calendar_remove, name="calendar_remove"),
    # workshop staff: hours, bays, special dates, time-off requests
    path("workshop/hours/", views.workshop_hours, name="workshop_hours"),
    path("workshop/dates/add/", views.workshop_override_add, name="workshop_override_add"),
    path(
        "workshop/dates/<int:override_id>/remove/",
        views.workshop_override_remove,
        name="workshop_override_remove",
    ),
    path("workshop/time-off/", views.workshop_time_off, name="workshop_time_off"),
    path(
        "workshop/time-off/<int:time_off_id>/<slug:decision>/",
        views.workshop_time_off_decide,
        name="workshop_time_off_decide",
    ),
    # anyone signed in: a mechanic's bookable days
    path("mechanics/<int:mechanic_id>/", views.mechanic_profile, name="mechanic_profile"),
]
