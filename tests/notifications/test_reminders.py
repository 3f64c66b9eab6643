"""Reminders 24 h and 1 h before: one of each per session and start time, re-armed by a
reschedule, none for a cancelled session, never sent late."""

from datetime import timedelta

import pytest
from django.core import mail

from autodoctor.booking import services as booking
from autodoctor.notifications.models import Notification, NotificationPreference, OutboxMessage
from autodoctor.notifications.outbox import outbox_send_due
from autodoctor.notifications.reminders import reminders_enqueue

from .conftest import NOW, SLOT

pytestmark = pytest.mark.django_db

DUE_24H = SLOT - timedelta(hours=24)  # Mon 30 Nov 15:00 UTC
DUE_1H = SLOT - timedelta(hours=1)


def reminders(kind=None):
    qs = Notification.objects.filter(kind__startswith="reminder_")
    return qs.filter(kind=kind) if kind else qs


def test_running_the_job_three_times_writes_one_reminder_per_party(
    scheduled_session, booking_customer, available_mechanic
):
    session = scheduled_session()
    assert reminders_enqueue(now=DUE_24H + timedelta(minutes=1)) == 2
    assert reminders_enqueue(now=DUE_24H + timedelta(minutes=3)) == 0
    assert reminders_enqueue(now=DUE_24H + timedelta(minutes=5)) == 0
    assert {n.recipient for n in reminders("reminder_24h")} == {
        booking_customer,
        available_mechanic.user,
    }
    assert reminders().count() == 2
    outbox_send_due(now=DUE_24H + timedelta(minutes=6))
    outbox_send_due(now=DUE_24H + timedelta(minutes=8))
    assert len(mail.outbox) == 2
    assert all("Tomorrow" in m.subject for m in mail.outbox)
    assert session.notifications.filter(kind="reminder_24h").count() == 2


def test_both_reminders_fire_at_their_own_time(scheduled_session):
    scheduled_session()
    assert reminders_enqueue(now=DUE_24H - timedelta(minutes=1)) == 0  # not yet due
    reminders_enqueue(now=DUE_24H)
    assert reminders_enqueue(now=DUE_1H - timedelta(minutes=1)) == 0
    reminders_enqueue(now=DUE_1H + timedelta(minutes=2))
    assert reminders("reminder_24h").count() == reminders("reminder_1h").count() == 2


def test_reschedule_re_arms_reminders_for_the_new_time_and_drops_the_old_ones(
    book, booking_customer, available_mechanic, clock
):
    session = book(booking_customer, available_mechanic)
    outbox_send_due(now=NOW + timedelta(minutes=2))  # the confirmations
    clock.move_to(DUE_24H + timedelta(minutes=1))
    reminders_enqueue(now=DUE_24H + timedelta(minutes=1))  # queued, not yet sent
    assert reminders("reminder_24h").count() == 2
    new_start = SLOT + timedelta(hours=2)
    booking.session_reschedule(
        session_id=session.pk,
        user=booking_customer,
        new_start=new_start,
        now=DUE_24H + timedelta(minutes=2),
    )
    mail.outbox.clear()
    counts = outbox_send_due(now=DUE_24H + timedelta(minutes=3))
    # The two reschedule notices go out; the reminders for the old time are skipped.
    assert counts == {"sent": 2, "retry": 0, "failed": 0, "skipped": 2}
    assert all("Moved" in m.subject for m in mail.outbox)
    skipped = OutboxMessage.objects.filter(status="skipped")
    assert {r.last_error for r in skipped} == {"no longer relevant: the session was moved"}
    # The reminders for the new time come at the new time, once.
    new_due = new_start - timedelta(hours=24)
    clock.move_to(new_due)
    assert reminders_enqueue(now=new_due) == 2
    assert reminders_enqueue(now=new_due + timedelta(minutes=5)) == 0
    assert reminders("reminder_24h").count() == 4


def test_a_cancelled_session_gets_no_reminders(book, booking_customer, available_mechanic, clock):
    session = book(booking_customer, available_mechanic)
    reminders_enqueue(now=DUE_24H + timedelta(minutes=1))
    booking.session_cancel(session_id=session.pk, user=booking_customer, now=DUE_24H)
    counts = outbox_send_due(now=DUE_24H + timedelta(minutes=2))
    assert counts["skipped"] == 2  # the queued reminders
    assert not any("Tomorrow" in m.subject for m in mail.outbox)
    assert reminders_enqueue(now=DUE_1H) == 0


def test_a_reminder_whose_moment_passed_long_ago_is_skipped_not_sent_late(
    scheduled_session,
):
    scheduled_session()
    # The job did not run in the 2 hour window after the 24 h moment: nothing is written.
    assert reminders_enqueue(now=DUE_24H + timedelta(hours=2, minutes=1)) == 0
    # Written on time, but the worker was down until after the window: skipped.
    reminders_enqueue(now=DUE_1H)
    counts = outbox_send_due(now=DUE_1H + timedelta(minutes=21))
    assert counts == {"sent": 0, "retry": 0, "failed": 0, "skipped": 2}
    assert mail.outbox == []
    assert all(
        e.startswith("reminder window passed")
        for e in OutboxMessage.objects.values_list("last_error", flat=True)
    )


def test_inside_the_window_a_late_worker_still_sends(scheduled_session):
    scheduled_session()
    reminders_enqueue(now=DUE_1H)
    assert outbox_send_due(now=DUE_1H + timedelta(minutes=19))["sent"] == 2


def test_no_24h_reminder_for_a_session_booked_less_than_a_day_ahead(
    book, booking_customer, available_mechanic, clock
):
    start = NOW + timedelta(hours=5)  # 17:00 UTC = 12:00 Toronto
    book(booking_customer, available_mechanic, start=start)
    assert reminders_enqueue(now=NOW + timedelta(minutes=5)) == 0
    clock.move_to(start - timedelta(hours=1))
    assert reminders_enqueue(now=start - timedelta(hours=1)) == 2


def test_reminders_by_sms_only_for_a_customer_who_opted_in_and_has_a_phone(
    scheduled_session, booking_customer, available_mechanic, sms_outbox
):
    NotificationPreference.objects.create(user=booking_customer, sms_enabled=True)
    NotificationPreference.objects.create(user=available_mechanic.user, sms_enabled=True)
    scheduled_session()
    reminders_enqueue(now=DUE_1H)
    channels = sorted(
        OutboxMessage.objects.values_list("notification__recipient__email", "channel")
    )
    assert channels == sorted(
        [
            (booking_customer.email, "email"),
            (booking_customer.email, "sms"),
            (available_mechanic.user.email, "email"),  # mechanics have no phone on file
        ]
    )
    outbox_send_due(now=DUE_1H + timedelta(minutes=1))
    [text] = sms_outbox
    assert text.to == "+14165550100"
    assert "starts in 1 hour (Tue 1 Dec 2026, 10:00 EST (America/Toronto))" in text.body


def test_a_person_who_turned_a_reminder_off_does_not_get_it(
    scheduled_session, booking_customer, available_mechanic
):
    NotificationPreference.objects.create(user=booking_customer, remind_1h=False)
    scheduled_session()
    reminders_enqueue(now=DUE_24H)
    reminders_enqueue(now=DUE_1H)
    assert sorted(reminders().values_list("kind", "recipient")) == sorted(
        [
            ("reminder_24h", booking_customer.pk),
            ("reminder_24h", available_mechanic.user.pk),
            ("reminder_1h", available_mechanic.user.pk),
        ]
    )


DUE_15M = SLOT - timedelta(minutes=15)


def test_the_15_minute_reminder_comes_once_with_the_join_link_by_email_and_sms(
    scheduled_session, booking_customer, available_mechanic, sms_outbox
):
    NotificationPreference.objects.create(user=booking_customer, sms_enabled=True)
    session = scheduled_session()
    assert reminders_enqueue(now=DUE_15M - timedelta(minutes=1)) == 0  # not yet due
    assert reminders_enqueue(now=DUE_15M + timedelta(minutes=1)) == 2
    assert reminders_enqueue(now=DUE_15M + timedelta(minutes=3)) == 0  # idempotent
    assert reminders("reminder_15m").count() == 2
    outbox_send_due(now=DUE_15M + timedelta(minutes=4))
    room = f"/booking/sessions/{session.pk}/room/"
    emails = [m for m in mail.outbox if m.subject.startswith("Join now")]
    assert len(emails) == 2 and all(room in m.body for m in emails)
    [text] = sms_outbox
    assert "starts in 15 min" in text.body and room in text.body


def test_the_15_minute_reminder_is_skipped_once_its_window_passed(scheduled_session):
    scheduled_session()
    assert reminders_enqueue(now=DUE_15M + timedelta(minutes=11)) == 0


def test_turning_off_the_shortly_before_reminders_stops_the_15_minute_one(
    scheduled_session, booking_customer, available_mechanic
):
    NotificationPreference.objects.create(user=booking_customer, remind_1h=False)
    scheduled_session()
    reminders_enqueue(now=DUE_15M)
    assert list(reminders("reminder_15m").values_list("recipient", flat=True)) == [
        available_mechanic.user.pk
    ]
