"""Pages of the booking app."""

from django.urls import path  # noqa: F401

app_name = "booking"
urlpatterns: list = []
