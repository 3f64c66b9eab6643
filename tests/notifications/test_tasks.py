"""The tasks run through django.tasks and the database worker; both are periodic."""

import pytest
from django.core import mail
from django.core.management import call_command
from django.tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from autodoctor.booking import services as booking
from autodoctor.notifications.tasks import outbox_send, reminders_enqueue
from autodoctor.periodic import PERIODIC_TASKS

from .conftest import NOW


def test_both_jobs_are_periodic():
    paths = {path for _, path in PERIODIC_TASKS}
    assert {
        "autodoctor.notifications.tasks.outbox_send",
        "autodoctor.notifications.tasks.reminders_enqueue",
    } <= paths


@pytest.mark.django_db(transaction=True)
def test_a_committed_booking_change_wakes_the_sender_which_the_db_worker_runs(
    hold, booking_customer, available_mechanic
):
    reservation = hold(booking_customer, available_mechanic, now=NOW)
    booking.reservation_confirm(reservation_id=reservation.pk, customer=booking_customer, now=NOW)
    woken = DBTaskResult.objects.filter(task_path="autodoctor.notifications.tasks.outbox_send")
    assert woken.count() == 1  # once per transaction, though it wrote two rows
    call_command("db_worker", batch=True, no_startup_delay=True, verbosity=0)
    assert {m.to[0].split("<")[-1].rstrip(">") for m in mail.outbox} == {
        booking_customer.email,
        available_mechanic.user.email,
    }
    assert woken.get().status == TaskResultStatus.SUCCESSFUL


@pytest.mark.django_db(transaction=True)
def test_reminder_task_runs_on_the_worker():
    result = reminders_enqueue.enqueue()
    call_command("db_worker", batch=True, no_startup_delay=True, verbosity=0)
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL and result.return_value == 0
    assert outbox_send.call() == {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}
