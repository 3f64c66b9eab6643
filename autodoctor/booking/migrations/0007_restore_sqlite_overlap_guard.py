"""Re-create the SQLite overlap triggers (ARCHITECTURE invariant 1).

0006 altered Reservation.session; on SQLite Django applies that by rebuilding the
table (create, copy, drop, rename), which silently drops the triggers 0002 created, so
SQLite had no double-booking guard (the race test in tests/booking/test_races.py
showed overlapping holds). PostgreSQL keeps its constraint through an ALTER and is
untouched. tests/booking/test_overlap_guard_present.py checks the guard exists, so the
next table rebuild cannot lose it unnoticed.
"""

import importlib

from django.db import migrations

_guard = importlib.import_module("autodoctor.booking.migrations.0002_overlap_guard_and_plans")


def restore(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for sql in _guard.SQLITE_BACKWARD + _guard.SQLITE_FORWARD:
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("booking", "0006_reservation_for_visits")]

    operations = [migrations.RunPython(restore, migrations.RunPython.noop)]
