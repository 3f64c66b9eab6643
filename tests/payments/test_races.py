"""Races with real threads against the real database (SQLite file and PostgreSQL):
database (SQLite file and PostgreSQL). STYLE: the canary first shows the race exists
when credits are read and written without the account lock; with the payment service
exactly one booking wins and the other is refused and rolled back."""

import threading
from collections import Counter
from datetime import timedelta

import pytest

from autodoctor.booking.models import Reservation, ReservationStatus, SessionStatus
from autodoctor.payments.models import CreditAccount, CreditEntry, Payment, PaymentStatus
from autodoctor.payments.services import checkout, credits
from tests.factories import UserFactory
from tests.racing import race

from .conftest import SLOT, later

pytestmark = [pytest.mark.race, pytest.mark.django_db(transaction=True)]

ADVICE = 2999


@pytest.fixture
def two_holds(buyer, mechanic, hold):
    admin = UserFactory(role="admin", is_staff=True, is_superuser=True)
    credits.credits_grant(customer=buyer, amount_cents=ADVICE + 1, note="", granted_by=admin)
    return [hold(buyer, mechanic), hold(buyer, mechanic, start=SLOT + timedelta(hours=2))]


def test_canary_reading_and_writing_credits_without_the_lock_pays_twice(buyer, two_holds):
    """A check-then-write debit: both clients see enough credit, both write their new
    balance, and two sessions are paid with credit for one (a lost update)."""
    account = CreditAccount.objects.get(customer=buyer)
    both_read = threading.Barrier(2)

    def naive_debit(i: int) -> None:
        balance = CreditAccount.objects.get(pk=account.pk).balance_cents
        both_read.wait(30)
        if balance < ADVICE:
            raise credits.InsufficientCredits("not enough")
        CreditAccount.objects.filter(pk=account.pk).update(balance_cents=balance - ADVICE)

    outcomes = race(2, naive_debit)
    assert outcomes == Counter({"ok": 2}), outcomes
    assert CreditAccount.objects.get(pk=account.pk).balance_cents == 1  # paid once, used twice


def test_two_bookings_with_credit_for_one_exactly_one_succeeds(buyer, two_holds, monkeypatch):
    # Both clients pass the friendly balance check before either debits: the window a
    # check-then-debit design leaves open. The debit under the row lock must close it.
    both_checked = threading.Barrier(2)
    real_balance = checkout.credit_balance_cents

    def check_then_wait(customer):
        balance = real_balance(customer)
        both_checked.wait(30)
        return balance

    monkeypatch.setattr(checkout, "credit_balance_cents", check_then_wait)
    outcomes = race(
        2,
        lambda i: checkout.payment_with_credits(
            reservation_id=two_holds[i].pk, customer=buyer, now=later(1)
        ),
    )
    assert outcomes == Counter({"ok": 1, "InsufficientCredits": 1}), outcomes
    assert CreditAccount.objects.get(customer=buyer).balance_cents == 1
    assert CreditEntry.objects.filter(kind="debit").count() == 1
    confirmed = Reservation.objects.filter(status=ReservationStatus.CONFIRMED)
    assert confirmed.count() == 1
    loser = Reservation.objects.exclude(pk=confirmed.get().pk).get()
    assert loser.status == ReservationStatus.RESERVED
    assert loser.session.status == SessionStatus.PENDING
    statuses = Counter(Payment.objects.values_list("status", flat=True))
    assert statuses == Counter({PaymentStatus.SUCCEEDED: 1, PaymentStatus.FAILED: 1})


def test_one_event_delivered_five_times_at_once_confirms_once(
    buyer, mechanic, hold, stripe_on, time_machine
):
    """Stripe may deliver an event again while the first delivery is still running."""
    from django.test import Client

    from autodoctor.booking.models import SessionEvent
    from autodoctor.payments.models import PayoutEntry, WebhookEvent

    from .conftest import completed_checkout, post_webhook, signed_event

    reservation = hold(buyer, mechanic)
    payment = checkout.payment_checkout_start(
        reservation_id=reservation.pk, customer=buyer, now=later(1)
    )
    time_machine.move_to(later(5), tick=True)
    payload, header = signed_event("checkout.session.completed", completed_checkout(payment))
    statuses: list[int] = []

    def deliver(i: int) -> None:
        statuses.append(post_webhook(Client(enforce_csrf_checks=True), payload, header).status_code)

    outcomes = race(5, deliver)
    assert outcomes == Counter({"ok": 5}), outcomes
    assert statuses == [200] * 5
    assert (
        SessionEvent.objects.filter(
            session_id=payment.session_id, action="booking.session.confirmed"
        ).count()
        == 1
    )
    assert PayoutEntry.objects.count() == 1
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.SUCCEEDED
    assert WebhookEvent.objects.get().deliveries == 5
