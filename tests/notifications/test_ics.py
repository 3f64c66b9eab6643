"""Calendar files: invitations that update and cancel one event, parsed back with icalendar."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from autodoctor.booking import services as booking
from autodoctor.notifications import ics
from autodoctor.notifications.models import Notification
from autodoctor.notifications.rendering import message_render

from .conftest import NOW, SITE, SLOT

pytestmark = pytest.mark.django_db


def invite(session, kind, recipient):
    notification = Notification.objects.filter(
        session=session, kind=kind, recipient=recipient
    ).latest("pk")
    method, data = message_render(notification).calendar
    calendar = Calendar.from_ical(data)
    assert str(calendar["METHOD"]) == method
    [event] = calendar.events
    return calendar, event


def test_confirmation_invite_round_trips_start_and_end_in_utc_and_in_the_zone(
    book, booking_customer, available_mechanic
):
    session = book(booking_customer, available_mechanic)
    calendar, event = invite(session, "confirmation", booking_customer)
    assert str(calendar["METHOD"]) == "REQUEST"
    assert str(event["UID"]) == f"session-{session.pk}@autodoctor"
    assert event.sequence == 0
    assert event.start == SLOT and event.start.utcoffset() == timedelta(0)
    assert event.end == SLOT + timedelta(minutes=session.duration_minutes)
    assert event["DTSTART"].to_ical() == b"20261201T150000Z"
    toronto = event.start.astimezone(ZoneInfo("America/Toronto"))
    assert (toronto.hour, toronto.minute, toronto.tzname()) == (10, 0, "EST")
    assert str(event["LOCATION"]) == f"{SITE}/booking/sessions/{session.pk}/room/"
    assert str(event["URL"]) == str(event["LOCATION"])
    assert str(event["STATUS"]) == "CONFIRMED"


def test_invite_names_organizer_and_both_attendees_and_alarms_15_minutes_before(
    book, booking_customer, available_mechanic
):
    session = book(booking_customer, available_mechanic)
    _, event = invite(session, "confirmation", available_mechanic.user)
    assert event["ORGANIZER"].email == "noreply@autodoctor.local"
    assert {a.email for a in event.attendees} == {
        booking_customer.email,
        available_mechanic.user.email,
    }
    [alarm] = event.subcomponents
    assert alarm.name == "VALARM"
    assert alarm["TRIGGER"].dt == timedelta(minutes=-15)


def test_reschedule_sends_request_with_same_uid_and_higher_sequence(
    book, booking_customer, available_mechanic, clock
):
    session = book(booking_customer, available_mechanic)
    new_start = SLOT + timedelta(hours=2)
    booking.session_reschedule(
        session_id=session.pk, user=booking_customer, new_start=new_start, now=NOW
    )
    _, first = invite(session, "confirmation", booking_customer)
    calendar, moved = invite(session, "rescheduled", booking_customer)
    assert str(calendar["METHOD"]) == "REQUEST"
    assert moved["UID"] == first["UID"]
    assert moved.sequence == 1 > first.sequence
    assert moved.start == new_start


def test_cancel_sends_cancel_with_same_uid_and_higher_sequence(
    book, booking_customer, available_mechanic, clock
):
    session = book(booking_customer, available_mechanic)
    booking.session_reschedule(
        session_id=session.pk, user=booking_customer, new_start=SLOT + timedelta(hours=1), now=NOW
    )
    booking.session_cancel(
        session_id=session.pk, user=available_mechanic.user, reason="Sick today", now=NOW
    )
    _, moved = invite(session, "rescheduled", available_mechanic.user)
    for party in (booking_customer, available_mechanic.user):
        calendar, cancelled = invite(session, "cancelled", party)
        assert str(calendar["METHOD"]) == "CANCEL"
        assert str(cancelled["STATUS"]) == "CANCELLED"
        assert cancelled["UID"] == moved["UID"]
        assert cancelled.sequence == 2 > moved.sequence
        assert not cancelled.subcomponents  # no alarm on a cancelled event


def test_all_day_time_off_becomes_a_date_event_in_the_mechanics_zone():
    from datetime import date

    entry = ics.CalendarEntry(
        uid="timeoff-1@autodoctor",
        start=date(2026, 12, 24),
        end=date(2026, 12, 27),
        summary="Time off",
        stamp=NOW,
        alarm=False,
    )
    [event] = Calendar.from_ical(ics.calendar_bytes([entry], method=None)).events
    assert event.start == date(2026, 12, 24) and event.end == date(2026, 12, 27)
