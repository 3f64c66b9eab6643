"""The bay guarantee (ARCHITECTURE invariant 1 for workshops): two visits that hold
time may not share a bay of one workshop at overlapping times, so a workshop never has
more visits at once than bays.

PostgreSQL: an exclusion constraint over (workshop_id =, bay =, tstzrange(starts_at,
ends_at) &&) for the holding statuses, using btree_gist (created by booking 0002).
SQLite: triggers that abort an insert/update creating an overlap; with
transaction_mode=IMMEDIATE the writer holds the database lock from BEGIN, so the check
and the write cannot interleave with another writer.
"""

from django.db import migrations

HOLDING = "('requested', 'countered', 'confirmed', 'checked_in')"

PG_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    f"""ALTER TABLE workshops_visit ADD CONSTRAINT visit_bay_no_overlap
        EXCLUDE USING gist (workshop_id WITH =, bay WITH =,
                            tstzrange(starts_at, ends_at, '[)') WITH &&)
        WHERE (status IN {HOLDING})""",
]
PG_BACKWARD = ["ALTER TABLE workshops_visit DROP CONSTRAINT IF EXISTS visit_bay_no_overlap"]

_SQLITE_OVERLAP = f"""
    NEW.status IN {HOLDING} AND EXISTS (
        SELECT 1 FROM workshops_visit v
        WHERE v.workshop_id = NEW.workshop_id AND v.bay = NEW.bay AND v.id IS NOT NEW.id
          AND v.status IN {HOLDING}
          AND v.starts_at < NEW.ends_at AND NEW.starts_at < v.ends_at)
"""
SQLITE_FORWARD = [
    f"""CREATE TRIGGER visit_bay_no_overlap_insert BEFORE INSERT ON workshops_visit
        WHEN {_SQLITE_OVERLAP}
        BEGIN SELECT RAISE(ABORT, 'visit_bay_no_overlap'); END""",
    f"""CREATE TRIGGER visit_bay_no_overlap_update
        BEFORE UPDATE OF workshop_id, bay, starts_at, ends_at, status ON workshops_visit
        WHEN {_SQLITE_OVERLAP}
        BEGIN SELECT RAISE(ABORT, 'visit_bay_no_overlap'); END""",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS visit_bay_no_overlap_insert",
    "DROP TRIGGER IF EXISTS visit_bay_no_overlap_update",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for sql in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("workshops", "0001_initial"), ("booking", "0002_overlap_guard_and_plans")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": PG_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": PG_BACKWARD, "sqlite": SQLITE_BACKWARD}),
        ),
    ]
