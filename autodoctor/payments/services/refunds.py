"""Refunds: the cancellation policy (payments/policy.py) applied once, for every caller.

Cancellation goes through booking.services.session_cancel / offer_decline whoever asks
(customer page, API, mechanic, admin); they record "booking.session.cancelled" or
"booking.session.request_declined" in their transaction and our listener calls
`refund_for_cancellation` there. The refund row, the credits given back, the voided
trial and the payout reversal are written in that same transaction; the provider is
asked to move card money only after it commits (`refund_send`, retried by
tasks.refunds_retry until the provider accepts).
"""

import logging
from datetime import datetime
from functools import partial

from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from autodoctor.booking.events import session_event_record
from autodoctor.booking.models import Session, SessionEvent
from autodoctor.errors import DomainError

from ..models import (
    CreditEntryKind,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Refund,
    RefundDestination,
    RefundStatus,
    TaxLine,
    Waiver,
)
from ..policy import TRIAL_PLAN_CODE, RefundDecision, refund_decision
from ..providers import provider_for
from ..tax import refund_tax_split
from . import credits, payouts
from .state import payment_transition

log = logging.getLogger("autodoctor.payments")

REFUND_ACTIONS = frozenset({"booking.session.cancelled", "booking.session.request_declined"})
PROVIDER_REFUND_STATUS = {
    "succeeded": RefundStatus.SUCCEEDED,
    "failed": RefundStatus.FAILED,
    "canceled": RefundStatus.FAILED,
}


def refund_for_cancellation(event: SessionEvent) -> Refund | None:
    """Apply the refund policy to the session's settled payment. Precondition: runs in
    the cancelling transaction (booking event listener)."""
    payment = (
        Payment.objects.select_for_update()
        .select_related("session", "customer")
        .filter(session_id=event.session_id, status=PaymentStatus.SUCCEEDED)
        .first()
    )
    if payment is None:
        return None
    decision = refund_decision(
        action=event.action,
        cancelled_by=event.data.get("by"),
        hours_before_start=event.data.get("hours_before_start"),
        mechanic_no_show=bool(event.data.get("mechanic_no_show")),
        customer_no_show=bool(event.data.get("customer_no_show")),
    )
    outcome = refund_outcome(payment, decision)
    if outcome is None:
        return None
    amount, destination = outcome
    return refund_issue(
        payment, amount_cents=amount, destination=destination, reason=decision.reason
    )


def refund_outcome(payment: Payment, decision: RefundDecision) -> tuple[int, str] | None:
    """(amount, destination) the decision gives back for this payment, or None for
    nothing. The cancel page's preview (selectors.refund_preview) reads the same."""
    if payment.method == PaymentMethod.WAIVER:
        if decision.percent < 100 or not decision.to_original:
            return None  # a trial cancelled late stays used
        return 0, RefundDestination.WAIVER
    amount = decision.amount_cents(payment.amount_cents - payment.refunded_cents)
    if amount <= 0:
        return None
    to_card = decision.to_original and payment.method == PaymentMethod.CARD
    return amount, RefundDestination.PROVIDER if to_card else RefundDestination.CREDITS


def refund_issue(
    payment: Payment,
    *,
    amount_cents: int,
    destination: str,
    reason: str,
    detail: dict | None = None,
    done_at_provider: bool = False,
    now: datetime | None = None,
) -> Refund:
    """Record a refund and everything that goes with it, in the caller's transaction:
    credits given back, trial voided, payout reversal, the payment's refunded amount and
    status, and a "payments.payment.refunded" session event (notifications read it).
    Card money is sent after commit. Precondition: the caller holds the payment lock."""
    now = now or timezone.now()
    settled_now = destination != RefundDestination.PROVIDER or done_at_provider
    tax_back = _tax_given_back(payment, amount_cents)
    refund = Refund.objects.create(
        payment=payment,
        amount_cents=amount_cents,
        tax_cents=-sum(tax_back.values()),
        destination=destination,
        reason=reason[:40],
        status=RefundStatus.SUCCEEDED if settled_now else RefundStatus.PENDING,
        completed_at=now if settled_now else None,
    )
    charged = {line.kind: line for line in payment.tax_lines.filter(refund__isnull=True)}
    for kind, cents in tax_back.items():
        TaxLine.objects.create(
            payment=payment,
            refund=refund,
            province=charged[kind].province,
            kind=kind,
            rate_bp=charged[kind].rate_bp,
            amount_cents=cents,
            currency=payment.currency,
        )
    if destination == RefundDestination.CREDITS:
        credits.credits_move(
            customer=payment.customer,
            delta_cents=amount_cents,
            kind=CreditEntryKind.REFUND,
            payment=payment,
            refund=refund,
            note=f"Refund for session #{payment.session_id} ({reason})",
        )
    if destination == RefundDestination.WAIVER:
        Waiver.objects.filter(payment=payment, voided_at__isnull=True).update(voided_at=now)
    payment.refunded_cents += amount_cents
    fields: dict[str, object] = {"refunded_cents": payment.refunded_cents}
    if detail is not None:
        fields["outcome"] = reason[:40]
        fields["outcome_detail"] = detail
    if payment.refunded_cents >= payment.amount_cents:
        payment_transition(payment, PaymentStatus.REFUNDED, now=now, **fields)
    else:
        for name, value in fields.items():
            setattr(payment, name, value)
        payment.save(update_fields=list(fields))
    payouts.payout_record_reversal(refund)
    session_event_record(
        session=payment.session,
        action="payments.payment.refunded",
        actor=None,
        data={
            "payment_id": payment.pk,
            "refund_id": refund.pk,
            "amount_cents": amount_cents,
            "currency": payment.currency,
            "destination": destination,
            "reason": reason,
            "trial_restored": destination == RefundDestination.WAIVER
            and payment.plan.code == TRIAL_PLAN_CODE,
            **(detail or {}),
        },
    )
    if refund.status == RefundStatus.PENDING:
        transaction.on_commit(partial(refund_send, refund.pk), robust=True)
    return refund


def _tax_given_back(payment: Payment, amount_cents: int) -> dict[str, int]:
    """Per kind, the (negative) tax a refund of `amount_cents` reverses (payments/tax.py)."""
    if payment.tax_cents <= 0 or amount_cents <= 0:
        return {}
    charged: dict[str, int] = {}
    reversed_before: dict[str, int] = {}
    for line in payment.tax_lines.all():
        if line.refund_id is None:
            charged[line.kind] = charged.get(line.kind, 0) + line.amount_cents
        else:
            reversed_before[line.kind] = reversed_before.get(line.kind, 0) - line.amount_cents
    return refund_tax_split(
        refund_cents=amount_cents,
        amount_cents=payment.amount_cents,
        refunded_before_cents=payment.refunded_cents,
        charged=charged,
        reversed_before=reversed_before,
    )


def payment_lock(payment_id: int) -> Payment:
    """Lock the payment's session row, then the payment row: the order every booking
    change takes (booking locks its session, then the payments listener the payment),
    so a refund webhook and, say, a mechanic accepting never deadlock on PostgreSQL.
    Precondition: inside a transaction."""
    session_id = Payment.objects.values_list("session_id", flat=True).get(pk=payment_id)
    list(Session.objects.select_for_update().filter(pk=session_id).values_list("pk"))
    return (
        Payment.objects.select_for_update().select_related("session", "customer").get(pk=payment_id)
    )


def refund_unconfirmable(payment_id: int, *, reason: str, detail: dict) -> Refund | None:
    """The provider took money for a booking we cannot confirm (the slot was taken
    after the hold expired, the hold was released or the start-now request closed, it
    was paid twice): give it all back."""
    with transaction.atomic(durable=True):
        payment = payment_lock(payment_id)
        if payment.status != PaymentStatus.PAID:
            return None
        return refund_issue(
            payment,
            amount_cents=payment.amount_cents - payment.refunded_cents,
            destination=RefundDestination.PROVIDER,
            reason=reason,
            detail=detail,
        )


def refund_send(refund_id: int) -> Refund:
    """Ask the provider to pay a pending card refund back. Runs outside any transaction
    (network). Safe to repeat: the provider gets the same idempotency key every time."""
    with transaction.atomic(durable=True):
        refund = Refund.objects.select_for_update().select_related("payment").get(pk=refund_id)
        if (
            refund.status != RefundStatus.PENDING
            or refund.destination != RefundDestination.PROVIDER
        ):
            return refund
        Refund.objects.filter(pk=refund.pk).update(attempts=F("attempts") + 1)
    payment = refund.payment
    try:
        result = provider_for(payment.provider).refund_create(
            provider_payment_id=payment.provider_payment_id,
            amount_cents=refund.amount_cents,
            idempotency_key=f"autodoctor-refund-{refund.pk}",
            metadata={"refund_id": str(refund.pk), "payment_id": str(payment.pk)},
        )
    except DomainError as exc:
        log.warning("refund %s not sent yet: %s", refund.pk, exc.message)
        Refund.objects.filter(pk=refund.pk).update(failure_message=exc.message[:300])
        return Refund.objects.get(pk=refund.pk)
    status = PROVIDER_REFUND_STATUS.get(result.status, RefundStatus.SUBMITTED)
    with transaction.atomic(durable=True):
        Refund.objects.filter(pk=refund.pk, status=RefundStatus.PENDING).update(
            provider_refund_id=result.refund_id,
            status=status,
            completed_at=timezone.now() if status != RefundStatus.SUBMITTED else None,
            failure_message="",
        )
    return Refund.objects.get(pk=refund.pk)


def refunds_send_pending() -> int:
    """Retry card refunds the provider has not accepted yet (periodic job)."""
    pending = list(
        Refund.objects.filter(
            status=RefundStatus.PENDING, destination=RefundDestination.PROVIDER
        ).values_list("pk", flat=True)[:100]
    )
    for refund_id in pending:
        refund_send(refund_id)
    return len(pending)


def provider_refunded_cents(payment: Payment) -> int:
    """Card money we have asked the provider to give back for this payment."""
    return (
        payment.refunds.filter(destination=RefundDestination.PROVIDER)
        .exclude(status=RefundStatus.FAILED)
        .aggregate(total=Sum("amount_cents"))["total"]
        or 0
    )
