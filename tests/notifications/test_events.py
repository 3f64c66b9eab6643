"""Which booking event sends what to whom (events.ACTIONS), end to end."""

from datetime import timedelta

import pytest
from django.core import mail

from autodoctor.availability.models import MechanicSettings
from autodoctor.booking import services as booking
from autodoctor.booking.models import Offer, OfferKind
from autodoctor.notifications.models import Notification, NotificationPreference, OutboxMessage
from autodoctor.notifications.outbox import outbox_send_due
from tests.factories import MechanicFactory, start_now_published

from .conftest import NOW, SLOT

pytestmark = pytest.mark.django_db


def sent_to(user):
    return sorted(Notification.objects.filter(recipient=user).values_list("kind", flat=True))


@pytest.fixture
def immediate(booking_customer, intake, clock):
    """An immediate session with targeted offers to two mechanics."""
    first, second = MechanicFactory(is_online=True), MechanicFactory(is_online=True)
    session = start_now_published(booking_customer, intake(booking_customer))
    targeted = set(
        session.offers.filter(kind=OfferKind.TARGETED).values_list("mechanic", flat=True)
    )
    assert {first.pk, second.pk} <= targeted
    return session, first, second


def test_targeted_mechanics_get_an_offer_alert_and_the_customer_no_email(
    immediate, booking_customer
):
    _, first, second = immediate
    assert sent_to(first.user) == sent_to(second.user) == ["offer_made"]
    assert sent_to(booking_customer) == []  # they are watching the waiting page


def test_accepting_tells_the_customer_and_closes_the_other_offers_quietly(
    immediate, booking_customer, sms_outbox
):
    session, first, second = immediate
    NotificationPreference.objects.create(user=booking_customer, sms_enabled=True)
    offer = Offer.objects.get(session=session, mechanic=first)
    booking.offer_accept(offer_id=offer.pk, mechanic=first, now=NOW)
    assert sent_to(booking_customer) == ["offer_taken"]
    assert sent_to(second.user) == ["offer_closed", "offer_made"]
    assert not OutboxMessage.objects.filter(notification__kind="offer_closed").exists()
    outbox_send_due(now=NOW + timedelta(seconds=5))
    # The offer alerts were not emailed after someone took the session.
    assert not any("offer" in m.subject.lower() for m in mail.outbox)
    [taken] = [m for m in mail.outbox if booking_customer.email in m.to[0]]
    assert f"{first.user} accepted your video session" == taken.subject
    assert f"/booking/sessions/{session.pk}/" in taken.body
    assert sms_outbox and "Join now" in sms_outbox[0].body


def test_a_booking_request_notifies_the_mechanic_and_its_acceptance_confirms_both(
    hold, booking_customer, available_mechanic, clock
):
    MechanicSettings.objects.filter(mechanic=available_mechanic).update(allow_instant_booking=False)
    reservation = hold(booking_customer, available_mechanic)
    booking.reservation_confirm(reservation_id=reservation.pk, customer=booking_customer, now=NOW)
    assert sent_to(available_mechanic.user) == ["offer_made"]
    assert sent_to(booking_customer) == ["request_received"]
    offer = Offer.objects.get(session=reservation.session, kind=OfferKind.REQUEST)
    booking.offer_accept(offer_id=offer.pk, mechanic=available_mechanic, now=NOW)
    assert sent_to(available_mechanic.user) == ["confirmation", "offer_made"]
    assert sent_to(booking_customer) == ["confirmation", "request_received"]


def test_a_declined_request_tells_the_customer(hold, booking_customer, available_mechanic, clock):
    MechanicSettings.objects.filter(mechanic=available_mechanic).update(allow_instant_booking=False)
    reservation = hold(booking_customer, available_mechanic)
    booking.reservation_confirm(reservation_id=reservation.pk, customer=booking_customer, now=NOW)
    offer = Offer.objects.get(session=reservation.session, kind=OfferKind.REQUEST)
    booking.offer_decline(offer_id=offer.pk, mechanic=available_mechanic, now=NOW)
    assert sent_to(booking_customer) == ["request_declined", "request_received"]
    outbox_send_due(now=NOW + timedelta(minutes=1))
    [declined] = [m for m in mail.outbox if "cannot take" in m.subject]
    assert "Tue 1 Dec 2026, 10:00 EST (America/Toronto)" in declined.body


def test_an_expired_hold_tells_the_customer(hold, booking_customer, available_mechanic, clock):
    hold(booking_customer, available_mechanic)
    booking.holds_expire_all(now=NOW + timedelta(minutes=16))
    assert sent_to(booking_customer) == ["hold_expired"]
    outbox_send_due(now=NOW + timedelta(minutes=17))
    [message] = mail.outbox
    assert message.subject == (
        "Your held time Tue 1 Dec 2026, 10:00 EST (America/Toronto) was released"
    )


def test_reschedule_and_cancel_notify_both_parties(
    book, booking_customer, available_mechanic, clock
):
    session = book(booking_customer, available_mechanic)
    booking.session_reschedule(
        session_id=session.pk,
        user=available_mechanic.user,
        new_start=SLOT + timedelta(hours=1),
        now=NOW,
    )
    booking.session_cancel(session_id=session.pk, user=booking_customer, reason="Sold the car")
    for party in (booking_customer, available_mechanic.user):
        assert sent_to(party) == ["cancelled", "confirmation", "rescheduled"]
    outbox_send_due(now=NOW + timedelta(minutes=1))
    moved = [m for m in mail.outbox if m.subject.startswith("Moved")]
    assert len(moved) == 2
    to_customer = next(m for m in moved if booking_customer.email in m.to[0])
    assert f"{available_mechanic.user} moved your video session" in to_customer.body
    assert "Was:       Tue 1 Dec 2026, 10:00 EST (America/Toronto)" in to_customer.body
    cancelled = next(
        m
        for m in mail.outbox
        if m.subject.startswith("Cancelled") and available_mechanic.user.email in m.to[0]
    )
    assert "Reason:          Sold the car" in cancelled.body


def test_abandoning_an_unconfirmed_session_sends_nothing(
    hold, booking_customer, available_mechanic, clock
):
    reservation = hold(booking_customer, available_mechanic)
    booking.session_cancel(session_id=reservation.session_id, user=booking_customer)
    assert not Notification.objects.exists()


def test_email_turned_off_means_no_email_rows_but_the_centre_still_shows_it(
    book, booking_customer, available_mechanic
):
    NotificationPreference.objects.create(user=booking_customer, email_enabled=False)
    book(booking_customer, available_mechanic)
    assert sent_to(booking_customer) == ["confirmation"]
    assert not OutboxMessage.objects.filter(notification__recipient=booking_customer).exists()


def test_turning_email_off_after_the_row_was_written_skips_it(
    book, booking_customer, available_mechanic
):
    book(booking_customer, available_mechanic)
    NotificationPreference.objects.create(user=booking_customer, email_enabled=False)
    assert outbox_send_due(now=NOW + timedelta(minutes=2)) == {
        "sent": 1,
        "retry": 0,
        "failed": 0,
        "skipped": 1,
    }
    skipped = OutboxMessage.objects.get(status="skipped")
    assert skipped.notification.recipient == booking_customer
    assert skipped.last_error == "email turned off in preferences"
