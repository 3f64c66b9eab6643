"""Message wording: every kind renders, times in the recipient's zone with its name,
links, no HTML escaping in plain text."""

from datetime import timedelta

import pytest
from django.core import mail

from autodoctor.booking import services as booking
from autodoctor.booking.models import Offer, OfferKind
from autodoctor.notifications.catalog import KINDS
from autodoctor.notifications.models import Notification
from autodoctor.notifications.outbox import outbox_send_due
from autodoctor.notifications.rendering import message_render, when_label
from tests.factories import MechanicFactory, start_now_published

from .conftest import NOW, SITE, SLOT

pytestmark = pytest.mark.django_db


def test_when_label_names_the_zone_in_winter_and_summer():
    assert when_label(SLOT, "America/Toronto") == "Tue 1 Dec 2026, 10:00 EST (America/Toronto)"
    assert (
        when_label(SLOT + timedelta(days=200), "America/Toronto")
        == "Sat 19 Jun 2027, 11:00 EDT (America/Toronto)"
    )
    assert when_label(SLOT, "Europe/London") == "Tue 1 Dec 2026, 15:00 GMT (Europe/London)"


def test_confirmation_email_shows_each_party_their_own_zone_and_the_links(
    book, booking_customer, available_mechanic
):
    booking_customer.time_zone = "Europe/London"
    booking_customer.save()
    session = book(booking_customer, available_mechanic)
    outbox_send_due(now=NOW + timedelta(minutes=2))
    by_recipient = {message.to[0]: message for message in mail.outbox}
    assert len(by_recipient) == 2
    customer_mail = next(m for to, m in by_recipient.items() if booking_customer.email in to)
    mechanic_mail = next(m for to, m in by_recipient.items() if available_mechanic.user.email in to)
    assert "Tue 1 Dec 2026, 15:00 GMT (Europe/London)" in customer_mail.body
    assert "Tue 1 Dec 2026, 15:00 GMT (Europe/London)" in customer_mail.subject
    assert "Tue 1 Dec 2026, 10:00 EST (America/Toronto)" in mechanic_mail.body
    for message in (customer_mail, mechanic_mail):
        assert f"{SITE}/booking/sessions/{session.pk}/" in message.body  # join
        assert f"{SITE}/booking/sessions/{session.pk}/reschedule/" in message.body
        assert f"Cancel:            {SITE}/booking/sessions/ (My sessions)" in message.body
        [attachment] = message.attachments
        assert attachment.get_filename() == "appointment.ics"
        assert attachment.get_content_type() == "text/calendar"
        assert attachment.get_param("method") == "REQUEST"


def test_plain_text_is_not_html_escaped(book, booking_customer, available_mechanic):
    booking_customer.full_name = "Siobhán O'Brien & Co"
    booking_customer.save()
    book(booking_customer, available_mechanic)
    notification = Notification.objects.get(kind="confirmation", recipient=booking_customer)
    rendered = message_render(notification)
    assert "Hello Siobhán O'Brien & Co," in rendered.body
    assert "&#x27;" not in rendered.body and "&amp;" not in rendered.body


def test_every_kind_renders_subject_body_and_sms_where_sms_is_allowed(
    book, booking_customer, available_mechanic, intake, clock
):
    """Drive the booking flows that produce each kind, then render every message."""
    session = book(booking_customer, available_mechanic)
    booking.session_reschedule(
        session_id=session.pk, user=booking_customer, new_start=SLOT + timedelta(hours=1), now=NOW
    )
    booking.session_cancel(session_id=session.pk, user=booking_customer, reason="", now=NOW)
    immediate = start_now_published(booking_customer, intake(booking_customer))
    offer = immediate.offers.filter(kind=OfferKind.TARGETED).first()
    if offer is None:  # matching found nobody: make one targeted offer by hand
        offer = Offer.objects.create(
            session=immediate, mechanic=MechanicFactory(), kind=OfferKind.TARGETED
        )
    booking.offer_accept(offer_id=offer.pk, mechanic=offer.mechanic, now=NOW)
    rendered_kinds = set()
    for notification in Notification.objects.all():
        rendered = message_render(notification)
        assert rendered.subject and "\n" not in rendered.subject
        assert rendered.body.strip()
        assert "{{" not in rendered.body and "{%" not in rendered.body
        if "sms" in KINDS[notification.kind].channels:
            assert rendered.sms and len(rendered.sms) <= 320
        rendered_kinds.add(notification.kind)
    assert {"confirmation", "rescheduled", "cancelled", "offer_made", "offer_taken"} <= (
        rendered_kinds
    )
