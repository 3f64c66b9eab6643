from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from .mechanic_types import mechanic_type
from .models import (
    ApiToken,
    ApprovalStatus,
    CustomerProfile,
    Invitation,
    MechanicProfile,
    User,
    Vehicle,
    Workshop,
)
from .search_terms import mechanic_search_terms_sync
from .services import api_token_revoke


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = [
        "email",
        "full_name",
        "role",
        "time_zone",
        "email_verified_at",
        "is_active",
        "is_staff",
    ]
    list_filter = ["role", "is_active", "is_staff", "time_zone"]
    readonly_fields = ["email_verified_at", "deleted_at"]
    search_fields = ["email", "full_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Profile", {"fields": ["full_name", "role", "time_zone"]}),
        (
            "Permissions",
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        ("Dates", {"fields": ["last_login", "date_joined", "email_verified_at", "deleted_at"]}),
    ]
    add_fieldsets = [
        (
            None,
            {
                "classes": ["wide"],
                "fields": ["email", "full_name", "role", "time_zone", "password1", "password2"],
            },
        )
    ]


@admin.register(Workshop)
class WorkshopAdmin(admin.ModelAdmin):
    list_display = ["name", "city", "fsa", "time_zone", "owner", "max_concurrent_appointments"]
    list_filter = ["time_zone", "city"]
    search_fields = ["name", "city", "postal_code", "owner__email"]
    list_select_related = ["owner"]
    autocomplete_fields = ["owner"]
    filter_horizontal = ["staff"]


@admin.register(MechanicProfile)
class MechanicProfileAdmin(admin.ModelAdmin):
    list_display = [
        "user",
        "type_label",
        "workshop",
        "city",
        "fsa",
        "years_experience",
        "rating",
        "is_online",
        "approval_status",
        "applied_at",
    ]
    list_filter = ["approval_status", "account_type", "partnership_type", "is_online", "workshop"]
    search_fields = ["user__email", "user__full_name", "city", "postal_code"]
    list_select_related = ["user", "workshop"]
    autocomplete_fields = ["user", "workshop"]
    # Approval goes through mechanics.mechanic_review (the mechanic is emailed): the
    # action below or the review page (/accounts/review/), never by editing the field.
    readonly_fields = ["approval_status", "applied_at", "reviewed_at", "reviewed_by", "review_note"]
    actions = ["approve"]

    def save_model(
        self, request: HttpRequest, obj: MechanicProfile, form: object, change: bool
    ) -> None:
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            mechanic_search_terms_sync(profiles=[obj])

    @admin.display(description="Mechanic type")
    def type_label(self, obj: MechanicProfile) -> str:
        return mechanic_type(obj).label

    @admin.action(description="Approve selected applications (the mechanics are emailed)")
    def approve(self, request: HttpRequest, queryset: QuerySet[MechanicProfile]) -> None:
        from .mechanics import mechanic_review

        pending = list(
            queryset.filter(approval_status=ApprovalStatus.PENDING, applied_at__isnull=False)
        )
        for profile in pending:
            mechanic_review(mechanic_id=profile.pk, reviewer=request.user, approve=True)  # type: ignore[arg-type]
        self.message_user(
            request,
            f"Approved {len(pending)} mechanic(s). To turn one down with a reason, use the "
            "review page (/accounts/review/).",
        )


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "kind", "workshop", "status", "created_at", "expires_at"]
    list_filter = ["kind", "status"]
    search_fields = ["email", "workshop__name"]
    list_select_related = ["workshop"]
    readonly_fields = [
        "workshop",
        "kind",
        "email",
        "partnership_type",
        "token_hash",
        "invited_by",
        "created_at",
        "expires_at",
        "status",
        "responded_at",
        "accepted_by",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # sent from the workshop page, so the link's secret is emailed once


class VehicleInline(admin.TabularInline):
    model = Vehicle
    extra = 0


@admin.register(CustomerProfile)
class CustomerProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "phone", "city", "fsa"]
    list_filter = ["city"]
    search_fields = ["user__email", "user__full_name", "phone", "postal_code"]
    list_select_related = ["user"]
    inlines = [VehicleInline]
    autocomplete_fields = ["user"]


@admin.register(Vehicle)
class VehicleAdmin(admin.ModelAdmin):
    list_display = ["__str__", "customer", "vin"]
    list_filter = ["make", "year"]
    search_fields = ["make", "model", "vin", "customer__user__email"]
    list_select_related = ["customer__user"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Admins can see and revoke tokens (the action below, through the same service as
    the profile page and the API); new ones are issued on the user's profile page because
    the secret is shown only once. Owner, hash and revocation are read-only: a revoked
    token cannot be brought back, nor moved to another user."""

    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "user__email", "prefix"]
    list_select_related = ["user"]
    readonly_fields = ["user", "prefix", "token_hash", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        tokens = list(queryset.filter(revoked_at__isnull=True).select_related("user"))
        for token in tokens:
            api_token_revoke(user=token.user, token_id=token.pk)
        self.message_user(request, f"Revoked {len(tokens)} token(s).")
