from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import Diagnosis, Offer, Plan, Reservation, Session, SessionEvent


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    """Prices are editable here; durations are fixed in availability/plans.py (plan §6.3)."""

    list_display = [
        "code",
        "name",
        "price_cents",
        "currency",
        "duration_minutes",
        "is_free",
        "is_active",
    ]
    list_editable = ["price_cents", "is_active"]
    list_filter = ["is_active", "is_free"]
    search_fields = ["code", "name"]
    readonly_fields = ["duration_minutes"]


class ReservationInline(admin.TabularInline):
    model = Reservation
    extra = 0
    fields = ["mechanic", "starts_at", "ends_at", "blocked_until", "status", "expires_at"]
    readonly_fields = fields
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Reservation]:
        return super().get_queryset(request).select_related("mechanic__user")


class EventInline(admin.TabularInline):
    model = SessionEvent
    extra = 0
    fields = ["created_at", "action", "actor", "data"]
    readonly_fields = fields
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[SessionEvent]:
        return super().get_queryset(request).select_related("actor")


class DiagnosisInline(admin.StackedInline):
    """Read-only: the mechanic writes it (booking.diagnosis.diagnosis_save)."""

    model = Diagnosis
    extra = 0
    fields = [
        "urgency",
        "service_type",
        "estimated_labour_minutes",
        "parts",
        "findings",
        "written_by",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    """Read-mostly: status changes go through the booking services (state machine),
    not through this form, so the admin cannot make an illegal move."""

    list_display = [
        "pk",
        "customer",
        "mechanic",
        "plan",
        "status",
        "scheduled_for",
        "reschedule_count",
        "created_at",
    ]
    list_filter = ["status", "plan", "type"]
    search_fields = ["customer__email", "mechanic__user__email", "concern", "vehicle_label"]
    date_hierarchy = "created_at"
    list_select_related = ["customer", "mechanic__user", "plan"]
    readonly_fields = [
        "status",
        "mechanic",
        "scheduled_for",
        "started_at",
        "ended_at",
        "reschedule_count",
        "cancelled_by",
        "cancellation_reason",
        "created_at",
        "updated_at",
    ]
    inlines = [DiagnosisInline, ReservationInline, EventInline]


@admin.register(Reservation)
class ReservationAdmin(admin.ModelAdmin):
    list_display = ["pk", "mechanic", "session", "starts_at", "ends_at", "status", "expires_at"]
    list_filter = ["status"]
    search_fields = ["mechanic__user__email", "session__customer__email"]
    date_hierarchy = "starts_at"
    list_select_related = ["mechanic__user", "session"]
    readonly_fields = [
        "mechanic",
        "session",
        "starts_at",
        "ends_at",
        "blocked_until",
        "status",
        "expires_at",
        "reserved_at",
        "confirmed_at",
        "released_at",
    ]


@admin.register(Offer)
class OfferAdmin(admin.ModelAdmin):
    list_display = ["pk", "session", "kind", "mechanic", "status", "score", "offered_at"]
    list_filter = ["kind", "status"]
    search_fields = ["mechanic__user__email", "session__customer__email"]
    list_select_related = ["mechanic__user", "session"]


@admin.register(SessionEvent)
class SessionEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "action", "session", "actor"]
    list_filter = ["action"]
    search_fields = ["action", "session__customer__email"]
    date_hierarchy = "created_at"
    list_select_related = ["session", "actor"]
