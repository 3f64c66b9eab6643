"""Pages of the workshops app."""

from django.urls import path

from . import views

app_name = "workshops"
urlpatterns = [
    # customer: book an in-person visit from a completed session; My visits
    path("visits/", views.my_visits, name="my_visits"),
    path("visits/new/<int:session_id>/", views.visit_new, name="visit_new"),
    path(
        "visits/new/<int:session_id>/<int:workshop_id>/",
        views.visit_new_at,
        name="visit_new_at",
    ),
    # everyone the visit concerns (access_visit); each action checks its own party
    path("visits/<int:visit_id>/", views.visit_detail, name="visit_detail"),
    path("visits/<int:visit_id>/accept/", views.visit_accept_offer, name="visit_accept_offer"),
    path(
        "visits/<int:visit_id>/decline-offer/",
        views.visit_decline_offer,
        name="visit_decline_offer",
    ),
    path("visits/<int:visit_id>/cancel/", views.visit_cancel, name="visit_cancel"),
    path("visits/<int:visit_id>/move/", views.visit_move, name="visit_move"),
    # workshop staff
    path("visits/<int:visit_id>/confirm/", views.visit_confirm, name="visit_confirm"),
    path("visits/<int:visit_id>/counter/", views.visit_counter, name="visit_counter"),
    path("visits/<int:visit_id>/decline/", views.visit_decline, name="visit_decline"),
    path("visits/<int:visit_id>/assign/", views.visit_assign, name="visit_assign"),
    path("visits/<int:visit_id>/check-in/", views.visit_check_in, name="visit_check_in"),
    path("visits/<int:visit_id>/complete/", views.visit_complete, name="visit_complete"),
    path("visits/<int:visit_id>/no-show/", views.visit_no_show, name="visit_no_show"),
    path("appointments/", views.appointments, name="appointments"),
    path("appointments/board/", views.appointments_board, name="appointments_board"),
]
