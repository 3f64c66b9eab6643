"""Pages of the directory: find a mechanic, and a mechanic's public profile."""

from django.urls import path

from . import views

app_name = "directory"
urlpatterns = [
    path("", views.search, name="search"),
    path("<int:mechanic_id>/", views.profile, name="profile"),
]
