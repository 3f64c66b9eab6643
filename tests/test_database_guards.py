"""Every database guard is in place after all migrations, on both databases.

SQLite rebuilds a table when a migration alters one of its columns, and the rebuild
drops the table's triggers; a later migration could silently remove a guarantee. This
lists the guards by name, so losing one fails here and not in production."""

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db

# (table, guard name): PostgreSQL constraint / SQLite triggers named <guard>_insert/_update
GUARDS = [
    ("booking_reservation", "reservation_no_overlap"),
    ("workshops_visit", "visit_bay_no_overlap"),
]


@pytest.mark.parametrize(("table", "guard"), GUARDS)
def test_the_guard_exists(table, guard):
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'x'",
                [table],
            )
            assert guard in {row[0] for row in cursor.fetchall()}
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [table]
            )
            assert {f"{guard}_insert", f"{guard}_update"} <= {row[0] for row in cursor.fetchall()}
