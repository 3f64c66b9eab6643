"""Paying for a session (plan §1.2 payment flows), and settling the payment in the
booking's own confirm transaction.

What is paid for (`Payable`): a held slot of a scheduled booking (by reservation id), or
a "start now" session before it goes out to mechanics (by session id). Paying confirms
the first; it publishes the second (offers to the best matches, plan §1.2: "assignment
after waiver" / "after payment confirmed"). The payee's earning for a start-now session
is written when a mechanic accepts it (`_earning_on_assignment`).

- waiver (free / trial plans): the customer accepts the waiver → confirmed, no charge;
- credits: the price comes off the credit ledger → confirmed;
- card: a provider checkout (Stripe, or the simulated one) → the customer pays there →
  the provider's signed `checkout.session.completed` event (services/webhooks.py) →
  confirmed. Paid after the hold expired: confirmed if the slot is still free,
  otherwise refunded automatically with alternative slots (services/refunds.py).

The hook between booking and payments
-------------------------------------
`booking.services.reservation_confirm` (and `session_publish` for start-now sessions)
owns its durable transaction and is left as is. We call it (`booking_confirm`) with
`payment_reference="payment:<id>"`; it stores the reference on the session and records
"booking.session.confirmed" (or "booking.session.requested") INSIDE that transaction,
which calls `on_booking_event` (registered in PaymentsConfig.ready). The listener
settles the referenced payment right there: debits the credits, records the waiver,
writes the payout earning (for a start-now session: later, when a mechanic accepts it)
and marks the payment succeeded. If settling fails (not enough credits, trial already
used, no payment at all for a start-now session) it raises and the confirmation rolls
back with it — a booking is confirmed if and only if its payment is settled, and no
second transaction can see one without the other.

The listener also closes open card checkouts of a session that was cancelled or
released (`checkouts_close`, after commit), so nobody pays into an automatic refund.
"""

from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from autodoctor.accounts.models import User
from autodoctor.booking import services as booking
from autodoctor.booking.events import session_event_record
from autodoctor.booking.models import (
    OfferKind,
    Reservation,
    ReservationStatus,
    Session,
    SessionEvent,
    SessionStatus,
)
from autodoctor.errors import Conflict, DomainError, InvalidInput

from ..models import (
    CreditEntryKind,
    Payment,
    PaymentMethod,
    PaymentStatus,
    PayoutEntry,
    TaxLine,
    Waiver,
    WaiverKind,
    money_label,
)
from ..policy import TRIAL_PLAN_CODE, WAIVER_TEXT_VERSION, WAIVER_TEXTS
from ..providers import CheckoutRequest, active_provider, provider_for
from ..selectors import (
    Payable,
    credit_balance_cents,
    payable_for,
    payable_refusal,
    trial_available,
)
from ..tax import TaxQuote, customer_tax_quote
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
        "reservation_id": str(payment.reservation_id or ""),
        "customer_id": str(payment.customer_id),
        "session_id": str(payment.session_id),
        "plan": payment.plan.code,
    }


def checkout_expiry(*, hold_expires_at: datetime | None, now: datetime) -> datetime:
    """Align the provider checkout with the hold, within Stripe's 30-minute minimum."""
    return max(hold_expires_at or now, now + CHECKOUT_MIN_LIFETIME)


# --------------------------------------------------------------------------- entry points


def _payable_by_method(
    customer: User, *, free_plan: bool, reservation_id: int | None, session_id: int | None
) -> tuple[Payable, Payment | None]:
    """The customer's payable, refused when its plan does not take this method (the
    waiver is for free plans, credits and cards for paid ones), and its settled payment
    if it has one: asking twice confirms once."""
    payable = payable_for(customer, reservation_id=reservation_id, session_id=session_id)
    if payable.session.plan.is_free != free_plan:
        message = (
            "This plan is paid; pay by card or with credits."
            if free_plan
            else "This plan is free: accept the waiver instead."
        )
        raise InvalidInput(message, field="method")
    settled = Payment.objects.filter(session_id=payable.session.pk, status=S.SUCCEEDED).first()
    return payable, settled


def _check_payable(payable: Payable, *, now: datetime) -> None:
    """Friendly refusal before any money moves (the booking service re-checks under lock)."""
    if (refusal := payable_refusal(payable, now=now)) is not None:
        raise refusal


def _payment_open(
    payable: Payable, *, method: str, quote: TaxQuote | None, **fields: object
) -> Payment:
    """A pending payment with its sales tax lines (copied from the rates in force now,
    so a later rate change never rewrites it). `quote` None = free (waiver)."""
    plan = payable.session.plan
    with transaction.atomic(durable=True):
        payment = Payment.objects.create(
            customer_id=payable.session.customer_id,
            session_id=payable.session.pk,
            reservation=payable.reservation,
            plan=plan,
            method=method,
            amount_cents=quote.total_cents if quote else 0,
            subtotal_cents=quote.subtotal_cents if quote else 0,
            tax_cents=quote.tax_cents if quote else 0,
            tax_province=quote.province if quote else "",
            currency=plan.currency,
            **fields,
        )
        for line in quote.lines if quote else ():
            TaxLine.objects.create(
                payment=payment,
                province=payment.tax_province,
                kind=line.kind,
                rate_bp=line.rate_bp,
                amount_cents=line.amount_cents,
                currency=payment.currency,
            )
        return payment


def _payment_close_failed(payment_id: int, *, outcome: str, detail: dict, now: datetime) -> None:
    with transaction.atomic(durable=True):
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status == S.PENDING:
            payment_transition(
                payment, S.FAILED, now=now, outcome=outcome[:40], outcome_detail=detail
            )


def booking_confirm(payment: Payment, *, now: datetime) -> None:
    """Confirm what the payment is for — the hold, or publish the start-now session —
    carrying the payment's reference; the listener settles the payment inside that
    transaction. Raises the booking's DomainError when that is no longer possible."""
    if payment.reservation_id is None:
        booking.session_publish(
            session_id=payment.session_id,
            customer=payment.customer,
            payment_reference=payment_reference(payment),
            now=now,
        )
    else:
        booking.reservation_confirm(
            reservation_id=payment.reservation_id,
            customer=payment.customer,
            payment_reference=payment_reference(payment),
            now=now,
        )


def _confirm_with(payment: Payment, *, now: datetime) -> Payment:
    """Confirm with this payment; on refusal nothing was charged."""
    try:
        booking_confirm(payment, now=now)
    except DomainError as exc:
        _payment_close_failed(payment.pk, outcome=exc.code, detail=exc.data, now=now)
        raise
    payment.refresh_from_db()
    if payment.status != S.SUCCEEDED:  # the booking was confirmed some other way meanwhile
        _payment_close_failed(payment.pk, outcome="already_confirmed", detail={}, now=now)
        raise Conflict(_("This booking is already confirmed."), code="already_confirmed")
    return payment


def payment_with_waiver(
    *,
    customer: User,
    accepted: bool,
    reservation_id: int | None = None,
    session_id: int | None = None,
    text_version: str = WAIVER_TEXT_VERSION,
    now: datetime | None = None,
) -> Payment:
    """Free / trial plans: the customer accepts the waiver and the booking is confirmed
    (a start-now session goes out to mechanics) with no charge. A trial can be used once
    (database-enforced)."""
    now = now or timezone.now()
    payable, settled = _payable_by_method(
        customer, free_plan=True, reservation_id=reservation_id, session_id=session_id
    )
    if settled is not None:
        return settled
    plan = payable.session.plan
    if not accepted:
        raise InvalidInput(_("Accept the waiver to book a free session."), field="waiver_accepted")
    if text_version not in WAIVER_TEXTS:
        raise InvalidInput(_("Unknown waiver version; reload the page."), field="waiver_version")
    _check_payable(payable, now=now)
    if plan.code == TRIAL_PLAN_CODE and not trial_available(customer):
        raise TrialAlreadyUsed(_("You have already used your trial session."))
    payment = _payment_open(
        payable, method=PaymentMethod.WAIVER, quote=None, waiver_text_version=text_version
    )
    return _confirm_with(payment, now=now)


def payment_with_credits(
    *,
    customer: User,
    reservation_id: int | None = None,
    session_id: int | None = None,
    now: datetime | None = None,
) -> Payment:
    """Pay the plan price from the customer's credits; debited atomically with the
    confirmation (two bookings racing for the last credits: exactly one wins)."""
    now = now or timezone.now()
    payable, settled = _payable_by_method(
        customer, free_plan=False, reservation_id=reservation_id, session_id=session_id
    )
    if settled is not None:
        return settled
    _check_payable(payable, now=now)
    plan = payable.session.plan
    quote = customer_tax_quote(customer, plan.price_cents, now=now)
    balance = credit_balance_cents(customer)
    if balance < quote.total_cents:
        raise credits.InsufficientCredits(
            _(
                "Not enough credits: you have %(money_label_balance_plan_curre)s, this plan costs %(money_label_quote_total_cents)s with tax."
            )
            % {
                "money_label_balance_plan_curre": money_label(balance, plan.currency),
                "money_label_quote_total_cents": money_label(quote.total_cents, plan.currency),
            },
            balance_cents=balance,
            needed_cents=quote.total_cents,
        )
    payment = _payment_open(payable, method=PaymentMethod.CREDITS, quote=quote)
    return _confirm_with(payment, now=now)


def _checkout_wording(payable: Payable) -> tuple[str, str]:
    """Product name and description shown on the provider's checkout page."""
    session, plan = payable.session, payable.session.plan
    kind = f"{plan.duration_minutes}-minute {session.get_type_display().lower()} session"
    if payable.reservation is None:
        return f"{plan.name}, start now", f"{kind} with the first matched mechanic to accept"
    return f"{plan.name} with {payable.reservation.mechanic.user}", kind


def payment_checkout_start(
    *,
    customer: User,
    reservation_id: int | None = None,
    session_id: int | None = None,
    now: datetime | None = None,
) -> Payment:
    """Open a card checkout with the active provider and return the pending payment
    (its `checkout_url` is where the customer pays). An open checkout for the same hold
    or session is reused, so pressing "pay by card" twice does not open two."""
    now = now or timezone.now()
    payable, settled = _payable_by_method(
        customer, free_plan=False, reservation_id=reservation_id, session_id=session_id
    )
    if settled is not None:
        return settled
    _check_payable(payable, now=now)
    plan = payable.session.plan
    provider = active_provider()
    reusable = Payment.objects.filter(
        session=payable.session,
        reservation=payable.reservation,
        method=PaymentMethod.CARD,
        status=S.PENDING,
        provider=provider.name,
        checkout_expires_at__gt=now + REUSE_CHECKOUT_MARGIN,
    ).exclude(checkout_url="")
    if (open_payment := reusable.first()) is not None:
        return open_payment
    payment = _payment_open(
        payable,
        method=PaymentMethod.CARD,
        quote=customer_tax_quote(customer, plan.price_cents, now=now),
        provider=provider.name,
    )
    hold_expires_at = payable.reservation.expires_at if payable.reservation else None
    expires_at = checkout_expiry(hold_expires_at=hold_expires_at, now=now)
    product_name, product_description = _checkout_wording(payable)
    if taxes := ", ".join(str(line) for line in payment.tax_lines.all()):
        product_description = f"{product_description}; includes {taxes}"
    try:
        if payable.is_start_now:
            # Before the provider is asked: the unpaid sweep must not cancel the request
            # while the customer can still pay, and a request closed meanwhile gets no
            # checkout at all (SessionClosed here).
            booking.session_keep_unpaid_until(session_id=payable.session.pk, until=expires_at)
        created = provider.checkout_create(
            CheckoutRequest(
                amount_cents=payment.amount_cents,
                currency=payment.currency,
                product_name=product_name,
                product_description=product_description,
                customer_email=customer.email,
                metadata=checkout_metadata(payment),
                expires_at=expires_at,
                success_url=settings.SITE_URL + reverse("payments:receipt", args=[payment.pk]),
                cancel_url=settings.SITE_URL + payment.checkout_page_url,
                idempotency_key=f"autodoctor-checkout-{payment.pk}",
            )
        )
    except DomainError as exc:  # the provider refused, or the request closed meanwhile
        _payment_close_failed(payment.pk, outcome=exc.code, detail={}, now=now)
        raise
    with transaction.atomic(durable=True):
        Payment.objects.filter(pk=payment.pk).update(
            provider_checkout_id=created.checkout_id,
            checkout_url=created.url,
            checkout_expires_at=expires_at,
        )
    if not _still_payable(payable, now=now):
        # Cancelled or released while the provider was opening the checkout (another
        # tab): the cancel saw no checkout to close, so close it here, unpaid.
        checkouts_close(payable.session.pk, now=now)
        raise Conflict(
            _("This booking was closed while the payment page was opening; nothing was charged."),
            code="session_closed",
        )
    payment.refresh_from_db()
    return payment


def _still_payable(payable: Payable, *, now: datetime) -> bool:
    """Re-checked under the session lock, after the checkout id is saved: a cancel that
    committed first is seen here, one that commits later sees the checkout and closes
    it (on_booking_event), so no order leaves a payable checkout for a closed booking."""
    with transaction.atomic(durable=True):
        session = Session.objects.select_for_update().get(pk=payable.session.pk)
        reservation = (
            Reservation.objects.get(pk=payable.reservation.pk) if payable.reservation else None
        )
        return payable_refusal(Payable(session, reservation), now=now) is None


def reservation_pay_and_confirm(
    *,
    customer: User,
    reservation_id: int,
    waiver_accepted: bool = False,
    use_credits: bool = False,
    now: datetime | None = None,
) -> None:
    """The booking API's "confirm this hold" (PUT /api/slots/confirm): free plans need
    the waiver accepted, paid plans pay with credits when asked, otherwise a card
    checkout is opened and the answer is 402 with its URL (the booking confirms when
    the provider reports the payment)."""
    payable = payable_for(customer, reservation_id=reservation_id)
    if payable.session.plan.is_free:
        payment_with_waiver(
            customer=customer, accepted=waiver_accepted, reservation_id=reservation_id, now=now
        )
    elif use_credits:
        payment_with_credits(customer=customer, reservation_id=reservation_id, now=now)
    else:
        payment = payment_checkout_start(customer=customer, reservation_id=reservation_id, now=now)
        if payment.status != S.SUCCEEDED:
            raise PaymentRequired(
                _(
                    "This plan is paid: complete the card checkout (or pay with credits) to confirm."
                ),
                checkout_url=payment.checkout_url,
                payment_id=payment.pk,
                amount_cents=payment.amount_cents,
                currency=payment.currency,
            )


# --------------------------------------------------------------------------- the listener


SETTLING_MODES = frozenset({"scheduled_request", "immediate"})
# After these nobody can pay for the session any more (an expired hold can still be paid:
# the late-payment rule takes the slot if it is free).
CHECKOUT_CLOSING_ACTIONS = frozenset(
    {
        "booking.session.cancelled",
        "booking.session.hold_released",
        "booking.session.request_declined",
    }
)


def on_booking_event(event: SessionEvent) -> None:
    """Called by booking.events inside the transaction of every booking change."""
    if event.action in CHECKOUT_CLOSING_ACTIONS and _open_checkouts(event.session_id).exists():
        transaction.on_commit(partial(checkouts_close, event.session_id), robust=True)
    if event.action == "booking.session.confirmed" or (
        event.action == "booking.session.requested" and event.data.get("mode") in SETTLING_MODES
    ):
        _settle_confirmation(event)
    elif event.action == "booking.offer.accepted" and event.data.get("kind") != OfferKind.REQUEST:
        _earning_on_assignment(event)
    elif event.action in refunds.REFUND_ACTIONS:
        refunds.refund_for_cancellation(event)


def _open_checkouts(session_id: int):
    return Payment.objects.filter(
        session_id=session_id, method=PaymentMethod.CARD, status=S.PENDING
    ).exclude(provider_checkout_id="")


def checkouts_close(session_id: int, *, now: datetime | None = None) -> int:
    """Close the open card checkouts of a session nobody can pay for any more (cancelled,
    hold released), so a customer with the payment page still open in another tab is
    not charged and then refunded. Runs after the cancelling commit (network calls). A
    checkout the provider will not close (just paid) is left to the webhook, which
    refunds it. Returns how many were closed."""
    now = now or timezone.now()
    closed = 0
    for payment in _open_checkouts(session_id):
        try:
            provider_for(payment.provider).checkout_expire(payment.provider_checkout_id)
        except DomainError:
            continue
        _payment_close_failed(payment.pk, outcome="checkout_closed", detail={}, now=now)
        closed += 1
    return closed


def checkouts_close_stranded(*, now: datetime | None = None) -> int:
    """Periodic retry of `checkouts_close`: checkouts still open (and not yet run out)
    for sessions nobody may pay any more, e.g. because the provider could not be
    reached when the session was cancelled. Returns how many were closed."""
    now = now or timezone.now()
    stranded = (
        Payment.objects.filter(
            method=PaymentMethod.CARD, status=S.PENDING, checkout_expires_at__gt=now
        )
        .exclude(provider_checkout_id="")
        .filter(
            Q(session__status=SessionStatus.CANCELLED)
            | Q(reservation__status=ReservationStatus.RELEASED)
        )
        .values_list("session_id", flat=True)
        .distinct()
    )
    return sum(checkouts_close(session_id, now=now) for session_id in list(stranded[:100]))


def _earning_on_assignment(event: SessionEvent) -> None:
    """A paid start-now session was taken by a mechanic: now the payee is known, so the
    earning is written (in the accepting transaction; at most once per payment). Money
    already given back before that (a partial refund at the provider) gets its reversal
    now, so the ledger nets to what the customer finally paid."""
    payment = (
        Payment.objects.select_for_update()
        .select_related("session", "plan")
        .filter(session_id=event.session_id, status=S.SUCCEEDED)
        .first()
    )
    if payment is None or PayoutEntry.objects.filter(payment=payment).exists():
        return
    if payouts.payout_record_earning(payment) is not None:
        for refund in payment.refunds.order_by("pk"):
            payouts.payout_record_reversal(refund)


def _settle_confirmation(event: SessionEvent) -> None:
    session = event.session
    reference = str((session.metadata or {}).get("payment_reference", ""))
    if not reference.startswith(PAYMENT_REFERENCE_PREFIX):
        if event.data.get("mode") == "immediate":
            # Nobody is offered an unpaid start-now session (plan §1.2), whoever asks.
            raise PaymentRequired(
                _("A start-now session goes out to mechanics only once it is paid for."),
                session_id=session.pk,
            )
        return  # confirmed without a payment of ours (e.g. an admin tool): nothing to settle
    payment_id = reference.removeprefix(PAYMENT_REFERENCE_PREFIX)
    payment = (
        Payment.objects.select_for_update()
        .select_related("plan", "session", "customer")
        .filter(pk=int(payment_id) if payment_id.isdigit() else 0, session_id=session.pk)
        .first()
    )
    if payment is None or payment.reservation_id != event.data.get("reservation_id"):
        raise Conflict(_("This payment does not belong to this booking."), code="payment_mismatch")
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
            _("This payment is %(payment_status)s; it cannot confirm the booking.")
            % {"payment_status": payment.status},
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
            raise TrialAlreadyUsed(_("You have already used your trial session.")) from exc
        raise
