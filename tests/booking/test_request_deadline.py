"""Booking requests never hang (issue 18, plan §13.3): a request the mechanic does not
answer by its deadline closes, frees the slot, refunds in full and tells the customer
other free times; answering late is refused."""

from collections import Counter
from datetime import timedelta

import pytest

from autodoctor.booking import services
from autodoctor.booking.models import (
    Offer,
    OfferKind,
    OfferStatus,
    Reservation,
    ReservationStatus,
    SessionStatus,
)
from autodoctor.booking.selectors import offers_visible_to, request_deadline
from autodoctor.errors import Conflict
from autodoctor.notifications.models import Notification
from autodoctor.notifications.rendering import message_render
from autodoctor.payments.models import CreditAccount, Refund, RefundDestination
from autodoctor.payments.services import checkout, credits
from autodoctor.periodic import PERIODIC_TASKS
from tests.factories import MechanicFactory, UserFactory, weekly_hours
from tests.racing import race

from .conftest import NOW, SLOT, later

pytestmark = pytest.mark.django_db

ADVICE = 2999 + 390  # the advice plan's price (CAD cents) with Ontario's 13 % HST
# SLOT is 27 h after NOW: a request sent at NOW must be answered within 24 h (NOW + 24 h),
# earlier than 2 h before its start (NOW + 25 h).
DEADLINE = NOW + timedelta(hours=24)


@pytest.fixture
def reviewer(db):
    """A mechanic who reviews requests (instant booking off), 09:00–17:00 Toronto."""
    mechanic = MechanicFactory(settings__allow_instant_booking=False)
    weekly_hours(mechanic)
    return mechanic


@pytest.fixture
def requested(booking_customer, reviewer, hold, time_machine):
    """A paid (by credits) booking request sent at NOW, waiting for `reviewer`."""
    time_machine.move_to(NOW, tick=False)  # offers are stamped with the clock
    admin = UserFactory(is_staff=True, is_superuser=True)
    credits.credits_grant(customer=booking_customer, amount_cents=ADVICE, note="", granted_by=admin)
    reservation = hold(booking_customer, reviewer)
    checkout.payment_with_credits(reservation_id=reservation.pk, customer=booking_customer, now=NOW)
    return Offer.objects.get(session=reservation.session, kind=OfferKind.REQUEST)


def balance(customer) -> int:
    return CreditAccount.objects.get(customer=customer).balance_cents


def test_the_deadline_is_the_earlier_of_the_response_window_and_the_cutoff(settings):
    sent = NOW
    assert request_deadline(offered_at=sent, starts_at=SLOT) == NOW + timedelta(hours=24)
    soon = NOW + timedelta(hours=10)
    assert request_deadline(offered_at=sent, starts_at=soon) == soon - timedelta(hours=2)
    settings.BOOKING_REQUEST_RESPONSE_HOURS = 4
    settings.BOOKING_REQUEST_CUTOFF_HOURS = 1
    assert request_deadline(offered_at=sent, starts_at=SLOT) == NOW + timedelta(hours=4)
    sooner = NOW + timedelta(hours=3)
    assert request_deadline(offered_at=sent, starts_at=sooner) == sooner - timedelta(hours=1)


def test_an_unanswered_request_closes_at_its_deadline_refunded_and_with_other_times(
    requested, booking_customer, reviewer
):
    session = requested.session
    assert balance(booking_customer) == 0
    assert services.requests_unanswered_expire(now=DEADLINE - timedelta(seconds=1)) == 0
    assert services.requests_unanswered_expire(now=DEADLINE) == 1
    assert services.requests_unanswered_expire(now=DEADLINE + timedelta(hours=5)) == 0  # once

    session.refresh_from_db()
    requested.refresh_from_db()
    assert session.status == SessionStatus.CANCELLED and session.cancelled_by == "system"
    assert requested.status == OfferStatus.WITHDRAWN
    reservation = Reservation.objects.get(session=session)
    assert reservation.status == ReservationStatus.RELEASED
    refund = Refund.objects.get()
    assert (refund.amount_cents, refund.destination) == (ADVICE, RefundDestination.CREDITS)
    assert balance(booking_customer) == ADVICE

    (note,) = Notification.objects.filter(kind="request_expired", recipient=booking_customer)
    body = message_render(note).body
    assert "did not confirm your" in body
    assert "Other free times with" in body
    # the freed slot itself is among them (the mechanic's hours are 09:00-17:00 Toronto)
    assert "Tue 1 Dec 2026, 10:00 EST (America/Toronto)" in body
    assert not Notification.objects.filter(kind="request_expired", recipient=reviewer.user)


def test_the_sweep_is_periodic():
    assert (60, "autodoctor.booking.tasks.requests_unanswered_expire") in PERIODIC_TASKS


def test_answering_in_time_still_works(requested, reviewer):
    session = services.offer_accept(
        offer_id=requested.pk, mechanic=reviewer, now=DEADLINE - timedelta(seconds=1)
    )
    assert session.status == SessionStatus.SCHEDULED
    assert services.requests_unanswered_expire(now=DEADLINE) == 0


@pytest.mark.parametrize(
    "at",
    [DEADLINE, SLOT + timedelta(minutes=5)],
    ids=["at the deadline", "after the start"],
)
def test_accepting_late_is_refused_naming_the_deadline(requested, reviewer, at):
    with pytest.raises(Conflict) as err:
        services.offer_accept(offer_id=requested.pk, mechanic=reviewer, now=at)
    assert err.value.code == "request_expired"
    assert "Tue 1 Dec 2026, 07:00 EST" in err.value.message  # in the mechanic's zone
    assert err.value.data["deadline"] == DEADLINE.isoformat()
    requested.session.refresh_from_db()
    assert requested.session.status == SessionStatus.PENDING


def test_accepting_after_the_sweep_closed_it_names_the_deadline(requested, reviewer):
    services.requests_unanswered_expire(now=DEADLINE)
    with pytest.raises(Conflict) as err:
        services.offer_accept(offer_id=requested.pk, mechanic=reviewer, now=later(24 * 60 + 1))
    assert err.value.code == "request_expired"


def test_the_api_answers_409_for_a_late_accept(requested, reviewer, login, time_machine):
    time_machine.move_to(DEADLINE + timedelta(minutes=1), tick=False)
    response = login(reviewer.user).post(
        f"/api/offers/{requested.pk}/accept", {}, content_type="application/json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "request_expired"


def test_a_request_past_its_deadline_leaves_the_inbox_before_any_sweep(requested, reviewer):
    assert list(offers_visible_to(reviewer, now=DEADLINE - timedelta(seconds=1))) == [requested]
    assert not offers_visible_to(reviewer, now=DEADLINE).exists()


def test_the_mechanic_sees_answer_by_and_the_customer_until_when(
    requested, reviewer, booking_customer, login
):
    offers = login(reviewer.user).get("/booking/offers/").content.decode()
    assert "Answer by Tue 1 Dec 2026, 07:00 EST" in offers
    page = login(booking_customer).get(f"/booking/sessions/{requested.session_id}/")
    assert "Waiting for the mechanic to confirm, until Tue 1 Dec 2026, 07:00 EST" in (
        page.content.decode()
    )


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
def test_accept_racing_the_expiry_has_exactly_one_winner(
    booking_customer, reviewer, hold, time_machine
):
    """The mechanic presses accept one instant before the deadline while the sweep runs
    at the deadline: either the booking stands (no refund) or it closed (refunded once,
    the accept told it expired), never a mix."""
    admin = UserFactory(is_staff=True, is_superuser=True)
    winners: Counter = Counter()
    for round_ in range(4):
        time_machine.move_to(NOW + timedelta(minutes=round_), tick=False)
        credits.credits_grant(
            customer=booking_customer, amount_cents=ADVICE, note="", granted_by=admin
        )
        start = SLOT + timedelta(hours=round_)
        reservation = hold(booking_customer, reviewer, start=start, now=NOW)
        checkout.payment_with_credits(
            reservation_id=reservation.pk, customer=booking_customer, now=NOW
        )
        offer = Offer.objects.get(session=reservation.session, kind=OfferKind.REQUEST)
        deadline = NOW + timedelta(minutes=round_, hours=24)

        def accept_or_sweep(i, offer=offer, deadline=deadline):
            if i == 0:
                return services.offer_accept(
                    offer_id=offer.pk, mechanic=reviewer, now=deadline - timedelta(microseconds=1)
                )
            return services.requests_unanswered_expire(now=deadline)

        outcomes = race(2, accept_or_sweep)
        session = reservation.session
        session.refresh_from_db()
        offer.refresh_from_db()
        reservation.refresh_from_db()
        refunds = Refund.objects.filter(payment__session=session).count()
        if session.status == SessionStatus.SCHEDULED:  # the mechanic was first
            winners["accept"] += 1
            assert outcomes == Counter({"ok": 2}), (round_, outcomes)
            assert offer.status == OfferStatus.ACCEPTED and refunds == 0
            assert reservation.status == ReservationStatus.CONFIRMED
            services.session_cancel(
                session_id=session.pk, user=reviewer.user, reason="test tidy-up", now=deadline
            )
        else:  # the sweep was first: the accept is refused
            winners["expiry"] += 1
            assert session.status == SessionStatus.CANCELLED, round_
            assert outcomes == Counter({"ok": 1, "Conflict": 1}), (round_, outcomes)
            assert offer.status == OfferStatus.WITHDRAWN and refunds == 1
            assert reservation.status == ReservationStatus.RELEASED
        # each round: granted, paid, and given back in full exactly once
        assert balance(booking_customer) == ADVICE * (round_ + 1), round_
    assert sum(winners.values()) == 4
