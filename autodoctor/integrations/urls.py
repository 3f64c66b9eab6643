"""Pages of the integrations app (mounted at /integrations/)."""

from django.urls import path

from . import views

app_name = "integrations"
urlpatterns = [
    path("", views.endpoints, name="endpoints"),
    path("endpoints/", views.endpoint_create, name="endpoint_create"),
    path("endpoints/<int:endpoint_id>/", views.endpoint, name="endpoint"),
    path("endpoints/<int:endpoint_id>/delete/", views.endpoint_delete, name="endpoint_delete"),
    path("endpoints/<int:endpoint_id>/enable/", views.endpoint_enable, name="endpoint_enable"),
    path("deliveries/<int:delivery_id>/resend/", views.delivery_resend, name="delivery_resend"),
]
