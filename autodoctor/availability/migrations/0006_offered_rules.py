# The offered pieces carry each mechanic's booking rules (issue 15, availability.offered):
# notice, step, advance, buffer and the grid class, so the earliest slot reads its first
# candidates from an index in order; and only mechanics who may be found (approved,
# account active) have pieces, so who-is-free joins no profiles or users. Triggers mark
# the mechanic dirty on every write that changes those rules, its approval or active
# flag, or deletes its profile, like the hours triggers of 0005.

from django.db import migrations, models

DIRTY = "availability_offereddirty"
SETTINGS = "availability_mechanicsettings"
PROFILES = "accounts_mechanicprofile"
USERS = "accounts_user"
# The rules copied into the pieces (offered._rows); allow_instant_booking is not one.
COLUMNS = ["mechanic_id", "min_notice_minutes", "slot_step_minutes", "max_advance_days",
           "buffer_minutes"]  # fmt: skip


# (table, trigger name part, column, mechanic ids using NEW): who may be found changed.
FOUND = [
    (PROFILES, "approval", "approval_status", "SELECT NEW.id"),
    (USERS, "active", "is_active", f"SELECT id FROM {PROFILES} WHERE user_id = NEW.id"),
]


def _sqlite():
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in COLUMNS)
    mark = f"INSERT INTO {DIRTY}(mechanic_id)"
    found = [
        f"CREATE TRIGGER offered_dirty_{table}_{name} AFTER UPDATE OF {column} ON {table}"
        f" WHEN OLD.{column} IS NOT NEW.{column} BEGIN {mark} {select}; END"
        for table, name, column, select in FOUND
    ]
    return found + [
        f"CREATE TRIGGER offered_dirty_{PROFILES}_delete AFTER DELETE ON {PROFILES}"
        f" BEGIN {mark} SELECT OLD.id; END",
        f"CREATE TRIGGER offered_dirty_{SETTINGS}_insert AFTER INSERT ON {SETTINGS}"
        f" BEGIN {mark} SELECT NEW.mechanic_id; END",
        f"CREATE TRIGGER offered_dirty_{SETTINGS}_update AFTER UPDATE ON {SETTINGS}"
        f" WHEN {changed} BEGIN {mark} SELECT OLD.mechanic_id;"
        f" {mark} SELECT NEW.mechanic_id; END",
        f"CREATE TRIGGER offered_dirty_{SETTINGS}_delete AFTER DELETE ON {SETTINGS}"
        f" BEGIN {mark} SELECT OLD.mechanic_id; END",
    ]


def _postgres():
    changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in COLUMNS)
    out = []
    for table, name, column, select in FOUND:
        out += [
            f"CREATE FUNCTION offered_dirty_{table}_{name}() RETURNS trigger LANGUAGE plpgsql"
            f" AS $$ BEGIN INSERT INTO {DIRTY}(mechanic_id) {select}; RETURN NULL; END $$",
            f"CREATE TRIGGER offered_dirty_{name} AFTER UPDATE OF {column} ON {table}"
            f" FOR EACH ROW WHEN (OLD.{column} IS DISTINCT FROM NEW.{column})"
            f" EXECUTE FUNCTION offered_dirty_{table}_{name}()",
        ]
    return out + [
        f"CREATE FUNCTION offered_dirty_{PROFILES}_delete() RETURNS trigger LANGUAGE plpgsql"
        f" AS $$ BEGIN INSERT INTO {DIRTY}(mechanic_id) VALUES (OLD.id); RETURN NULL; END $$",
        f"CREATE TRIGGER offered_dirty_delete AFTER DELETE ON {PROFILES}"
        f" FOR EACH ROW EXECUTE FUNCTION offered_dirty_{PROFILES}_delete()",
        f"CREATE FUNCTION offered_dirty_{SETTINGS}() RETURNS trigger LANGUAGE plpgsql AS $$"
        f" BEGIN IF TG_OP = 'UPDATE' AND NOT ({changed}) THEN RETURN NULL; END IF;"
        f" IF TG_OP <> 'INSERT' THEN INSERT INTO {DIRTY}(mechanic_id) VALUES (OLD.mechanic_id);"
        f" END IF; IF TG_OP <> 'DELETE' THEN INSERT INTO {DIRTY}(mechanic_id)"
        f" VALUES (NEW.mechanic_id); END IF; RETURN NULL; END $$",
        f"CREATE TRIGGER offered_dirty AFTER INSERT OR UPDATE OR DELETE ON {SETTINGS}"
        f" FOR EACH ROW EXECUTE FUNCTION offered_dirty_{SETTINGS}()",
    ]


def _drop_sqlite():
    rows = [f"DROP TRIGGER offered_dirty_{SETTINGS}_{e}" for e in ("insert", "update", "delete")]
    rows += [f"DROP TRIGGER offered_dirty_{table}_{name}" for table, name, _, _ in FOUND]
    return rows + [f"DROP TRIGGER offered_dirty_{PROFILES}_delete"]


def _drop_postgres():
    rows = [f"DROP FUNCTION offered_dirty_{SETTINGS}() CASCADE"]
    rows += [f"DROP FUNCTION offered_dirty_{table}_{name}() CASCADE" for table, name, _, _ in FOUND]
    return rows + [f"DROP FUNCTION offered_dirty_{PROFILES}_delete() CASCADE"]


def _run(statements):
    def run(apps, schema_editor):
        for sql in statements[schema_editor.connection.vendor]():
            schema_editor.execute(sql)

    return run


def forget_pieces(apps, schema_editor):
    # Pieces built before this migration lack the rules: drop them and the range, so the
    # reads use the set-based code until the periodic refresh rebuilds (offered_refresh).
    apps.get_model("availability", "OfferedPiece").objects.all().delete()
    apps.get_model("availability", "OfferedRange").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("availability", "0005_offered_pieces"),
    ]

    operations = [
        migrations.RunPython(forget_pieces, migrations.RunPython.noop),
        # Rebuilds write every column (offered._rows); defaults only fill the empty table.
        *[
            migrations.AddField(
                model_name="offeredpiece", name=name, field=models.BigIntegerField(default=value)
            )
            for name, value in [("notice_s", 0), ("step_s", 60), ("advance_s", 0),
                                ("buffer_s", 0), ("grid_class", 0)]
        ],  # fmt: skip
        migrations.AddIndex(
            model_name="offeredpiece",
            index=models.Index(
                fields=["grid_class", "bucket", "mechanic_id", "start_s", "end_s", "span_end_s",
                        "advance_s"],
                name="offered_class_bucket",
            ),
        ),
        migrations.AddIndex(
            model_name="offeredpiece",
            index=models.Index(
                fields=["grid_class", "start_s", "mechanic_id"], name="offered_class_start"
            ),
        ),
        migrations.RunPython(_run({"sqlite": _sqlite, "postgresql": _postgres}),
                             _run({"sqlite": _drop_sqlite, "postgresql": _drop_postgres})),  # fmt: skip
    ]
