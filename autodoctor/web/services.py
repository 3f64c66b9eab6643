"""Platform-level writes that belong to no business app."""

from datetime import datetime, timedelta

from django.db import transaction

from .models import PeriodicLease


def periodic_lease_take(*, job: str, every: timedelta, now: datetime, holder: str) -> bool:
    """Take `job`'s turn if it is due at `now`, moving its next turn `every` on; True means
    the caller enqueues it now. One conditional UPDATE decides between schedulers racing
    for the same turn (PostgreSQL re-checks `due_at` on the row the winner updated; SQLite
    runs one writer at a time), so the job is enqueued once per interval however many run."""
    with transaction.atomic(durable=True):
        PeriodicLease.objects.bulk_create(
            [PeriodicLease(job=job, due_at=now)], ignore_conflicts=True
        )
        taken = PeriodicLease.objects.filter(job=job, due_at__lte=now).update(
            due_at=now + every, holder=holder
        )
    return taken == 1
