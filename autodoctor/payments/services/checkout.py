"""Paying for a held session (plan §1.2 payment flows), and settling the payment in the
booking's own confirm transaction.

- waiver (free / trial plans): the customer accepts the waiver → confirmed, no charge;
- credits: the price comes off the credit ledger → confirmed;
- card: a provider checkout (Stripe, or the simulated one) → the customer pays there →
  the provider's signed `checkout.session.completed` event (services/webhooks.py) →
  confirmed. Paid after the hold expired: confirmed if the slot is still free,
  otherwise refunded automatically with alternative slots (services/refunds.py).

The hook between booking and payments
-------------------------------------
`booking.services.reservation_confirm` owns its durable transaction and is left as is.
We call it with `payment_reference="payment:<id>"`; it stores the reference on the
session and records "booking.session.confirmed" (or "booking.session.requested" when
the mechanic reviews requests) INSIDE that transaction, which calls `on_booking_event`
(registered in PaymentsConfig.ready). The listener settles the referenced payment right
there: debits the credits, records the waiver, writes the payout earning and marks the
payment succeeded. If settling fails (not enough credits, trial already used) it
raises and the confirmation rolls back with it — a booking is confirmed if and only if
its payment is settled, and no second transaction can see one without the other.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from autodoctor.accounts.models import User
from autodoctor.booking import services as booking
from autodoctor.booking.events import session_event_record
from autodoctor.booking.models import (
    Reservation,
    ReservationStatus,
    SessionEvent,
    SessionStatus,
)
from autodoctor.errors import Conflict, DomainError, InvalidInput, NotFound

from ..models import (
    CreditEntryKind,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Waiver,
    WaiverKind,
)
from ..policy import TRIAL_PLAN_CODE, WAIVER_TEXT_VERSION, WAIVER_TEXTS
from ..providers import CheckoutRequest, ProviderError, active_provider
from ..selectors import credit_balance_cents, trial_available
from . import credits, payouts, refunds
from .state import payment_transition

PAYMENT_REFERENCE_PREFIX = "payment:"
TRIAL_CONSTRAINT = "waiver_one_trial_per_customer"
# Stripe refuses a Checkout Session that expires sooner than 30 minutes after creation;
# one more minute absorbs clock skew. The hold lasts HOLD_MINUTES (15): a payment that
# lands after the hold expired is handled by the late-payment rule (webhooks.py).
CHECKOUT_MIN_LIFETIME = timedelta(minutes=31)
REUSE_CHECKOUT_MARGIN = timedelta(minutes=2)

S = PaymentStatus


class TrialAlreadyUsed(Conflict):
    code = "trial_already_used"


class PaymentRequired(DomainError):
    status = 402
    code = "payment_required"


def payment_reference(payment: Payment) -> str:
    return f"{PAYMENT_REFERENCE_PREFIX}{payment.pk}"


def checkout_metadata(payment: Payment) -> dict[str, str]:
    """What the provider carries for us and echoes in its events (strings, as Stripe wants)."""
    return {
        "payment_id": str(payment.pk),
        "reservation_id": str(payment.reservation_id),
        "customer_id": str(payment.customer_id),
        "session_id": str(payment.session_id),
        "plan": payment.plan.code,
    }


def checkout_expiry(*, hold_expires_at: datetime | None, now: datetime) -> datetime:
    """Align the provider checkout with the hold, within Stripe's 30-minute minimum."""
    return max(hold_expires_at or now, now + CHECKOUT_MIN_LIFETIME)


# --------------------------------------------------------------------------- entry points


def _access_reservation(reservation_id: int, customer: User) -> Reservation:
    reservation = (
        Reservation.objects.select_related("session__plan", "mechanic__user")
        .filter(pk=reservation_id, session__customer=customer)
        .first()
    )
    if reservation is None:
        raise NotFound("No such reservation.")
    return reservation


def _settled_payment(reservation: Reservation) -> Payment | None:
    return Payment.objects.filter(session_id=reservation.session_id, status=S.SUCCEEDED).first()


def _check_payable(reservation: Reservation, *, now: datetime) -> None:
    """Friendly refusals before any money moves (reservation_confirm re-checks under lock)."""
    if reservation.status == ReservationStatus.CONFIRMED:
        raise Conflict("This booking is already confirmed.", code="already_confirmed")
    if (
        reservation.status == ReservationStatus.RELEASED
        or reservation.session.status != SessionStatus.PENDING
    ):
        raise Conflict("This hold was released; pick a slot again.", code="hold_released")
    if reservation.starts_at <= now:
        raise Conflict("This slot has already started; pick another time.", code="slot_in_past")
    # An expired hold is fine: confirming revives it if the slot is still free.


def _payment_open(
    reservation: Reservation, *, method: str, amount_cents: int, **fields: object
) -> Payment:
    plan = reservation.session.plan
    with transaction.atomic(durable=True):
        return Payment.objects.create(
            customer_id=reservation.session.customer_id,
            session_id=reservation.session_id,
            reservation=reservation,
            plan=plan,
            method=method,
            amount_cents=amount_cents,
            currency=plan.currency,
            **fields,
        )


def _payment_close_failed(payment_id: int, *, outcome: str, detail: dict, now: datetime) -> None:
    with transaction.atomic(durable=True):
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status == S.PENDING:
            payment_transition(
                payment, S.FAILED, now=now, outcome=outcome[:40], outcome_detail=detail
            )


def _confirm_with(payment: Payment, *, now: datetime) -> Payment:
    """Confirm the booking carrying this payment's reference; the listener settles the
    payment inside the confirm transaction. On refusal nothing was charged."""
    try:
        booking.reservation_confirm(
            reservation_id=payment.reservation_id,
            customer=payment.customer,
            payment_reference=payment_reference(payment),
            now=now,
        )
    except DomainError as exc:
        _payment_close_failed(payment.pk, outcome=exc.code, detail=exc.data, now=now)
        raise
    payment.refresh_from_db()
    if payment.status != S.SUCCEEDED:  # the booking was confirmed some other way meanwhile
        _payment_close_failed(payment.pk, outcome="already_confirmed", detail={}, now=now)
        raise Conflict("This booking is already confirmed.", code="already_confirmed")
    return payment


def payment_with_waiver(
    *,
    reservation_id: int,
    customer: User,
    accepted: bool,
    text_version: str = WAIVER_TEXT_VERSION,
    now: datetime | None = None,
) -> Payment:
    """Free / trial plans: the customer accepts the waiver and the booking is confirmed
    with no charge. A trial can be used once (database-enforced)."""
    now = now or timezone.now()
    reservation = _access_reservation(reservation_id, customer)
    plan = reservation.session.plan
    if not plan.is_free:
        raise InvalidInput("This plan is paid; pay by card or with credits.", field="method")
    settled = _settled_payment(reservation)
    if settled is not None:
        return settled  # idempotent: asking twice confirms once
    if not accepted:
        raise InvalidInput("Accept the waiver to book a free session.", field="waiver_accepted")
    if text_version not in WAIVER_TEXTS:
        raise InvalidInput("Unknown waiver version; reload the page.", field="waiver_version")
    _check_payable(reservation, now=now)
    if plan.code == TRIAL_PLAN_CODE and not trial_available(customer):
        raise TrialAlreadyUsed("You have already used your trial session.")
    payment = _payment_open(
        reservation, method=PaymentMethod.WAIVER, amount_cents=0, waiver_text_version=text_version
    )
    return _confirm_with(payment, now=now)


def payment_with_credits(
    *, reservation_id: int, customer: User, now: datetime | None = None
) -> Payment:
    """Pay the plan price from the customer's credits; debited atomically with the
    confirmation (two bookings racing for the last credits: exactly one wins)."""
    now = now or timezone.now()
    reservation = _access_reservation(reservation_id, customer)
    plan = reservation.session.plan
    if plan.is_free:
        raise InvalidInput("This plan is free: accept the waiver instead.", field="method")
    settled = _settled_payment(reservation)
    if settled is not None:
        return settled
    _check_payable(reservation, now=now)
    balance = credit_balance_cents(customer)
    if balance < plan.price_cents:
        raise credits.InsufficientCredits(
            f"Not enough credits: you have ${balance / 100:.2f}, this plan costs {plan.price_label}.",
            balance_cents=balance,
            needed_cents=plan.price_cents,
        )
    payment = _payment_open(
        reservation, method=PaymentMethod.CREDITS, amount_cents=plan.price_cents
    )
    return _confirm_with(payment, now=now)


def payment_checkout_start(
    *, reservation_id: int, customer: User, now: datetime | None = None
) -> Payment:
    """Open a card checkout with the active provider and return the pending payment
    (its `checkout_url` is where the customer pays). An open checkout for the same hold
    is reused, so pressing "pay by card" twice does not open two."""
    now = now or timezone.now()
    reservation = _access_reservation(reservation_id, customer)
    plan = reservation.session.plan
    if plan.is_free:
        raise InvalidInput("This plan is free: accept the waiver instead.", field="method")
    settled = _settled_payment(reservation)
    if settled is not None:
        return settled
    _check_payable(reservation, now=now)
    provider = active_provider()
    reusable = Payment.objects.filter(
        reservation=reservation,
        method=PaymentMethod.CARD,
        status=S.PENDING,
        provider=provider.name,
        checkout_expires_at__gt=now + REUSE_CHECKOUT_MARGIN,
    ).exclude(checkout_url="")
    if (open_payment := reusable.first()) is not None:
        return open_payment
    payment = _payment_open(
        reservation,
        method=PaymentMethod.CARD,
        amount_cents=plan.price_cents,
        provider=provider.name,
    )
    expires_at = checkout_expiry(hold_expires_at=reservation.expires_at, now=now)
    mechanic = reservation.mechanic.user
    try:
        created = provider.checkout_create(
            CheckoutRequest(
                amount_cents=payment.amount_cents,
                currency=payment.currency,
                product_name=f"{plan.name} with {mechanic}",
                product_description=f"{plan.duration_minutes}-minute {reservation.session.get_type_display().lower()} session",
                customer_email=customer.email,
                metadata=checkout_metadata(payment),
                expires_at=expires_at,
                success_url=settings.SITE_URL + reverse("payments:receipt", args=[payment.pk]),
                cancel_url=settings.SITE_URL + reverse("payments:checkout", args=[reservation.pk]),
                idempotency_key=f"autodoctor-checkout-{payment.pk}",
            )
        )
    except ProviderError as exc:
        _payment_close_failed(payment.pk, outcome=exc.code, detail={}, now=now)
        raise
    with transaction.atomic(durable=True):
        Payment.objects.filter(pk=payment.pk).update(
            provider_checkout_id=created.checkout_id,
            checkout_url=created.url,
            checkout_expires_at=expires_at,
        )
    payment.refresh_from_db()
    return payment


def reservation_pay_and_confirm(
    *,
    reservation_id: int,
    customer: User,
    waiver_accepted: bool = False,
    use_credits: bool = False,
    now: datetime | None = None,
) -> Reservation:
    """The API's "confirm this hold": free plans need the waiver accepted, paid plans pay
    with credits when asked, otherwise a card checkout is opened and the answer is 402
    with its URL (the booking confirms when the provider reports the payment)."""
    reservation = _access_reservation(reservation_id, customer)
    if reservation.session.plan.is_free:
        payment_with_waiver(
            reservation_id=reservation_id, customer=customer, accepted=waiver_accepted, now=now
        )
    elif use_credits:
        payment_with_credits(reservation_id=reservation_id, customer=customer, now=now)
    else:
        payment = payment_checkout_start(reservation_id=reservation_id, customer=customer, now=now)
        if payment.status != S.SUCCEEDED:
            raise PaymentRequired(
                "This plan is paid: complete the card checkout (or pay with credits) to confirm.",
                checkout_url=payment.checkout_url,
                payment_id=payment.pk,
                amount_cents=payment.amount_cents,
                currency=payment.currency,
            )
    return Reservation.objects.get(pk=reservation_id)


# --------------------------------------------------------------------------- the listener


def on_booking_event(event: SessionEvent) -> None:
    """Called by booking.events inside the transaction of every booking change."""
    if event.action == "booking.session.confirmed" or (
        event.action == "booking.session.requested"
        and event.data.get("mode") == "scheduled_request"
    ):
        _settle_confirmation(event)
    elif event.action in refunds.REFUND_ACTIONS:
        refunds.refund_for_cancellation(event)


def _settle_confirmation(event: SessionEvent) -> None:
    session = event.session
    reference = str((session.metadata or {}).get("payment_reference", ""))
    if not reference.startswith(PAYMENT_REFERENCE_PREFIX):
        return  # confirmed without a payment of ours (e.g. an admin tool): nothing to settle
    payment_id = reference.removeprefix(PAYMENT_REFERENCE_PREFIX)
    payment = (
        Payment.objects.select_for_update()
        .select_related("plan", "session", "customer")
        .filter(pk=int(payment_id) if payment_id.isdigit() else 0, session_id=session.pk)
        .first()
    )
    if payment is None or payment.reservation_id != event.data.get("reservation_id"):
        raise Conflict("This payment does not belong to this booking.", code="payment_mismatch")
    if payment.method == PaymentMethod.CREDITS and payment.status == S.PENDING:
        credits.credits_move(
            customer=payment.customer,
            delta_cents=-payment.amount_cents,
            kind=CreditEntryKind.DEBIT,
            payment=payment,
            note=f"{payment.plan.name}, session #{session.pk}",
        )
    elif payment.method == PaymentMethod.WAIVER and payment.status == S.PENDING:
        _waiver_record(payment)
    elif not (payment.method == PaymentMethod.CARD and payment.status == S.PAID):
        raise Conflict(
            f"This payment is {payment.status}; it cannot confirm the booking.",
            code="payment_not_settleable",
        )
    payment_transition(payment, S.SUCCEEDED, now=timezone.now())
    payouts.payout_record_earning(payment)
    session_event_record(
        session=session,
        action="payments.payment.succeeded",
        actor=None,
        data={
            "payment_id": payment.pk,
            "method": payment.method,
            "amount_cents": payment.amount_cents,
            "currency": payment.currency,
        },
    )


def _waiver_record(payment: Payment) -> Waiver:
    kind = WaiverKind.TRIAL if payment.plan.code == TRIAL_PLAN_CODE else WaiverKind.FREE
    try:
        with transaction.atomic():
            return Waiver.objects.create(
                customer_id=payment.customer_id,
                session_id=payment.session_id,
                payment=payment,
                kind=kind,
                text_version=payment.waiver_text_version or WAIVER_TEXT_VERSION,
                accepted_at=payment.created_at,
            )
    except IntegrityError as exc:
        # PostgreSQL names the constraint; SQLite names the column of the partial index.
        if TRIAL_CONSTRAINT in str(exc) or "payments_waiver.customer_id" in str(exc):
            raise TrialAlreadyUsed("You have already used your trial session.") from exc
        raise
