"""Pages of the workshops app."""

from django.urls import path  # noqa: F401

app_name = "workshops"
urlpatterns: list = []
