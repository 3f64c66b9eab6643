"""Reservations without a session: a workshop visit's assigned mechanic (issue 11).

On SQLite, altering a column rebuilds the table, and the rebuild drops its triggers —
the double-booking guard of 0002 among them. They are created again right after, from
the same statements (tests/test_database_guards.py checks every guard is in place after
all migrations, on both databases).
"""

import importlib

import django.db.models.deletion
from django.db import migrations, models

_guard = importlib.import_module("autodoctor.booking.migrations.0002_overlap_guard_and_plans")


def _recreate_sqlite_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for sql in _guard.SQLITE_BACKWARD + _guard.SQLITE_FORWARD:
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [
        ("booking", "0005_diagnosis"),
    ]

    operations = [
        migrations.AlterField(
            model_name="reservation",
            name="session",
            field=models.ForeignKey(
                blank=True,
                help_text="Empty for a workshop visit's mechanic time",
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="reservations",
                to="booking.session",
            ),
        ),
        migrations.RunPython(_recreate_sqlite_triggers, migrations.RunPython.noop),
    ]
