"""The cancellation refund policy: decided once (payments/policy.py), applied once (the
booking-event listener), whoever cancels and through whichever door (service, API,
admin). Card money goes back through the provider; the ledger gets reversal rows."""

from datetime import timedelta

import pytest

from autodoctor.booking import services as booking
from autodoctor.booking.models import Offer, OfferKind, ReservationStatus, SessionStatus
from autodoctor.payments.models import (
    CreditAccount,
    CreditEntry,
    Payment,
    PaymentStatus,
    PayoutEntry,
    Refund,
    RefundDestination,
    RefundStatus,
)
from autodoctor.payments.policy import refund_decision
from autodoctor.payments.services import checkout, credits
from autodoctor.payments.services.simulated import simulated_checkout_finish
from tests.factories import MechanicFactory, UserFactory, weekly_hours

from .conftest import SLOT, later

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]

ADVICE = 2999
CANCEL = "booking.session.cancelled"


@pytest.mark.parametrize(
    ("action", "by", "hours", "percent", "to_original"),
    [
        (CANCEL, "customer", 48, 100, True),
        (CANCEL, "customer", 24, 100, True),
        (CANCEL, "customer", 23.9, 50, False),
        (CANCEL, "customer", 0.5, 50, False),
        (CANCEL, "customer", None, 100, True),
        (CANCEL, "mechanic", 1, 100, True),
        (CANCEL, "admin", 1, 100, True),
        (CANCEL, "workshop", 1, 100, True),
        ("booking.session.request_declined", None, 30, 100, True),
    ],
)
def test_the_refund_policy(action, by, hours, percent, to_original):
    decision = refund_decision(action=action, cancelled_by=by, hours_before_start=hours)
    assert (decision.percent, decision.to_original) == (percent, to_original)


@pytest.fixture
def admin(db):
    return UserFactory(role="admin", is_staff=True, is_superuser=True)


@pytest.fixture
def paid_by_card(buyer, mechanic, hold, django_capture_on_commit_callbacks):
    """A booking paid by card through the simulated provider."""
    reservation = hold(buyer, mechanic)
    payment = checkout.payment_checkout_start(
        reservation_id=reservation.pk, customer=buyer, now=later(1)
    )
    simulated_checkout_finish(
        checkout_id=payment.provider_checkout_id, customer=buyer, outcome="pay", now=later(2)
    )
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    return payment


@pytest.fixture
def paid_by_credits(buyer, mechanic, hold, admin):
    credits.credits_grant(customer=buyer, amount_cents=ADVICE, note="", granted_by=admin)
    reservation = hold(buyer, mechanic)
    return checkout.payment_with_credits(
        reservation_id=reservation.pk, customer=buyer, now=later(1)
    )


def _ledger(payment) -> tuple[int, int, int]:
    rows = PayoutEntry.objects.filter(payment=payment)
    return (
        sum(r.gross_cents for r in rows),
        sum(r.payee_cents for r in rows),
        sum(r.platform_cents for r in rows),
    )


def test_customer_cancelling_a_day_ahead_gets_the_card_payment_back(
    paid_by_card, buyer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        booking.session_cancel(session_id=paid_by_card.session_id, user=buyer, now=later(10))
    paid_by_card.refresh_from_db()
    assert paid_by_card.status == PaymentStatus.REFUNDED and paid_by_card.refunded_cents == ADVICE
    refund = Refund.objects.get()
    assert refund.destination == RefundDestination.PROVIDER
    assert refund.status == RefundStatus.SUCCEEDED and refund.provider_refund_id.startswith(
        "re_sim_"
    )
    assert refund.reason == "customer_cancelled_early"
    assert _ledger(paid_by_card) == (0, 0, 0)  # earning + reversal net to zero
    assert PayoutEntry.objects.filter(kind="reversal").count() == 1


def test_customer_cancelling_late_gets_half_as_credits(paid_by_card, buyer):
    booking.session_cancel(
        session_id=paid_by_card.session_id, user=buyer, now=SLOT - timedelta(hours=3)
    )
    paid_by_card.refresh_from_db()
    assert paid_by_card.status == PaymentStatus.SUCCEEDED  # half of it stays paid
    assert paid_by_card.refunded_cents == 1499
    refund = Refund.objects.get()
    assert (refund.destination, refund.amount_cents) == (RefundDestination.CREDITS, 1499)
    assert CreditAccount.objects.get(customer=buyer).balance_cents == 1499
    assert CreditEntry.objects.get().kind == "refund"
    # the retained half is still split 70/30; the refunded half is reversed
    assert _ledger(paid_by_card) == (1500, 1050, 450)


def test_the_mechanic_cancelling_refunds_everything(paid_by_card, mechanic):
    booking.session_cancel(
        session_id=paid_by_card.session_id,
        user=mechanic.user,
        reason="Family emergency",
        now=SLOT - timedelta(hours=1),
    )
    refund = Refund.objects.get()
    assert (refund.amount_cents, refund.destination, refund.reason) == (
        ADVICE,
        RefundDestination.PROVIDER,
        "mechanic_cancelled",
    )


def test_credits_payments_are_refunded_as_credits(paid_by_credits, buyer):
    booking.session_cancel(session_id=paid_by_credits.session_id, user=buyer, now=later(10))
    paid_by_credits.refresh_from_db()
    assert paid_by_credits.status == PaymentStatus.REFUNDED
    assert CreditAccount.objects.get(customer=buyer).balance_cents == ADVICE
    assert [e.kind for e in CreditEntry.objects.order_by("pk")] == ["grant", "debit", "refund"]


def test_a_declined_request_is_refunded_in_full(buyer, hold, admin):
    reviewer = MechanicFactory(settings__allow_instant_booking=False)
    weekly_hours(reviewer)
    credits.credits_grant(customer=buyer, amount_cents=ADVICE, note="", granted_by=admin)
    reservation = hold(buyer, reviewer)
    payment = checkout.payment_with_credits(
        reservation_id=reservation.pk, customer=buyer, now=later(1)
    )
    assert payment.status == PaymentStatus.SUCCEEDED  # paid when the request is made
    reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.CONFIRMED
    assert reservation.session.status == SessionStatus.PENDING  # waits for the mechanic
    offer = Offer.objects.get(session_id=reservation.session_id, kind=OfferKind.REQUEST)
    booking.offer_decline(offer_id=offer.pk, mechanic=reviewer, now=later(5))
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED
    assert Refund.objects.get().reason == "request_declined"
    assert CreditAccount.objects.get(customer=buyer).balance_cents == ADVICE


def test_the_api_cancel_applies_the_same_policy(login, paid_by_credits, buyer, time_machine):
    time_machine.move_to(later(10), tick=False)
    response = login(buyer).post(
        f"/api/sessions/{paid_by_credits.session_id}/cancel", {}, content_type="application/json"
    )
    assert response.status_code == 200
    assert Refund.objects.get().reason == "customer_cancelled_early"


def test_the_admin_action_cancels_and_applies_the_same_policy(login, admin, paid_by_card):
    response = login(admin).post(
        "/admin/payments/payment/",
        {"action": "cancel_sessions_with_refund_policy", "_selected_action": [paid_by_card.pk]},
    )
    assert response.status_code == 302
    paid_by_card.refresh_from_db()
    assert paid_by_card.session.status == SessionStatus.CANCELLED
    refund = Refund.objects.get()
    assert refund.reason == "admin_cancelled" and refund.amount_cents == ADVICE


def test_cancelling_twice_refunds_once(paid_by_credits, buyer):
    booking.session_cancel(session_id=paid_by_credits.session_id, user=buyer, now=later(10))
    with pytest.raises(Exception):  # noqa: B017 - the state machine refuses; which error is booking's
        booking.session_cancel(session_id=paid_by_credits.session_id, user=buyer, now=later(11))
    assert Refund.objects.count() == 1


def test_an_unpaid_hold_cancelled_refunds_nothing(buyer, mechanic, hold):
    reservation = hold(buyer, mechanic)
    booking.session_cancel(session_id=reservation.session_id, user=buyer, now=later(1))
    assert not Refund.objects.exists() and not Payment.objects.exists()
