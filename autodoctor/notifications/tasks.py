"""Background tasks (django.tasks). Both are periodic (autodoctor/periodic.py) and
idempotent: running them twice, concurrently or late never sends a message twice."""

from django.tasks import task

from . import outbox, reminders


@task
def outbox_send(limit: int = 200) -> dict[str, int]:
    """Send due outbox rows (see outbox.py for the claim protocol and guarantee)."""
    return outbox.outbox_send_due(limit=limit)


@task
def reminders_enqueue() -> int:
    """Write the 24 h / 1 h reminders that are due now (see reminders.py)."""
    return reminders.reminders_enqueue()
