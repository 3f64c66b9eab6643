"""Pages of the availability app."""

from django.urls import path  # noqa: F401

app_name = "availability"
urlpatterns: list = []
