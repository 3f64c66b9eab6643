"""Pages of the analytics app."""

from django.urls import path

from . import views

app_name = "analytics"
urlpatterns = [
    path("", views.platform, name="platform"),
    path("mine/", views.mine, name="mine"),
    path("compliance/", views.compliance, name="compliance"),
    path("mechanics/<int:mechanic_id>/", views.mechanic, name="mechanic"),
    path("workshop/", views.workshop_default, name="workshop_default"),
    path("workshops/<int:workshop_id>/", views.workshop, name="workshop"),
    path("sessions/<int:session_id>/rating/", views.rating_save, name="rating_save"),
]
