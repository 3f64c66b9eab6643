"""User-entered text is escaped wherever it goes: HTML pages, email headers, calendar
files (RFC 5545), the notification centre. One booking whose customer name, vehicle and
concern are hostile strings, followed to every place a person sees them."""

from datetime import timedelta

import pytest
from django.core import mail
from icalendar import Calendar

from autodoctor.booking import services as booking
from autodoctor.notifications.outbox import outbox_send_due
from tests.factories import UserFactory

from .conftest import NOW

pytestmark = pytest.mark.django_db

NAME = 'Eve <script>alert("name")</script>\r\nBcc: spy@evil.test'
VEHICLE = "2019 <b>Civic</b>; SUMMARY:pwned"
CONCERN = (
    '<img src=x onerror=alert(1)> brakes, squeal; \\ "quoted"\r\n'
    "ATTENDEE:mailto:spy@evil.test\nEND:VEVENT"
)
RAW_MARKUP = ("<script>alert", "<img src=x", "<b>Civic</b>")


@pytest.fixture
def hostile_session(booking_customer, available_mechanic, clock):
    booking_customer.full_name = NAME
    booking_customer.save()
    intake = booking.intake_validate(
        customer=booking_customer, plan="advice", concern=CONCERN, vehicle_label=VEHICLE
    )
    from tests.booking.conftest import SLOT

    reservation = booking.reservation_hold(
        customer=booking_customer,
        intake=intake,
        mechanic_id=available_mechanic.pk,
        starts_at=SLOT,
        now=NOW,
    )
    booking.reservation_confirm(
        reservation_id=reservation.pk, customer=booking_customer, now=NOW + timedelta(minutes=1)
    )
    session = reservation.session
    session.refresh_from_db()
    assert session.concern == CONCERN.replace("\r\n", "\n") or session.concern == CONCERN
    return session


def _assert_escaped(html: str) -> None:
    for markup in RAW_MARKUP:
        assert markup not in html, f"unescaped {markup!r}"


def test_pages_show_hostile_text_escaped(hostile_session, login, available_mechanic):
    customer_pages = [
        f"/booking/sessions/{hostile_session.pk}/",
        f"/booking/sessions/{hostile_session.pk}/confirmed/",
        "/booking/sessions/",
    ]
    customer = login(hostile_session.customer)
    for path in customer_pages:
        response = customer.get(path)
        assert response.status_code == 200, path
        _assert_escaped(response.content.decode())
    mechanic = login(available_mechanic.user)
    for path in (f"/booking/sessions/{hostile_session.pk}/", "/booking/calendar/", "/"):
        html = mechanic.get(path).content.decode()
        _assert_escaped(html)
    detail = mechanic.get(f"/booking/sessions/{hostile_session.pk}/").content.decode()
    assert "&lt;img src=x onerror=alert(1)&gt;" in detail  # shown, as text
    admin = UserFactory(role="admin", is_staff=True, is_superuser=True)
    staff = login(admin)
    for path in (
        "/booking/schedule/",
        "/admin/booking/session/",
        f"/admin/booking/session/{hostile_session.pk}/change/",
    ):
        response = staff.get(path)
        assert response.status_code == 200, path
        _assert_escaped(response.content.decode())


def test_emails_keep_hostile_text_out_of_their_headers(hostile_session):
    outbox_send_due(now=NOW + timedelta(minutes=2))
    assert mail.outbox
    for message in mail.outbox:
        parsed = message.message()
        assert parsed.get_all("Bcc") is None
        header_lines = parsed.as_string().split("\n\n", 1)[0].replace("\n ", " ").splitlines()
        assert not [line for line in header_lines if line.lower().startswith("bcc")]
        assert "\r" not in message.subject and "\n" not in message.subject
        recipients = set(message.recipients())
        assert "spy@evil.test" not in recipients
        assert len(recipients) == 1


def test_calendar_files_escape_hostile_text_per_rfc_5545(hostile_session):
    outbox_send_due(now=NOW + timedelta(minutes=2))
    invites = [
        a for m in mail.outbox for a in m.attachments if a.get_filename() == "appointment.ics"
    ]
    assert len(invites) == 2  # customer and mechanic
    for invite in invites:
        raw = invite.get_payload(decode=True).decode()
        lines = raw.replace("\r\n ", "").split("\r\n")  # unfold
        assert not any(line.startswith("ATTENDEE:mailto:spy") for line in lines)
        assert not any(line.startswith("SUMMARY:pwned") for line in lines)
        assert sum(line == "END:VEVENT" for line in lines) == 1
        [event] = Calendar.from_ical(raw).walk("VEVENT")
        description = str(event["DESCRIPTION"])
        assert "ATTENDEE:mailto:spy@evil.test" in description  # kept as text, inside
        assert '\\ "quoted"' in description
        attendees = event.get("ATTENDEE")
        addresses = {
            str(a).lower() for a in (attendees if isinstance(attendees, list) else [attendees])
        }
        assert all("spy@evil.test" not in a for a in addresses)
        assert len(addresses) == 2


def test_notification_centre_escapes_hostile_text(hostile_session, login, available_mechanic):
    html = login(available_mechanic.user).get("/notifications/").content.decode()
    _assert_escaped(html)
