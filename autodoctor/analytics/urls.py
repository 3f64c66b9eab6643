"""Pages of the analytics app."""

from django.urls import path

from . import views

app_name = "analytics"
urlpatterns = [
    path("sessions/<int:session_id>/rating/", views.rating_save, name="rating_save"),
]
