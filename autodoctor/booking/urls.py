"""Pages of the booking app."""

from django.urls import path

from . import views

app_name = "booking"
urlpatterns = [
    # customer: the booking wizard (plan §1.2 + time step), holds, confirmation
    path("", views.wizard, name="wizard"),
    path("new/restart/", views.wizard_restart, name="wizard_restart"),
    path("new/slots/", views.wizard_slots, name="wizard_slots"),
    path("new/<slug:step>/", views.wizard_step, name="wizard_step"),
    path(
        "new/attachments/<int:attachment_id>/remove/",
        views.intake_attachment_remove,
        name="intake_attachment_remove",
    ),
    # photos and video of the problem: its customer and assigned mechanic only
    path("attachments/<int:attachment_id>/", views.attachment_file, name="attachment"),
    path(
        "sessions/<int:session_id>/attachments/",
        views.session_attachments_add,
        name="session_attachments_add",
    ),
    path("holds/<int:reservation_id>/", views.hold, name="hold"),
    path("holds/<int:reservation_id>/confirm/", views.hold_confirm, name="hold_confirm"),
    path("holds/<int:reservation_id>/release/", views.hold_release, name="hold_release"),
    # customer: the waitlist (booking.waitlist)
    path("waitlist/", views.waitlist, name="waitlist"),
    path("waitlist/join/", views.waitlist_join, name="waitlist_join"),
    path("waitlist/<int:entry_id>/leave/", views.waitlist_leave, name="waitlist_leave"),
    path("waitlist/claims/<int:session_id>/", views.waitlist_claim, name="waitlist_claim"),
    # both parties
    path("sessions/", views.my_sessions, name="my_sessions"),
    path("sessions/<int:session_id>/", views.session_detail, name="session_detail"),
    path("sessions/<int:session_id>/confirmed/", views.confirmation, name="confirmation"),
    path("sessions/<int:session_id>/waiting/", views.waiting, name="waiting"),
    path("sessions/<int:session_id>/room/", views.session_room, name="room"),
    path("sessions/<int:session_id>/room/join/", views.session_room_join, name="room_join"),
    path("sessions/<int:session_id>/room/call/", views.session_room_call, name="room_call"),
    path("sessions/<int:session_id>/start/", views.session_start, name="session_start"),
    path("sessions/<int:session_id>/end/", views.session_end, name="session_end"),
    path("sessions/<int:session_id>/extend/", views.session_extend, name="session_extend"),
    path("sessions/<int:session_id>/diagnosis/", views.session_diagnosis, name="session_diagnosis"),
    path("sessions/<int:session_id>/cancel/", views.session_cancel, name="session_cancel"),
    path(
        "sessions/<int:session_id>/reschedule/",
        views.session_reschedule,
        name="session_reschedule",
    ),
    # mechanic: offers inbox and unified calendar
    path("offers/", views.offers, name="offers"),
    path("offers/<int:offer_id>/accept/", views.offer_accept, name="offer_accept"),
    path("offers/<int:offer_id>/decline/", views.offer_decline, name="offer_decline"),
    path("calendar/", views.mechanic_calendar, name="calendar"),
    # platform admins: any mechanic's calendar, drag-and-drop reschedule
    path("schedule/", views.admin_schedule, name="admin_schedule"),
    path("schedule/move/", views.admin_schedule_move, name="admin_schedule_move"),
]
