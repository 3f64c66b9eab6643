"""Money around a booking: payments, waivers, customer credits, refunds, the payout
ledger and the log of provider webhook events.

Guarantees held by the database, not by application checks:
- a customer's credit balance never goes below zero (`credit_balance_not_negative`);
- a customer has at most one live trial waiver (`waiver_one_trial_per_customer`);
- a session has at most one settled payment (`payment_one_settled_per_session`);
- a provider event is stored once (`webhook_event_once`), so a replay is recognised;
- a payment earns the payee at most once (`payout_one_earning_per_payment`) and each
  refund reverses it at most once (`payout_one_reversal_per_refund`);
- never more refunded than paid (`payment_refund_within_amount`).

Credit movements and payout entries are append-only: the ORM refuses to update or
delete them (`AppendOnlyModel`), corrections are new rows (reversals).
"""

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from autodoctor.accounts.models import MechanicProfile, Workshop
from autodoctor.booking.models import Plan, Reservation, Session


class ImmutableRecord(Exception):
    """Raised when code tries to change or delete a ledger row."""


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        raise ImmutableRecord(f"{self.model.__name__} rows are append-only; add a reversal.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise ImmutableRecord(f"{self.model.__name__} rows are append-only; add a reversal.")


class AppendOnlyModel(models.Model):
    """A ledger row: written once, never updated or deleted through the ORM."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ImmutableRecord(f"{type(self).__name__} rows are append-only; add a reversal.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ImmutableRecord(f"{type(self).__name__} rows are append-only; add a reversal.")


# --------------------------------------------------------------------------- payments


class PaymentMethod(models.TextChoices):
    WAIVER = "waiver", _("Free / trial (waiver)")
    CREDITS = "credits", _("Credits")
    CARD = "card", _("Card")


class PaymentStatus(models.TextChoices):
    PENDING = "pending", _("Pending")  # checkout open, or settlement in progress
    PAID = "paid", _("Paid, confirming")  # the provider has the money; booking not confirmed yet
    SUCCEEDED = "succeeded", _("Paid")  # the booking is confirmed with this payment
    FAILED = "failed", _("Failed")  # nothing charged: declined, expired, refused
    REFUNDED = "refunded", _("Refunded")  # everything paid was given back


class Payment(models.Model):
    """One attempt to pay for a session: a held slot (scheduled) or a start-now session
    before it goes out to mechanics. See services/checkout.py for the flows and
    services/state.py for the allowed status changes."""

    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payments"
    )
    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="payments")
    reservation = models.ForeignKey(
        Reservation,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payments",
        help_text=_("The hold paid for; empty for a start-now session (paid before it goes out)"),
    )
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="+")
    method = models.CharField(max_length=10, choices=PaymentMethod.choices)
    status = models.CharField(
        max_length=10, choices=PaymentStatus.choices, default=PaymentStatus.PENDING
    )
    amount_cents = models.PositiveIntegerField(
        help_text=_("What the customer pays: the plan price when checkout started plus sales tax")
    )
    subtotal_cents = models.PositiveIntegerField(
        default=0, help_text=_("The plan price before tax (the payout split applies to this)")
    )
    tax_cents = models.PositiveIntegerField(default=0, help_text=_("Sum of the tax lines"))
    tax_province = models.CharField(
        max_length=2, blank=True, help_text=_("Whose rates applied (from the postal code)")
    )
    currency = models.CharField(max_length=3, default="CAD")
    refunded_cents = models.PositiveIntegerField(default=0)
    provider = models.CharField(
        max_length=20, blank=True, help_text=_("Card payments: stripe/simulated")
    )
    provider_checkout_id = models.CharField(max_length=255, blank=True)
    provider_payment_id = models.CharField(
        max_length=255, blank=True, help_text=_("The provider's payment (Stripe PaymentIntent) id")
    )
    checkout_url = models.CharField(max_length=2000, blank=True)
    checkout_expires_at = models.DateTimeField(null=True, blank=True)
    waiver_text_version = models.CharField(max_length=20, blank=True)
    outcome = models.CharField(
        max_length=40, blank=True, help_text=_("Why it failed or was refunded (machine code)")
    )
    outcome_detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    settled_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True, help_text=_("Failed or refunded at"))

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["customer", "-created_at"]),
            models.Index(fields=["reservation", "status"]),
            models.Index(fields=["provider", "provider_payment_id"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["session"],
                condition=Q(status="succeeded"),
                name="payment_one_settled_per_session",
            ),
            models.UniqueConstraint(
                fields=["provider", "provider_checkout_id"],
                condition=~Q(provider_checkout_id=""),
                name="payment_checkout_id_unique",
            ),
            models.CheckConstraint(
                condition=Q(refunded_cents__lte=F("amount_cents")),
                name="payment_refund_within_amount",
            ),
            models.CheckConstraint(
                condition=~Q(method="card") | ~Q(provider=""), name="payment_card_has_provider"
            ),
            models.CheckConstraint(
                condition=~Q(method="waiver") | Q(amount_cents=0), name="payment_waiver_is_free"
            ),
            models.CheckConstraint(
                condition=Q(amount_cents=F("subtotal_cents") + F("tax_cents")),
                name="payment_total_is_subtotal_plus_tax",
            ),
        ]

    def __str__(self) -> str:
        return f"Payment #{self.pk} {self.method} {self.amount_label} ({self.status})"

    @property
    def amount_label(self) -> str:
        return money_label(self.amount_cents, self.currency)

    @property
    def checkout_page_url(self) -> str:
        """Our checkout page for what this payment is for (to try again)."""
        if self.reservation_id is None:
            return reverse("payments:start_checkout", args=[self.session_id])
        return reverse("payments:checkout", args=[self.reservation_id])

    @property
    def refunded_label(self) -> str:
        return money_label(self.refunded_cents, self.currency)

    @property
    def subtotal_label(self) -> str:
        return money_label(self.subtotal_cents, self.currency)


def money_label(cents: int, currency: str | None = "CAD") -> str:
    """An amount as people read it in the active language: "$1,029.99 CAD" in English,
    "1 029,99 $ CAD" in French (with no-break spaces); currency=None leaves the code off."""
    sign = "-" if cents < 0 else ""
    amount = f"{abs(cents) / 100:,.2f}"
    if (translation.get_language() or "").startswith("fr"):
        nbsp = "\u00a0"
        amount = amount.replace(",", nbsp).replace(".", ",")
        return f"{sign}{amount}{nbsp}$" + (f"{nbsp}{currency}" if currency else "")
    return f"{sign}${amount}" + (f" {currency}" if currency else "")


def rate_percent(rate_bp: Decimal) -> str:
    """9.975, 13, 5 — a rate in basis points as people write it in percent."""
    return f"{Decimal(rate_bp) / 100:f}".rstrip("0").rstrip(".")


# --------------------------------------------------------------------------- waivers


class WaiverKind(models.TextChoices):
    FREE = "free", _("Free session")
    TRIAL = "trial", _("Trial session")


class Waiver(models.Model):
    """The customer accepted the free/trial waiver (text version and time kept).

    A trial may be used once: the partial unique index allows one live (not voided)
    trial waiver per customer. A refunded trial (mechanic cancelled, request declined,
    customer cancelled early) is voided, which gives the trial back."""

    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="waivers"
    )
    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="waivers")
    payment = models.OneToOneField(Payment, on_delete=models.PROTECT, related_name="waiver")
    kind = models.CharField(max_length=10, choices=WaiverKind.choices)
    text_version = models.CharField(max_length=20)
    accepted_at = models.DateTimeField()
    voided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-accepted_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(kind="trial", voided_at__isnull=True),
                name="waiver_one_trial_per_customer",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} waiver v{self.text_version} by {self.customer}"


# --------------------------------------------------------------------------- credits


class CreditAccount(models.Model):
    """A customer's credit balance in cents (CAD). Changed only by
    services.credits.credits_move under this row's lock, together with a CreditEntry."""

    customer = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="credit_account"
    )
    balance_cents = models.IntegerField(default=0)
    currency = models.CharField(max_length=3, default="CAD")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(balance_cents__gte=0), name="credit_balance_not_negative"
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer}: {money_label(self.balance_cents, self.currency)}"


class CreditEntryKind(models.TextChoices):
    GRANT = "grant", _("Granted by an admin")
    DEBIT = "debit", _("Paid for a session")
    REFUND = "refund", _("Refund as credit")


class CreditEntry(AppendOnlyModel):
    """One movement of a customer's credits. The running balance is stored so the
    ledger reads on its own; it always equals the account's balance after the move."""

    account = models.ForeignKey(CreditAccount, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=10, choices=CreditEntryKind.choices)
    delta_cents = models.IntegerField()
    balance_after_cents = models.IntegerField()
    payment = models.ForeignKey(
        Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="credit_entries"
    )
    refund = models.ForeignKey(
        "Refund", null=True, blank=True, on_delete=models.PROTECT, related_name="credit_entries"
    )
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "credit entries"
        constraints = [
            models.CheckConstraint(condition=~Q(delta_cents=0), name="credit_entry_not_zero"),
            models.CheckConstraint(
                condition=Q(balance_after_cents__gte=0), name="credit_entry_balance_not_negative"
            ),
            models.UniqueConstraint(
                fields=["payment"], condition=Q(kind="debit"), name="credit_one_debit_per_payment"
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.kind} {money_label(self.delta_cents)} → {money_label(self.balance_after_cents)}"
        )


# --------------------------------------------------------------------------- refunds


class RefundDestination(models.TextChoices):
    PROVIDER = "provider", _("Back to the card")
    CREDITS = "credits", _("As credits")
    WAIVER = "waiver", _("Trial given back")


class RefundStatus(models.TextChoices):
    PENDING = "pending", _("Pending")  # decided; the provider has not been asked yet
    SUBMITTED = "submitted", _("Submitted")  # the provider accepted it and is processing
    SUCCEEDED = "succeeded", _("Refunded")
    FAILED = "failed", _("Failed")  # the provider refused: an admin looks at it


class Refund(models.Model):
    """Money (or a trial) given back for a payment, by the policy in payments/policy.py."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount_cents = models.PositiveIntegerField()
    destination = models.CharField(max_length=10, choices=RefundDestination.choices)
    reason = models.CharField(max_length=40)
    status = models.CharField(
        max_length=10, choices=RefundStatus.choices, default=RefundStatus.PENDING
    )
    tax_cents = models.PositiveIntegerField(
        default=0, help_text=_("The sales tax part of amount_cents, reversed in proportion")
    )
    provider_refund_id = models.CharField(max_length=255, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    failure_message = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "destination"])]
        constraints = [
            models.UniqueConstraint(
                fields=["provider_refund_id"],
                condition=~Q(provider_refund_id=""),
                name="refund_provider_id_unique",
            )
        ]

    def __str__(self) -> str:
        return (
            f"Refund #{self.pk} {money_label(self.amount_cents)} {self.destination} ({self.status})"
        )


# --------------------------------------------------------------------------- sales tax


class TaxKind(models.TextChoices):
    GST = "GST", _("GST")
    HST = "HST", _("HST")
    QST = "QST", _("QST")
    PST = "PST", _("PST")
    RST = "RST", _("RST")  # Manitoba's retail sales tax (a PST by another name)


class SalesTaxRate(models.Model):
    """One Canadian sales tax rate for a province or territory over a period
    [effective_from, effective_to). Rates are in basis points with two decimals, so
    Quebec's 9.975 % QST is exactly 997.50. Payments copy the rate into their own
    TaxLine rows, so changing this table never rewrites a receipt."""

    province = models.CharField(max_length=2)
    kind = models.CharField(max_length=3, choices=TaxKind.choices)
    rate_bp = models.DecimalField(max_digits=7, decimal_places=2)
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True, help_text=_("Exclusive; empty = open"))

    class Meta:
        ordering = ["province", "kind", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["province", "kind", "effective_from"], name="tax_rate_once_per_start"
            ),
            models.CheckConstraint(condition=Q(rate_bp__gt=0), name="tax_rate_positive"),
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True) | Q(effective_to__gt=F("effective_from")),
                name="tax_rate_period_forward",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.province} {self.kind} {self.rate_bp / 100}% from {self.effective_from}"


class TaxLine(AppendOnlyModel):
    """Sales tax charged on a payment (refund empty, positive amount) or given back by a
    refund (negative amount, in proportion). The rate is copied, not referenced."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="tax_lines")
    refund = models.ForeignKey(
        Refund, null=True, blank=True, on_delete=models.PROTECT, related_name="tax_lines"
    )
    province = models.CharField(max_length=2)
    kind = models.CharField(max_length=3, choices=TaxKind.choices)
    rate_bp = models.DecimalField(max_digits=7, decimal_places=2)
    amount_cents = models.IntegerField()
    currency = models.CharField(max_length=3, default="CAD")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["payment", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(refund__isnull=True, amount_cents__gte=0)
                | Q(refund__isnull=False, amount_cents__lte=0),
                name="tax_line_sign_matches_kind",
            ),
            models.UniqueConstraint(
                fields=["payment", "kind"],
                condition=Q(refund__isnull=True),
                name="tax_line_once_per_payment_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.rate_percent} % {money_label(self.amount_cents, self.currency)}"

    @property
    def rate_percent(self) -> str:
        return rate_percent(self.rate_bp)

    @property
    def amount_label(self) -> str:
        return money_label(self.amount_cents, self.currency)


# --------------------------------------------------------------------------- payouts


class PayeeKind(models.TextChoices):
    MECHANIC = "mechanic", _("Mechanic")
    WORKSHOP = "workshop", _("Workshop")


class PayoutEntryKind(models.TextChoices):
    EARNING = "earning", _("Earning")
    REVERSAL = "reversal", _("Reversal (refund)")


class PayoutEntry(AppendOnlyModel):
    """Who is owed what for one paid session (plan §2.4), in cents. Immutable: a refund
    adds a reversal row with negative amounts. gross = payee share + platform share."""

    kind = models.CharField(max_length=10, choices=PayoutEntryKind.choices)
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="payout_entries")
    refund = models.ForeignKey(
        Refund, null=True, blank=True, on_delete=models.PROTECT, related_name="payout_entries"
    )
    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="payout_entries")
    mechanic = models.ForeignKey(
        MechanicProfile,
        on_delete=models.PROTECT,
        related_name="payout_entries",
        help_text=_("Who ran the session"),
    )
    mechanic_type = models.CharField(max_length=30)
    payee_kind = models.CharField(max_length=10, choices=PayeeKind.choices)
    payee_mechanic = models.ForeignKey(
        MechanicProfile, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    payee_workshop = models.ForeignKey(
        Workshop, null=True, blank=True, on_delete=models.PROTECT, related_name="payout_entries"
    )
    destination_account = models.CharField(max_length=100, blank=True)
    gross_cents = models.IntegerField()
    payee_cents = models.IntegerField()
    platform_cents = models.IntegerField()
    currency = models.CharField(max_length=3, default="CAD")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "payout entries"
        constraints = [
            models.CheckConstraint(
                condition=Q(gross_cents=F("payee_cents") + F("platform_cents")),
                name="payout_shares_add_up",
            ),
            models.CheckConstraint(
                condition=Q(payee_kind="mechanic", payee_mechanic__isnull=False)
                | Q(payee_kind="workshop", payee_workshop__isnull=False),
                name="payout_payee_matches_kind",
            ),
            models.CheckConstraint(
                condition=Q(kind="earning", gross_cents__gt=0, refund__isnull=True)
                | Q(kind="reversal", gross_cents__lt=0, refund__isnull=False),
                name="payout_sign_matches_kind",
            ),
            models.UniqueConstraint(
                fields=["payment"],
                condition=Q(kind="earning"),
                name="payout_one_earning_per_payment",
            ),
            models.UniqueConstraint(
                fields=["refund"],
                condition=Q(kind="reversal"),
                name="payout_one_reversal_per_refund",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {money_label(self.payee_cents)} to {self.payee_kind} #{self.payee_id}"

    @property
    def payee_id(self) -> int | None:
        return (
            self.payee_mechanic_id
            if self.payee_kind == PayeeKind.MECHANIC
            else self.payee_workshop_id
        )


# --------------------------------------------------------------------------- payout runs


class PayoutRun(models.Model):
    """One payout run (weekly by default, PAYOUT_INTERVAL_DAYS): the unpaid net earnings
    of every payee with a payout account, up to `cutoff`, claimed in the transaction that
    creates this row (one Payout per payee, one PayoutItem per ledger row). Transfers are
    sent after commit and retried until the provider accepts them."""

    cutoff = models.DateTimeField(help_text=_("Ledger rows created up to this time are included"))
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    payouts_count = models.PositiveIntegerField(default=0)
    total_cents = models.IntegerField(default=0)
    currency = models.CharField(max_length=3, default="CAD")

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return (
            f"Payout run #{self.pk} ({self.payouts_count} payees, {money_label(self.total_cents)})"
        )


class PayoutStatus(models.TextChoices):
    PENDING = "pending", _("Sending")  # claimed; the transfer has not been accepted yet
    PAID = "paid", _("Paid")  # the provider accepted the transfer (transfer_id set)
    FAILED = "failed", _("Failed, retrying")  # the provider refused or was unreachable


class Payout(models.Model):
    """One transfer to one payee in a run: the sum of its claimed ledger rows."""

    run = models.ForeignKey(PayoutRun, on_delete=models.PROTECT, related_name="payouts")
    payee_kind = models.CharField(max_length=10, choices=PayeeKind.choices)
    payee_mechanic = models.ForeignKey(
        MechanicProfile, null=True, blank=True, on_delete=models.PROTECT, related_name="payouts"
    )
    payee_workshop = models.ForeignKey(
        Workshop, null=True, blank=True, on_delete=models.PROTECT, related_name="payouts"
    )
    destination_account = models.CharField(max_length=100)
    amount_cents = models.PositiveIntegerField()
    currency = models.CharField(max_length=3, default="CAD")
    provider = models.CharField(max_length=20)
    status = models.CharField(
        max_length=10, choices=PayoutStatus.choices, default=PayoutStatus.PENDING
    )
    transfer_id = models.CharField(max_length=255, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    failure_message = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status"])]
        constraints = [
            models.CheckConstraint(condition=Q(amount_cents__gt=0), name="payout_positive"),
            models.CheckConstraint(
                condition=Q(payee_kind="mechanic", payee_mechanic__isnull=False)
                | Q(payee_kind="workshop", payee_workshop__isnull=False),
                name="payout_run_payee_matches_kind",
            ),
            models.CheckConstraint(
                condition=~Q(status="paid") | ~Q(transfer_id=""), name="payout_paid_has_transfer"
            ),
            models.UniqueConstraint(
                fields=["transfer_id"], condition=~Q(transfer_id=""), name="payout_transfer_once"
            ),
        ]

    def __str__(self) -> str:
        return f"Payout #{self.pk} {money_label(self.amount_cents, self.currency)} ({self.status})"

    @property
    def payee_key(self) -> str:
        """`mechanic-12` / `workshop-3`: the payee in idempotency keys."""
        payee_id = (
            self.payee_mechanic_id
            if self.payee_kind == PayeeKind.MECHANIC
            else self.payee_workshop_id
        )
        return f"{self.payee_kind}-{payee_id}"

    @property
    def idempotency_key(self) -> str:
        return f"payout-{self.run_id}-{self.payee_key}"

    @property
    def amount_label(self) -> str:
        return money_label(self.amount_cents, self.currency)


class PayoutItem(models.Model):
    """A ledger row claimed by a payout. Unique per row: no earning is ever paid twice,
    whichever runs race for it."""

    payout = models.ForeignKey(Payout, on_delete=models.PROTECT, related_name="items")
    entry = models.OneToOneField(PayoutEntry, on_delete=models.PROTECT, related_name="payout_item")

    def __str__(self) -> str:
        return f"entry #{self.entry_id} in payout #{self.payout_id}"


# --------------------------------------------------------------------------- webhooks


class WebhookEvent(models.Model):
    """A verified provider event, stored once. `processed_at` is set when its effects
    are fully applied; a replay of a processed event changes nothing."""

    provider = models.CharField(max_length=20)
    event_id = models.CharField(max_length=255)
    type = models.CharField(max_length=100)
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=60, blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    deliveries = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-received_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "event_id"], name="webhook_event_once")
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.type} {self.event_id}"
