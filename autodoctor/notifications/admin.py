"""Admin: the outbox with filters and a "retry failed" action; messages; preferences."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from .models import Notification, NotificationPreference, OutboxMessage, OutboxStatus
from .outbox import outbox_retry_failed
from .rendering import message_render


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    """Read-only: rows change only through the worker and the retry action."""

    list_display = [
        "pk",
        "created_at",
        "recipient",
        "kind",
        "channel",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "short_error",
    ]
    list_filter = ["status", "channel", "notification__kind", "created_at"]
    search_fields = ["notification__recipient__email", "notification__dedupe_key", "last_error"]
    list_select_related = ["notification__recipient"]
    date_hierarchy = "created_at"
    actions = ["retry_failed"]
    readonly_fields = [
        "notification",
        "channel",
        "status",
        "attempts",
        "next_attempt_at",
        "claimed_at",
        "sent_at",
        "provider_id",
        "last_error",
        "created_at",
        "preview",
    ]
    exclude = ["claim_token"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="recipient", ordering="notification__recipient__email")
    def recipient(self, obj: OutboxMessage) -> str:
        return str(obj.notification.recipient or obj.notification.address)

    @admin.display(description="kind", ordering="notification__kind")
    def kind(self, obj: OutboxMessage) -> str:
        return obj.notification.kind

    @admin.display(description="error")
    def short_error(self, obj: OutboxMessage) -> str:
        return obj.last_error[:80]

    @admin.display(description="rendered now")
    def preview(self, obj: OutboxMessage) -> str:
        try:
            rendered = message_render(obj.notification)
        except Exception as exc:  # show the problem instead of a 500 on the admin page
            return f"cannot render: {type(exc).__name__}: {exc}"
        text = rendered.sms if obj.channel == "sms" else f"{rendered.subject}\n\n{rendered.body}"
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", text)

    @admin.action(description="Retry failed messages", permissions=["retry"])
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[OutboxMessage]) -> None:
        ids = queryset.filter(status=OutboxStatus.FAILED).values_list("pk", flat=True)
        count = outbox_retry_failed(ids)
        self.message_user(request, f"{count} failed message(s) queued again.", messages.SUCCESS)

    def has_retry_permission(self, request: HttpRequest) -> bool:
        # The form is read-only, but re-queueing is a change.
        return request.user.has_perm("notifications.change_outboxmessage")


class DeliveryInline(admin.TabularInline):
    model = OutboxMessage
    extra = 0
    fields = ["channel", "status", "attempts", "sent_at", "last_error"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["pk", "created_at", "recipient", "kind", "session", "read_at"]
    list_filter = ["kind", "created_at"]
    search_fields = ["recipient__email", "dedupe_key"]
    list_select_related = ["recipient", "session"]
    raw_id_fields = ["recipient", "session"]
    readonly_fields = ["recipient", "kind", "session", "context", "dedupe_key", "created_at"]
    inlines = [DeliveryInline]


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "email_enabled", "sms_enabled", "remind_24h", "remind_1h", "has_feed"]
    list_filter = ["email_enabled", "sms_enabled"]
    search_fields = ["user__email"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    exclude = ["feed_key"]
    readonly_fields = ["feed_created_at"]

    @admin.display(boolean=True, description="calendar feed")
    def has_feed(self, obj: NotificationPreference) -> bool:
        return bool(obj.feed_key)
