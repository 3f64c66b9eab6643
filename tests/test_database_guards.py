"""Every database guard is in place after all migrations, on both databases.

SQLite rebuilds a table when a migration alters one of its columns, and the rebuild
drops the table's triggers; a later migration could silently remove a guarantee. This
lists the guards (and the triggers that keep derived tables right) by name, so losing one
fails here and not in production."""

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


# The offered-time triggers (availability 0005, 0006): each write that can change a
# mechanic's source hours, booking rules, approval or active flag marks the mechanic
# dirty, so who-is-free and the earliest slot read the exact code for it. A dropped trigger would leave stale pieces answering: a wrong answer.
# (table, PostgreSQL trigger names, SQLite trigger names)
_EVERY_WRITE = ("insert", "update", "delete")
OFFERED_TRIGGERS = [
    (table, {"offered_dirty"}, {f"offered_dirty_{table}_{event}" for event in _EVERY_WRITE})
    for table in (
        "availability_weeklyblock",
        "availability_dateoverride",
        "availability_workshophours",
        "availability_mechanicsettings",  # the rules copied into the pieces (0006)
    )
] + [
    (
        "accounts_user",
        {"offered_dirty_update", "offered_dirty_active"},  # zone (0005), active flag (0006)
        {"offered_dirty_accounts_user_update", "offered_dirty_accounts_user_active"},
    ),
    ("accounts_workshop", {"offered_dirty_update"}, {"offered_dirty_accounts_workshop_update"}),
    (
        "accounts_mechanicprofile",
        # type fields and new profiles (0005); approval and deletion (0006)
        {
            "offered_dirty_update",
            "offered_dirty_insert",
            "offered_dirty_approval",
            "offered_dirty_delete",
        },
        {
            "offered_dirty_accounts_mechanicprofile_update",
            "offered_dirty_accounts_mechanicprofile_insert",
            "offered_dirty_accounts_mechanicprofile_approval",
            "offered_dirty_accounts_mechanicprofile_delete",
        },
    ),
]


@pytest.mark.parametrize(("table", "postgres_names", "sqlite_names"), OFFERED_TRIGGERS)
def test_the_offered_time_triggers_exist(table, postgres_names, sqlite_names):
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal",
                [table],
            )
            assert postgres_names <= {row[0] for row in cursor.fetchall()}
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [table]
            )
            assert sqlite_names <= {row[0] for row in cursor.fetchall()}


# The session-fact triggers (analytics 0003): every write that can change a session's
# facts marks the session dirty, so the dashboard recomputes it before reading. A dropped
# trigger would leave a stale fact answering: a wrong figure.
FACT_TRIGGERS = [
    (
        table,
        {"fact_dirty", "fact_dirty_update"},
        {f"fact_dirty_{table}_{event}" for event in _EVERY_WRITE},
    )
    for table in (
        "booking_session",
        "booking_reservation",
        "booking_sessionevent",
        "booking_offer",
        "analytics_sessionrating",
    )
]


@pytest.mark.parametrize(("table", "postgres_names", "sqlite_names"), FACT_TRIGGERS)
def test_the_session_fact_triggers_exist(table, postgres_names, sqlite_names):
    test_the_offered_time_triggers_exist(table, postgres_names, sqlite_names)
