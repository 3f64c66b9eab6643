from django.contrib import admin

from .models import Delivery, Endpoint


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    list_display = ("url", "owner", "active", "consecutive_failures", "disabled_at", "created_at")
    list_filter = ("active",)
    search_fields = ("url", "owner__email")
    exclude = ("secret",)  # signs every body: never shown again after creation
    raw_id_fields = ("owner",)


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "event_type",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "created_at",
    )
    list_filter = ("status", "event_type")
    search_fields = ("event_id", "resource", "endpoint__url")
    raw_id_fields = ("endpoint",)
    readonly_fields = ("payload", "last_response", "last_error", "claim_token")
