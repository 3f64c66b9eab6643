"""Provider webhook events: verified, stored once, applied once.

Endpoints (payments/urls.py): POST /payments/webhooks/stripe/ (signed with
STRIPE_WEBHOOK_SECRET) and POST /payments/webhooks/simulated/ (signed with
SIMULATED_PAYMENTS_SECRET; the simulated checkout page calls `webhook_receive`
directly). Both verify the `Stripe-Signature` header with the Stripe SDK.

Answers: 400 bad signature or malformed event (nothing stored, nothing changed);
422 a signed event that does not match our records (tampered metadata, another
customer's reservation or session, wrong amount or currency) — stored as refused, nothing
confirmed; 200 otherwise, including replays ("duplicate": nothing changes); 503 when
the booking database was busy (the provider retries).

An event is marked processed only after its effects are applied, so a crash halfway
is finished by the provider's retry; every step (capture, confirm, settle, refund) is
itself idempotent, so a retry never applies anything twice.
"""

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import stripe
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from autodoctor.booking import services as booking
from autodoctor.errors import Busy, DomainError, SlotUnavailable

from ..models import Payment, PaymentStatus, Refund, RefundDestination, RefundStatus, WebhookEvent
from ..providers import provider_for
from . import refunds
from .checkout import booking_confirm, checkout_metadata
from .state import payment_transition

log = logging.getLogger("autodoctor.payments")

WEBHOOK_TOLERANCE_SECONDS = 300  # the Stripe SDK's default: older signatures are refused


class WebhookRejected(DomainError):
    status = 400
    code = "webhook_rejected"


@dataclass(frozen=True)
class WebhookResult:
    status: int
    outcome: str
    event_id: str = ""
    duplicate: bool = False


@dataclass(frozen=True)
class _Outcome:
    outcome: str
    status: int = 200


def _signature_timestamp(header: str) -> int:
    """The `t=` of a verified Stripe-Signature header ("t=1700000000,v1=…")."""
    for item in header.split(","):
        key, _sep, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            return int(value)
    return 0


def webhook_receive(
    *, provider_name: str, payload: bytes, signature: str | None, now: datetime | None = None
) -> WebhookResult:
    provider = provider_for(provider_name)
    try:
        # The SDK refuses signatures older than the tolerance; not ones from the future.
        stripe.WebhookSignature.verify_header(
            payload, signature, provider.webhook_secret, WEBHOOK_TOLERANCE_SECONDS
        )
    except (stripe.SignatureVerificationError, UnicodeDecodeError) as exc:
        raise WebhookRejected(
            _("The webhook signature does not verify."), code="bad_signature"
        ) from exc
    signed_at = _signature_timestamp(signature or "")
    if signed_at - (now or timezone.now()).timestamp() > WEBHOOK_TOLERANCE_SECONDS:
        raise WebhookRejected(
            _("The webhook signature's timestamp is in the future."), code="bad_signature"
        )
    try:
        event = json.loads(payload)
        event_id, event_type = str(event["id"]), str(event["type"])
        obj = event["data"]["object"]
        if not isinstance(obj, dict):
            raise TypeError("data.object is not an object")
    except (ValueError, KeyError, TypeError) as exc:
        raise WebhookRejected(
            _("The event is not a valid Stripe event."), code="malformed_event"
        ) from exc

    record = _event_store(provider_name, event_id, event_type, event)
    if record.processed_at is not None:
        return WebhookResult(record.http_status or 200, "duplicate", event_id, duplicate=True)
    handler = HANDLERS.get(event_type)
    result = handler(provider_name, obj, now or timezone.now()) if handler else _Outcome("ignored")
    with transaction.atomic(durable=True):
        WebhookEvent.objects.filter(pk=record.pk, processed_at__isnull=True).update(
            processed_at=timezone.now(), outcome=result.outcome[:60], http_status=result.status
        )
    if result.status >= 400:
        log.warning("%s event %s refused: %s", provider_name, event_id, result.outcome)
    return WebhookResult(result.status, result.outcome, event_id)


def _event_store(provider: str, event_id: str, event_type: str, event: dict) -> WebhookEvent:
    with transaction.atomic(durable=True):
        record, created = WebhookEvent.objects.get_or_create(
            provider=provider,
            event_id=event_id,
            defaults={"type": event_type, "payload": event},
        )
        if not created:
            WebhookEvent.objects.filter(pk=record.pk).update(deliveries=F("deliveries") + 1)
        return record


# --------------------------------------------------------------------------- checkout events


def _payment_for_checkout(provider: str, obj: dict[str, Any]) -> Payment | None:
    checkout_id = obj.get("id")
    if not checkout_id:
        return None
    return (
        Payment.objects.select_related("plan", "customer")
        .filter(provider=provider, provider_checkout_id=str(checkout_id))
        .first()
    )


def checkout_mismatch(payment: Payment, obj: dict[str, Any]) -> str | None:
    """Why a signed checkout event does not fit the payment it names, or None.

    The metadata must name this payment, its reservation and its customer; the amount
    and currency must be what we asked for (the plan price when checkout started)."""
    metadata = obj.get("metadata") or {}
    for key, expected in checkout_metadata(payment).items():
        if key != "plan" and str(metadata.get(key, "")) != expected:
            return f"{key}_mismatch"
    if obj.get("amount_total") != payment.amount_cents:
        return "amount_mismatch"
    if str(obj.get("currency", "")).lower() != payment.currency.lower():
        return "currency_mismatch"
    return None


def _checkout_completed(provider: str, obj: dict[str, Any], now: datetime) -> _Outcome:
    payment = _payment_for_checkout(provider, obj)
    if payment is None:
        if (obj.get("metadata") or {}).get("payment_id"):
            return _Outcome("refused_unknown_checkout", 422)
        return _Outcome("ignored_not_ours")  # another integration on the same account
    problem = checkout_mismatch(payment, obj)
    if problem:
        return _Outcome(f"refused_{problem}", 422)
    if obj.get("payment_status") != "paid":
        return _Outcome("awaiting_payment")  # delayed methods: async_payment_succeeded follows
    payment = _payment_capture(
        payment.pk, provider_payment_id=str(obj.get("payment_intent") or ""), now=now
    )
    if payment.status != PaymentStatus.PAID:
        return _Outcome(f"already_{payment.status}")
    return _apply_captured(payment, now=now)


def _payment_capture(payment_id: int, *, provider_payment_id: str, now: datetime) -> Payment:
    with transaction.atomic(durable=True):
        payment = Payment.objects.select_for_update().select_related("customer").get(pk=payment_id)
        if payment.status in (PaymentStatus.PENDING, PaymentStatus.FAILED):
            payment_transition(
                payment, PaymentStatus.PAID, now=now, provider_payment_id=provider_payment_id
            )
        return payment


def _apply_captured(payment: Payment, *, now: datetime) -> _Outcome:
    """Confirm the booking the money was for (or publish the start-now session); if that
    is no longer possible, refund. A hold that expired meanwhile is revived by
    reservation_confirm when the slot is still free; when someone else holds it the database refuses (never two sessions
    for one slot) and the customer gets the money back with other free times."""
    try:
        booking_confirm(payment, now=now)
    except Busy:
        raise  # not processed: the provider retries later
    except SlotUnavailable as exc:
        refunds.refund_unconfirmable(
            payment.pk,
            reason="slot_taken",
            detail={"next_free_slots": exc.data.get("next_free_slots", [])},
        )
        return _Outcome("refunded_slot_taken")
    except DomainError as exc:
        refunds.refund_unconfirmable(payment.pk, reason=exc.code, detail={"message": exc.message})
        return _Outcome(f"refunded_{exc.code}")
    payment.refresh_from_db()
    if payment.status == PaymentStatus.PAID:
        # booking_confirm was a no-op: the booking was confirmed (or the start-now request
        # published) with another payment.
        refunds.refund_unconfirmable(payment.pk, reason="already_paid", detail={})
        return _Outcome("refunded_already_paid")
    return _Outcome("confirmed")


def _checkout_expired(provider: str, obj: dict[str, Any], now: datetime) -> _Outcome:
    payment = _payment_for_checkout(provider, obj)
    if payment is None:
        return _Outcome("ignored_not_ours")
    with transaction.atomic(durable=True):
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if payment.status != PaymentStatus.PENDING:
            return _Outcome(f"already_{payment.status}")
        payment_transition(payment, PaymentStatus.FAILED, now=now, outcome="checkout_expired")
    return _Outcome("checkout_expired")


# --------------------------------------------------------------------------- refund events


def _refund_updated(provider: str, obj: dict[str, Any], now: datetime) -> _Outcome:
    """refund.updated / refund.failed: the provider's final word on a refund we sent."""
    refund = (
        Refund.objects.filter(provider_refund_id=str(obj.get("id", "")), payment__provider=provider)
        .select_related("payment")
        .first()
    )
    if refund is None:
        return _Outcome("ignored_unknown_refund")
    status = refunds.PROVIDER_REFUND_STATUS.get(str(obj.get("status")), RefundStatus.SUBMITTED)
    if status == RefundStatus.SUBMITTED:
        return _Outcome("refund_in_progress")
    with transaction.atomic(durable=True):
        Refund.objects.filter(
            pk=refund.pk, status__in=[RefundStatus.PENDING, RefundStatus.SUBMITTED]
        ).update(
            status=status,
            completed_at=now,
            failure_message=str(obj.get("failure_reason") or "")[:300],
        )
    return _Outcome(f"refund_{status}")


def _charge_refunded(provider: str, obj: dict[str, Any], now: datetime) -> _Outcome:
    """charge.refunded: if the provider refunded more than we asked for (a refund made
    in the Stripe dashboard), record the difference so the ledger stays true. A start-now
    request refunded in full before any mechanic took it is withdrawn (nobody works for
    money that was given back)."""
    intent = obj.get("payment_intent")
    payment = (
        Payment.objects.filter(provider=provider, provider_payment_id=str(intent)).first()
        if intent
        else None
    )
    if payment is None:
        return _Outcome("ignored_unknown_charge")
    outcome = _Outcome("refund_already_recorded")
    with transaction.atomic(durable=True):
        payment = refunds.payment_lock(payment.pk)
        external = int(obj.get("amount_refunded") or 0) - refunds.provider_refunded_cents(payment)
        external = min(external, payment.amount_cents - payment.refunded_cents)
        if payment.status in (PaymentStatus.PAID, PaymentStatus.SUCCEEDED) and external > 0:
            refunds.refund_issue(
                payment,
                amount_cents=external,
                destination=RefundDestination.PROVIDER,
                reason="refunded_at_provider",
                done_at_provider=True,
                now=now,
            )
            outcome = _Outcome("refund_recorded")
    if payment.status == PaymentStatus.REFUNDED and payment.reservation_id is None:
        # Checked on every delivery, so a retry finishes what a crash left undone.
        booking.session_cancel_by_system(
            session_id=payment.session_id, reason="The payment was refunded.", now=now
        )
    return outcome


HANDLERS: dict[str, Callable[[str, dict[str, Any], datetime], _Outcome]] = {
    "checkout.session.completed": _checkout_completed,
    "checkout.session.async_payment_succeeded": _checkout_completed,
    "checkout.session.expired": _checkout_expired,
    "checkout.session.async_payment_failed": _checkout_expired,
    "refund.updated": _refund_updated,
    "refund.failed": _refund_updated,
    "charge.refunded": _charge_refunded,
}
