"""The double-booking guarantee (ARCHITECTURE invariant 1) and the default plans.

PostgreSQL: an exclusion constraint over (mechanic_id =, tstzrange(starts_at,
blocked_until) &&) for active statuses, using btree_gist.
SQLite: triggers that abort an insert/update creating an overlap. With
transaction_mode=IMMEDIATE the writer holds the database lock from BEGIN, so the
trigger's check and the write cannot interleave with another writer.
"""

from django.db import migrations

ACTIVE = "('reserved', 'confirmed')"

PG_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    f"""ALTER TABLE booking_reservation ADD CONSTRAINT reservation_no_overlap
        EXCLUDE USING gist (mechanic_id WITH =, tstzrange(starts_at, blocked_until, '[)') WITH &&)
        WHERE (status IN {ACTIVE})""",
]
PG_BACKWARD = ["ALTER TABLE booking_reservation DROP CONSTRAINT IF EXISTS reservation_no_overlap"]

_SQLITE_OVERLAP = f"""
    NEW.status IN {ACTIVE} AND EXISTS (
        SELECT 1 FROM booking_reservation r
        WHERE r.mechanic_id = NEW.mechanic_id AND r.id IS NOT NEW.id
          AND r.status IN {ACTIVE}
          AND r.starts_at < NEW.blocked_until AND NEW.starts_at < r.blocked_until)
"""
SQLITE_FORWARD = [
    f"""CREATE TRIGGER reservation_no_overlap_insert BEFORE INSERT ON booking_reservation
        WHEN {_SQLITE_OVERLAP}
        BEGIN SELECT RAISE(ABORT, 'reservation_no_overlap'); END""",
    f"""CREATE TRIGGER reservation_no_overlap_update
        BEFORE UPDATE OF mechanic_id, starts_at, blocked_until, status ON booking_reservation
        WHEN {_SQLITE_OVERLAP}
        BEGIN SELECT RAISE(ABORT, 'reservation_no_overlap'); END""",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS reservation_no_overlap_insert",
    "DROP TRIGGER IF EXISTS reservation_no_overlap_update",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for sql in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


PLANS = [
    # code, name, price (CAD cents), is_free, description
    ("free", "Free first look", 0, True, "15 minutes, no charge (waiver required)"),
    ("trial", "Trial session", 0, True, "15 minutes, once per customer (waiver required)"),
    ("quick", "Quick question", 1499, False, "15 minutes with a mechanic"),
    ("advice", "Advice session", 2999, False, "30 minutes: diagnose and plan the repair"),
    ("premium", "Premium diagnostic", 4999, False, "60 minutes: in-depth diagnostic"),
    ("urgent", "Urgent help", 2499, False, "15 minutes, first available mechanic"),
]


def create_plans(apps, schema_editor):
    Plan = apps.get_model("booking", "Plan")
    for order, (code, name, cents, free, desc) in enumerate(PLANS):
        Plan.objects.get_or_create(
            code=code,
            defaults={"name": name, "price_cents": cents, "is_free": free, "description": desc, "sort_order": order},
        )


class Migration(migrations.Migration):
    dependencies = [("booking", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": PG_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": PG_BACKWARD, "sqlite": SQLITE_BACKWARD}),
        ),
        migrations.RunPython(create_plans, migrations.RunPython.noop),
    ]
