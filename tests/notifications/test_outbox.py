"""The outbox: written with the booking change, sent once by the worker, retried with
backoff, failed visibly, and safe when a worker dies mid-batch (at-least-once)."""

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection

from autodoctor.booking import services as booking
from autodoctor.booking.events import register_event_listener, unregister_event_listener
from autodoctor.booking.models import SessionStatus
from autodoctor.notifications.models import Notification, OutboxMessage, OutboxStatus
from autodoctor.notifications.outbox import (
    CLAIM_TIMEOUT,
    MAX_ATTEMPTS,
    outbox_claim,
    outbox_deliver,
    outbox_retry_failed,
    outbox_send_due,
)

from .conftest import NOW
from .fakes import DyingEmailBackend, WorkerKilled

pytestmark = pytest.mark.django_db

SOON = NOW + timedelta(minutes=1)


def statuses():
    return sorted(OutboxMessage.objects.values_list("status", flat=True))


def message_ids():
    return [m.extra_headers["Message-ID"] for m in mail.outbox]


# --------------------------------------------------------------------------- same transaction


def test_confirming_a_booking_writes_a_message_and_an_email_row_for_each_party(
    book, booking_customer, available_mechanic
):
    session = book(booking_customer, available_mechanic)
    confirmations = Notification.objects.filter(session=session, kind="confirmation")
    assert {n.recipient for n in confirmations} == {booking_customer, available_mechanic.user}
    assert statuses() == ["pending", "pending"]
    assert set(OutboxMessage.objects.values_list("channel", flat=True)) == {"email"}


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_booking_change_leaves_no_message_behind(
    hold, booking_customer, available_mechanic, clock
):
    reservation = hold(booking_customer, available_mechanic)
    seen = []

    def fail_after_notifications(event):
        if event.action == "booking.session.confirmed":
            # Our listener ran first and wrote its rows in this same transaction...
            seen.append(OutboxMessage.objects.count())
            raise RuntimeError("a later step of the booking change failed")

    register_event_listener(fail_after_notifications)
    try:
        with pytest.raises(RuntimeError):
            booking.reservation_confirm(
                reservation_id=reservation.pk, customer=booking_customer, now=SOON
            )
    finally:
        unregister_event_listener(fail_after_notifications)
    assert seen == [2]
    # ...and they rolled back with it.
    assert not Notification.objects.filter(kind="confirmation").exists()
    assert not OutboxMessage.objects.exists()
    reservation.session.refresh_from_db()
    assert reservation.session.status == SessionStatus.PENDING


# --------------------------------------------------------------------------- sending


def test_worker_sends_each_row_once_however_often_it_runs(
    scheduled_session, queue_message, booking_customer, available_mechanic
):
    session = scheduled_session()
    queue_message(session, booking_customer)
    queue_message(session, available_mechanic.user)
    assert outbox_send_due(now=SOON) == {"sent": 2, "retry": 0, "failed": 0, "skipped": 0}
    outbox_send_due(now=SOON)
    outbox_send_due(now=SOON + timedelta(hours=1))
    assert len(mail.outbox) == 2
    assert statuses() == ["sent", "sent"]
    row = OutboxMessage.objects.first()
    assert row.sent_at == SOON and row.attempts == 1 and row.claim_token == ""


def test_a_failing_send_is_retried_after_1_5_25_minutes_then_marked_failed(
    settings, scheduled_session, queue_message, booking_customer
):
    settings.MAILERS = {"default": {"BACKEND": "tests.notifications.fakes.BrokenEmailBackend"}}
    queue_message(scheduled_session(), booking_customer)
    row = OutboxMessage.objects.get()
    now = SOON
    for attempt, wait in enumerate([1, 5, 25], start=1):
        assert outbox_send_due(now=now)["retry"] == 1
        row.refresh_from_db()
        assert (row.status, row.attempts) == ("pending", attempt)
        assert row.next_attempt_at == now + timedelta(minutes=wait)
        assert "Connection unexpectedly closed" in row.last_error
        assert outbox_send_due(now=now + timedelta(minutes=wait) - timedelta(seconds=1)) == {
            "sent": 0,
            "retry": 0,
            "failed": 0,
            "skipped": 0,
        }  # not due before its backoff
        now += timedelta(minutes=wait)
    assert outbox_send_due(now=now)["failed"] == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("failed", MAX_ATTEMPTS)
    assert row.last_error == "SMTPServerDisconnected: Connection unexpectedly closed"
    assert outbox_send_due(now=now + timedelta(days=1))["failed"] == 0  # failed stays failed


def test_retry_failed_queues_the_row_again_with_fresh_attempts(
    settings, scheduled_session, queue_message, booking_customer
):
    queue_message(scheduled_session(), booking_customer)
    OutboxMessage.objects.update(status=OutboxStatus.FAILED, attempts=MAX_ATTEMPTS, last_error="x")
    assert outbox_retry_failed(OutboxMessage.objects.values_list("pk", flat=True), now=SOON) == 1
    assert outbox_send_due(now=SOON)["sent"] == 1
    assert len(mail.outbox) == 1


# --------------------------------------------------------------------------- worker killed


@pytest.fixture
def dying_mailer(settings):
    settings.MAILERS = {"default": {"BACKEND": "tests.notifications.fakes.DyingEmailBackend"}}
    yield DyingEmailBackend
    DyingEmailBackend.arm(die_at=None)


@pytest.fixture
def three_messages(scheduled_session, queue_message, booking_customer, available_mechanic):
    session = scheduled_session()
    queue_message(session, booking_customer)
    queue_message(session, available_mechanic.user)
    queue_message(session, booking_customer, kind="rescheduled")
    return list(OutboxMessage.objects.order_by("pk"))


def test_worker_killed_mid_batch_loses_nothing_and_sends_nothing_twice(
    dying_mailer, three_messages
):
    dying_mailer.arm(die_at=2)  # dies while connecting for the 2nd message, before it is sent
    with pytest.raises(WorkerKilled):
        outbox_send_due(now=SOON)
    assert [m.status for m in OutboxMessage.objects.order_by("pk")] == [
        "sent",
        "sending",  # the one in flight: claimed, not sent
        "pending",  # never claimed
    ]
    dying_mailer.arm(die_at=None)
    # A new worker right away sends what is pending and leaves the fresh claim alone...
    assert outbox_send_due(now=SOON + timedelta(minutes=1))["sent"] == 1
    assert OutboxMessage.objects.filter(status="sending").count() == 1
    # ...which is re-claimed once the claim is stale.
    assert outbox_send_due(now=SOON + CLAIM_TIMEOUT + timedelta(seconds=1))["sent"] == 1
    assert statuses() == ["sent", "sent", "sent"]
    assert len(mail.outbox) == 3
    assert len(set(message_ids())) == 3  # every row exactly once
    assert OutboxMessage.objects.get(pk=three_messages[1].pk).attempts == 2


def test_kill_after_the_provider_accepted_but_before_marking_resends_once_with_same_message_id(
    dying_mailer, three_messages
):
    """The one duplicate at-least-once allows (docs/notifications.md): the row in flight
    when the worker died after delivery. It is sent again after the claim timeout, with
    the same Message-ID; every other row is still sent exactly once."""
    dying_mailer.arm(die_at=1, after_delivery=True)
    with pytest.raises(WorkerKilled):
        outbox_send_due(now=SOON)
    dying_mailer.arm(die_at=None)
    outbox_send_due(now=SOON + CLAIM_TIMEOUT + timedelta(seconds=1))
    assert statuses() == ["sent", "sent", "sent"]
    ids = message_ids()
    assert len(ids) == 4 and len(set(ids)) == 3
    assert ids.count(f"<outbox-{three_messages[0].pk}@autodoctor.example>") == 2


def test_a_row_whose_worker_died_on_the_last_attempt_is_failed_not_sent(
    dying_mailer, three_messages
):
    OutboxMessage.objects.exclude(pk=three_messages[0].pk).delete()
    OutboxMessage.objects.update(attempts=MAX_ATTEMPTS - 1)
    dying_mailer.arm(die_at=1)
    with pytest.raises(WorkerKilled):
        outbox_send_due(now=SOON)
    dying_mailer.arm(die_at=None)
    assert outbox_send_due(now=SOON + CLAIM_TIMEOUT + timedelta(seconds=1))["failed"] == 1
    row = OutboxMessage.objects.get()
    assert row.status == "failed" and "worker stopped while sending" in row.last_error
    assert mail.outbox == []


def test_a_worker_that_lost_its_claim_cannot_overwrite_the_newer_outcome(three_messages):
    OutboxMessage.objects.exclude(pk=three_messages[0].pk).delete()
    slow = outbox_claim(now=SOON)  # worker A claims, then hangs
    later = SOON + CLAIM_TIMEOUT + timedelta(seconds=1)
    fast = outbox_claim(now=later)  # worker B re-claims the stale row
    assert fast.pk == slow.pk and fast.claim_token != slow.claim_token
    assert outbox_deliver(fast, now=later) == "sent"
    outbox_deliver(slow, now=later)  # A wakes up and "finishes" too
    row = OutboxMessage.objects.get()
    assert (row.status, row.sent_at, row.attempts) == ("sent", later, 2)


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_never_send_the_same_row_twice(
    scheduled_session, queue_message, booking_customer, available_mechanic
):
    session = scheduled_session()
    for _ in range(15):
        queue_message(session, booking_customer)
        queue_message(session, available_mechanic.user)
    errors = []
    start = threading.Barrier(4)

    def worker():
        try:
            start.wait()
            outbox_send_due(now=SOON)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert OutboxMessage.objects.filter(status="sent").count() == 30
    ids = message_ids()
    assert len(ids) == 30 and len(set(ids)) == 30
