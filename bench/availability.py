"""Availability benchmark: prints figures, asserts nothing (issue 4).

    python3 -m uv run python bench/availability.py [--db sqlite|postgres|both] [--mechanics 5000]

Each database run happens in a child process with its own DATABASE_URL: a temporary
SQLite file, or a PostgreSQL database ``autodoctor_bench`` that is created and dropped.
The child migrates, runs ``seed_demo --mechanics N``, adds bookings (through a busy source
registered like the booking app registers its own, backed by a small table of its own so
the run does not depend on the booking app) and time off, then measures:

(a) a 30-day slot list for one mechanic with bookings and time off, against a naive
    reference in this file that checks every candidate slot with its own queries
    (the plan's ``isAvailable`` loop: blocks, time off, conflicts, notice per candidate);
(b) who is free in the next hour across all mechanics;
(c) the earliest slot across all mechanics.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import harness  # bench/harness.py (the script's own folder is on sys.path)

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 6, 8, 14, 0, tzinfo=UTC)  # a Monday, 10:00 in Toronto
DURATION = timedelta(minutes=30)
TARGETS = {
    "a": "≤ 5 ms median (SQLite), ≥ 50× naive",
    "b": "≤ 50 ms median",
    "c": "≤ 100 ms median",
}


# ---------------------------------------------------------------------------- parent


def main() -> None:
    parser = harness.parser(__doc__, runs=60, database="autodoctor_bench")
    parser.add_argument("--mechanics", type=int, default=5000)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args)))
        return

    results = []
    for db in harness.databases(args):
        print(f"==> {db}: migrate, seed_demo --mechanics {args.mechanics}, measure …", flush=True)
        results.append(run_in_child(db, args))
    print_table(results, args.mechanics)


def run_in_child(db: str, args: argparse.Namespace) -> dict:
    child = ["--mechanics", str(args.mechanics), "--runs", str(args.runs)]
    return harness.run_in_child(__file__, db, child, postgres_url=args.postgres_url)


def print_table(results: list[dict], mechanics: int) -> None:
    def ms(value: float) -> str:
        return f"{value * 1000:8.2f}"

    print()
    print(
        f"Availability benchmark — {mechanics} generated mechanics (+ demo), now = {NOW:%Y-%m-%d %H:%M} UTC"
    )
    header = f"{'database':<10} {'measurement':<46} {'median ms':>9} {'p95 ms':>8}  target"
    print(header)
    print("-" * len(header) + "-" * 20)
    for r in results:
        rows = [
            ("(a) 30-day slots, 1 mechanic (service)", r["a"], TARGETS["a"]),
            ("    naive reference: query per candidate", r["naive"], ""),
            (f"(b) who is free next hour ({r['population']} mechanics)", r["b"], TARGETS["b"]),
            ("    … first bookable hour (now+2h, after notice)", r["b2"], TARGETS["b"]),
            (f"(c) earliest slot ({r['population']} mechanics)", r["c"], TARGETS["c"]),
        ]
        for label, (median, p95), target in rows:
            print(f"{r['db']:<10} {label:<46} {ms(median):>9} {ms(p95):>8}  {target}")
        speedup = r["naive"][0] / r["a"][0]
        print(
            f"{r['db']:<10} {'    speed-up over naive (median)':<46} {speedup:>8.0f}×"
            f"{'':>9}  slots: {r['slots']}, same as naive: {r['same_as_naive']}, "
            f"queries: service {r['queries_a']} vs naive {r['queries_naive']}"
        )
        print(
            f"{r['db']:<10} {'    answers':<46} free next hour: {r['free']}, "
            f"free in the first bookable hour: {r['free_bookable']}, "
            f"earliest: mechanic {r['earliest'][0]} at {r['earliest'][1]}"
        )
        print(f"{r['db']:<10} {'    seeding':<46} {r['seed_seconds']:.1f} s")
    print()


# ---------------------------------------------------------------------------- child


def run_child(args: argparse.Namespace) -> dict:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "autodoctor.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    with open(os.devnull, "w") as quiet:
        call_command("seed_demo", mechanics=args.mechanics, quiet=True, stdout=quiet)
    seed_seconds = time.perf_counter() - started

    from autodoctor.accounts.models import MechanicProfile
    from autodoctor.availability import service

    target = _target_mechanic()
    _create_busy_table(connection)
    _add_bookings(connection, target)
    _add_time_off(target)
    service.register_busy_source(bench_busy)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    window = (NOW, NOW + timedelta(days=30))

    def slots():
        return service.available_slots(target, *window, DURATION, now=NOW)

    def naive():
        return naive_slots(target.pk, *window, DURATION, now=NOW)

    def free():
        return service.mechanics_free_between(NOW, NOW + timedelta(hours=1), now=NOW)

    # With the default 2-hour notice nobody can be booked for [now, now+1h]; the first
    # hour a customer can actually book is [now+2h, now+3h].
    def free_bookable():
        return service.mechanics_free_between(
            NOW + timedelta(hours=2), NOW + timedelta(hours=3), now=NOW
        )

    def earliest():
        return service.earliest_slot(DURATION, now=NOW)

    fast, slow = slots(), naive()
    same = [(s.start, s.end) for s in fast] == slow
    queries_a = _count_queries(connection, slots)
    queries_naive = _count_queries(connection, naive)
    found = earliest()
    return {
        "db": args.child,
        "population": MechanicProfile.objects.count(),
        "seed_seconds": seed_seconds,
        "a": harness.timed(slots, args.runs),
        "naive": harness.timed(naive, 3),
        "b": harness.timed(free, args.runs),
        "b2": harness.timed(free_bookable, args.runs),
        "c": harness.timed(earliest, args.runs),
        "slots": len(fast),
        "same_as_naive": same,
        "queries_a": queries_a,
        "queries_naive": queries_naive,
        "free": len(free()),
        "free_bookable": len(free_bookable()),
        "earliest": [found[0], found[1].start.isoformat()] if found else [None, None],
    }


def _count_queries(connection, fn) -> int:
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        fn()
    return len(queries)


def _target_mechanic():
    from autodoctor.accounts.models import MechanicProfile

    # The README's virtual-only demo mechanic: Mon–Fri 09:00–17:00 in Toronto.
    return MechanicProfile.objects.select_related("user").get(
        user__email="mechanic.virtual@demo.autodoctor.test"
    )


BUSY_TABLE = "bench_busy"


def _create_busy_table(connection) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {BUSY_TABLE}")
        cursor.execute(
            f"CREATE TABLE {BUSY_TABLE} (id integer PRIMARY KEY, mechanic_id bigint NOT NULL,"
            " starts_at timestamp NOT NULL, ends_at timestamp NOT NULL)"
        )
        cursor.execute(
            f"CREATE INDEX {BUSY_TABLE}_mechanic ON {BUSY_TABLE} (mechanic_id, starts_at)"
        )
        cursor.execute(f"CREATE INDEX {BUSY_TABLE}_start ON {BUSY_TABLE} (starts_at)")


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


def _add_bookings(connection, target) -> None:
    """Two bookings a weekday for the target; one in the next hours for every 5th mechanic."""
    from autodoctor.accounts.models import MechanicProfile

    rows = []
    for day in range(30):
        start = NOW + timedelta(days=day, hours=1)  # 11:00 Toronto
        rows.append((target.pk, start, start + timedelta(minutes=30)))
        rows.append((target.pk, start + timedelta(hours=4), start + timedelta(hours=5)))
    ids = MechanicProfile.objects.order_by("pk").values_list("pk", flat=True)
    for n, mechanic_id in enumerate(ids):
        if n % 5 == 0:
            start = NOW + timedelta(minutes=15 * (n % 8))
            rows.append((mechanic_id, start, start + timedelta(minutes=30)))
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {BUSY_TABLE} (id, mechanic_id, starts_at, ends_at) VALUES (%s, %s, %s, %s)",
            [(n + 1, m, _naive_utc(s), _naive_utc(e)) for n, (m, s, e) in enumerate(rows)],
        )


def _add_time_off(target) -> None:
    from autodoctor.availability.models import TimeOff

    TimeOff.objects.create(
        mechanic=target,
        starts_at=NOW + timedelta(days=9),
        ends_at=NOW + timedelta(days=11),
        status="approved",
        reason="bench: two days off",
    )
    TimeOff.objects.create(
        mechanic=target,
        starts_at=NOW + timedelta(days=3, hours=2),
        ends_at=NOW + timedelta(days=3, hours=4),
        status="approved",
        reason="bench: dentist",
    )


def bench_busy(mechanic_ids, window, *, now):
    """The benchmark's busy source: one query on its own table."""
    from django.db import connection

    from autodoctor.availability.engine import Interval

    sql = f"SELECT mechanic_id, starts_at, ends_at FROM {BUSY_TABLE} WHERE starts_at < %s AND ends_at > %s"
    params: list = [_naive_utc(window.end), _naive_utc(window.start)]
    if mechanic_ids is not None:
        ids = list(mechanic_ids)
        sql += f" AND mechanic_id IN ({', '.join(['%s'] * len(ids))})"
        params += ids
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [(m, Interval(_aware(s), _aware(e))) for m, s, e in rows]


def _aware(value) -> datetime:
    if isinstance(value, str):  # SQLite returns text for an unmanaged table
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC)


# ---------------------------------------------------------------------------- naive


def naive_slots(mechanic_id: int, start: datetime, end: datetime, duration: timedelta, *, now):
    """The plan's §6.2 loop: generate candidates from the blocks, then ask the database
    about each candidate (blocks, time off, conflicts, settings). Virtual-only mechanics."""
    from zoneinfo import ZoneInfo

    from autodoctor.accounts.models import MechanicProfile
    from autodoctor.availability.models import MechanicSettings, WeeklyBlock

    mechanic = MechanicProfile.objects.select_related("user").get(pk=mechanic_id)
    zone = ZoneInfo(mechanic.user.time_zone)
    step = timedelta(
        minutes=MechanicSettings.objects.get(mechanic_id=mechanic_id).slot_step_minutes
    )
    blocks = list(WeeklyBlock.objects.filter(mechanic_id=mechanic_id))
    out = []
    day = start.astimezone(zone).date()
    while datetime(day.year, day.month, day.day, tzinfo=zone) < end:
        dow = (day.weekday() + 1) % 7
        for block in sorted(blocks, key=lambda b: b.start_minute):
            if block.day_of_week != dow:
                continue
            midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
            candidate = midnight + timedelta(minutes=block.start_minute)
            block_end = midnight + timedelta(minutes=block.end_minute)
            while candidate < block_end:
                if start <= candidate < end and naive_is_available(
                    mechanic_id, candidate, candidate + duration, now=now
                ):
                    out.append((candidate.astimezone(UTC), (candidate + duration).astimezone(UTC)))
                candidate += step
        day += timedelta(days=1)
    return out


def naive_is_available(mechanic_id: int, start: datetime, end: datetime, *, now) -> bool:
    from django.db import connection

    from autodoctor.accounts.models import MechanicProfile
    from autodoctor.availability.models import MechanicSettings, TimeOff, WeeklyBlock

    mechanic = MechanicProfile.objects.select_related("user").get(pk=mechanic_id)
    local_start = start.astimezone(mechanic.user.zone)
    local_end = end.astimezone(mechanic.user.zone)
    minute = local_start.hour * 60 + local_start.minute
    end_minute = (local_end.hour * 60 + local_end.minute) or 1440
    if not WeeklyBlock.objects.filter(
        mechanic_id=mechanic_id,
        day_of_week=(local_start.weekday() + 1) % 7,
        start_minute__lte=minute,
        end_minute__gte=end_minute,
    ).exists():
        return False
    if TimeOff.objects.filter(
        mechanic_id=mechanic_id,
        status__in=["approved", "pending"],
        starts_at__lt=end,
        ends_at__gt=start,
    ).exists():
        return False
    rules = MechanicSettings.objects.get(mechanic_id=mechanic_id)
    buffer = timedelta(minutes=rules.buffer_minutes)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {BUSY_TABLE} WHERE mechanic_id = %s AND starts_at < %s AND ends_at > %s",
            [mechanic_id, _naive_utc(end + buffer), _naive_utc(start - buffer)],
        )
        if cursor.fetchone():
            return False
    if start < now + timedelta(minutes=rules.min_notice_minutes):
        return False
    return start <= now + timedelta(days=rules.max_advance_days)


if __name__ == "__main__":
    main()
