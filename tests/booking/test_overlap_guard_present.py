"""The database guard against double booking exists after all migrations, on the
database the tests run on (a SQLite table rebuild once dropped its triggers silently)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, connection, transaction

from autodoctor.booking.models import Reservation
from tests.factories import MechanicFactory

pytestmark = pytest.mark.django_db

AT = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


def pin(mechanic, start, minutes=30):
    return Reservation.objects.create(
        mechanic=mechanic,
        starts_at=start,
        ends_at=start + timedelta(minutes=minutes),
        blocked_until=start + timedelta(minutes=minutes),
        status="confirmed",
    )


def test_the_guard_is_installed():
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            names = {row[0] for row in cursor.fetchall()}
            assert {"reservation_no_overlap_insert", "reservation_no_overlap_update"} <= names
        else:
            cursor.execute("SELECT 1 FROM pg_constraint WHERE conname = 'reservation_no_overlap'")
            assert cursor.fetchone()


def test_the_database_refuses_an_overlapping_insert_and_an_update_into_overlap():
    mechanic = MechanicFactory()
    pin(mechanic, AT)
    with pytest.raises(IntegrityError, match="reservation_no_overlap"), transaction.atomic():
        pin(mechanic, AT + timedelta(minutes=15))
    later = pin(mechanic, AT + timedelta(hours=1))
    later.starts_at = AT + timedelta(minutes=20)
    with pytest.raises(IntegrityError, match="reservation_no_overlap"), transaction.atomic():
        later.save(update_fields=["starts_at"])
