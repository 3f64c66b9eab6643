"""Payments in the Django admin: read-only records (money moves only through the
services), plus three admin tools that call those same services: grant credits,
cancel a paid session with the refund policy, and resend pending card refunds."""

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from autodoctor.accounts.models import Role, User
from autodoctor.booking import services as booking
from autodoctor.errors import DomainError

from .models import (
    CreditAccount,
    CreditEntry,
    Payment,
    PaymentStatus,
    Payout,
    PayoutEntry,
    PayoutRun,
    PayoutStatus,
    Refund,
    SalesTaxRate,
    TaxLine,
    Waiver,
    WebhookEvent,
    money_label,
)
from .services import credits, payout_runs, refunds


class ReadOnlyAdmin(admin.ModelAdmin):
    """View only: these rows change through the payment services, never a form."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = ["created_at", "amount_cents", "destination", "reason", "status", "provider_refund_id"]
    readonly_fields = fields


class PayoutInline(ReadOnlyInline):
    model = PayoutEntry
    fields = [
        "created_at",
        "kind",
        "payee_kind",
        "destination_account",
        "gross_cents",
        "payee_cents",
        "platform_cents",
    ]
    readonly_fields = fields


class TaxLineInline(ReadOnlyInline):
    model = TaxLine
    fields = ["created_at", "refund", "province", "kind", "rate_bp", "amount_cents"]
    readonly_fields = fields


@admin.register(SalesTaxRate)
class SalesTaxRateAdmin(admin.ModelAdmin):
    """The rates table. A rate change is a new row (and `effective_to` on the old one):
    payments keep the rate they were charged in their own tax lines."""

    list_display = ["province", "kind", "rate_bp", "effective_from", "effective_to"]
    list_filter = ["province", "kind"]

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class PayoutRowInline(ReadOnlyInline):
    model = Payout
    fields = [
        "payee_kind",
        "payee_mechanic",
        "payee_workshop",
        "destination_account",
        "amount_cents",
        "status",
        "transfer_id",
        "attempts",
        "failure_message",
    ]
    readonly_fields = fields


@admin.register(PayoutRun)
class PayoutRunAdmin(ReadOnlyAdmin):
    list_display = ["pk", "created_at", "cutoff", "payouts_count", "total_cents", "started_by"]
    date_hierarchy = "created_at"
    inlines = [PayoutRowInline]


@admin.register(Payout)
class PayoutAdmin(ReadOnlyAdmin):
    list_display = [
        "pk",
        "run",
        "payee_kind",
        "payee_mechanic",
        "payee_workshop",
        "amount_cents",
        "status",
        "attempts",
        "transfer_id",
        "failure_message",
    ]
    list_filter = ["status", "payee_kind", "provider"]
    search_fields = ["transfer_id", "destination_account"]
    list_select_related = ["run", "payee_mechanic__user", "payee_workshop"]
    actions = ["retry_transfers"]

    @admin.action(description="Retry the transfer now (same idempotency key)")
    def retry_transfers(self, request: HttpRequest, queryset) -> None:  # type: ignore[no-untyped-def]
        sent = [
            payout_runs.payout_send(pk)
            for pk in queryset.exclude(status=PayoutStatus.PAID).values_list("pk", flat=True)
        ]
        failed = sum(1 for p in sent if p.status != PayoutStatus.PAID)
        self.message_user(request, f"Tried {len(sent)} transfer(s); {failed} not paid yet.")


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = [
        "pk",
        "customer",
        "session",
        "plan",
        "method",
        "amount_cents",
        "refunded_cents",
        "status",
        "outcome",
        "created_at",
    ]
    list_filter = ["status", "method", "provider", "plan"]
    search_fields = ["customer__email", "provider_checkout_id", "provider_payment_id"]
    date_hierarchy = "created_at"
    list_select_related = ["customer", "session", "plan"]
    inlines = [RefundInline, PayoutInline, TaxLineInline]
    actions = ["cancel_sessions_with_refund_policy"]

    @admin.action(description="Cancel the session (refund by the cancellation policy)")
    def cancel_sessions_with_refund_policy(self, request: HttpRequest, queryset) -> None:  # type: ignore[no-untyped-def]
        done = 0
        for payment in queryset.filter(status=PaymentStatus.SUCCEEDED):
            try:
                booking.session_cancel(
                    session_id=payment.session_id,
                    user=request.user,  # type: ignore[arg-type]
                    reason="Cancelled by the platform",
                )
                done += 1
            except DomainError as exc:
                self.message_user(
                    request, f"Session #{payment.session_id}: {exc.message}", messages.ERROR
                )
        self.message_user(request, f"Cancelled {done} session(s); refunds follow the policy.")


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = [
        "pk",
        "payment",
        "amount_cents",
        "destination",
        "reason",
        "status",
        "attempts",
        "created_at",
    ]
    list_filter = ["status", "destination", "reason"]
    search_fields = ["payment__customer__email", "provider_refund_id"]
    list_select_related = ["payment"]
    actions = ["send_pending_refunds"]

    @admin.action(description="Send pending card refunds to the provider now")
    def send_pending_refunds(self, request: HttpRequest, queryset) -> None:  # type: ignore[no-untyped-def]
        sent = [refunds.refund_send(pk) for pk in queryset.values_list("pk", flat=True)]
        still = sum(1 for r in sent if r.status == "pending")
        self.message_user(request, f"Tried {len(sent)} refund(s); {still} still pending.")


class CreditGrantForm(forms.Form):
    customer_email = forms.EmailField(label=gettext_lazy("Customer email"))
    amount = forms.DecimalField(
        label=gettext_lazy("Amount (CAD)"),
        min_value=Decimal("0.01"),
        max_value=Decimal("10000"),
        decimal_places=2,
    )
    note = forms.CharField(max_length=200, required=False)

    def clean_customer_email(self) -> User:
        email = self.cleaned_data["customer_email"].lower()
        user = User.objects.filter(email=email, role=Role.CUSTOMER).first()
        if user is None:
            raise forms.ValidationError(_("No customer with this email."))
        return user


@admin.register(CreditAccount)
class CreditAccountAdmin(ReadOnlyAdmin):
    list_display = ["customer", "balance_cents", "currency", "updated_at"]
    search_fields = ["customer__email"]
    list_select_related = ["customer"]
    change_list_template = "admin/payments/creditaccount/change_list.html"

    def get_urls(self):  # type: ignore[no-untyped-def]
        return [
            path(
                "grant/",
                self.admin_site.admin_view(self.grant_view),
                name="payments_creditaccount_grant",
            ),
            *super().get_urls(),
        ]

    def grant_view(self, request: HttpRequest) -> HttpResponse:
        """Grant credits: one form, one call to credits_grant (the ledger service)."""
        if not request.user.is_platform_admin:  # type: ignore[union-attr]
            return redirect("admin:index")
        form = CreditGrantForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            cents = int(form.cleaned_data["amount"] * 100)
            entry = credits.credits_grant(
                customer=form.cleaned_data["customer_email"],
                amount_cents=cents,
                note=form.cleaned_data["note"],
                granted_by=request.user,  # type: ignore[arg-type]
            )
            self.message_user(
                request,
                f"Granted {money_label(cents, entry.account.currency)} to "
                f"{entry.account.customer}; balance "
                f"{money_label(entry.balance_after_cents, entry.account.currency)}.",
            )
            return redirect(reverse("admin:payments_creditaccount_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Grant credits",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/payments/creditaccount/grant.html", context)


@admin.register(CreditEntry)
class CreditEntryAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "account",
        "kind",
        "delta_cents",
        "balance_after_cents",
        "payment",
        "created_by",
    ]
    list_filter = ["kind"]
    search_fields = ["account__customer__email", "note"]
    date_hierarchy = "created_at"
    list_select_related = ["account__customer", "payment", "created_by"]


@admin.register(PayoutEntry)
class PayoutEntryAdmin(ReadOnlyAdmin):
    """The payout ledger: immutable, so view only (refunds add reversal rows)."""

    list_display = [
        "created_at",
        "kind",
        "session",
        "mechanic",
        "mechanic_type",
        "payee_kind",
        "payee_workshop",
        "destination_account",
        "gross_cents",
        "payee_cents",
        "platform_cents",
    ]
    list_filter = ["kind", "payee_kind", "mechanic_type"]
    search_fields = ["mechanic__user__email", "payee_workshop__name", "destination_account"]
    date_hierarchy = "created_at"
    list_select_related = ["session", "mechanic__user", "payee_workshop"]


@admin.register(Waiver)
class WaiverAdmin(ReadOnlyAdmin):
    list_display = ["customer", "kind", "text_version", "accepted_at", "voided_at", "session"]
    list_filter = ["kind", "text_version"]
    search_fields = ["customer__email"]
    list_select_related = ["customer", "session"]


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = [
        "received_at",
        "provider",
        "type",
        "event_id",
        "outcome",
        "http_status",
        "deliveries",
    ]
    list_filter = ["provider", "type", "http_status"]
    search_fields = ["event_id", "outcome"]
    date_hierarchy = "received_at"
