"""Account pages, under /accounts/ (namespace "accounts")."""

from django.urls import path

from . import views

app_name = "accounts"
urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("signup/done/", views.signup_done, name="signup_done"),
    path("verify/needed/", views.verify_needed, name="verify_needed"),
    path("verify/resend/", views.verify_resend, name="verify_resend"),
    path("verify/<str:token>/", views.verify, name="verify"),
    path("profile/", views.profile_update, name="profile_update"),
    path("vehicles/", views.vehicle_add, name="vehicle_add"),
    path("vehicles/<int:vehicle_id>/", views.vehicle_edit, name="vehicle_edit"),
    path("vehicles/<int:vehicle_id>/remove/", views.vehicle_remove, name="vehicle_remove"),
    path("logout-everywhere/", views.logout_everywhere, name="logout_everywhere"),
    path("my-data/", views.data_export, name="data_export"),
    path("delete/", views.account_delete, name="delete"),
    path("mechanic/", views.mechanic_application, name="mechanic_application"),
    path("mechanic/leave-workshop/", views.affiliation_leave, name="affiliation_leave"),
    path("mechanic/presence/", views.presence_set, name="presence_set"),
    path("mechanic/presence/heartbeat/", views.presence_heartbeat, name="presence_heartbeat"),
    path("mechanics/<int:mechanic_id>/photo/", views.mechanic_photo, name="mechanic_photo"),
    path("workshops/", views.workshop_list, name="workshop_list"),
    path("workshops/<int:workshop_id>/", views.workshop_detail, name="workshop_detail"),
    path("workshops/<int:workshop_id>/edit/", views.workshop_edit, name="workshop_edit"),
    path("workshops/<int:workshop_id>/invite/", views.workshop_invite, name="workshop_invite"),
    path(
        "workshops/<int:workshop_id>/invitations/<int:invitation_id>/withdraw/",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
    path(
        "workshops/<int:workshop_id>/staff/<int:staff_id>/remove/",
        views.staff_remove,
        name="staff_remove",
    ),
    path("invitations/<str:token>/", views.invitation, name="invitation"),
    path("review/", views.review_queue, name="review_queue"),
    path("review/<int:mechanic_id>/", views.review_decide, name="review_decide"),
]
