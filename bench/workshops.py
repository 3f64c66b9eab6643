"""Workshop visits benchmark: prints figures, asserts nothing (issue 11).

    python3 -m uv run python bench/workshops.py [--db sqlite|postgres|both] [--runs 60]

Each database run happens in a child process with its own DATABASE_URL (a temporary
SQLite file, or a PostgreSQL database ``autodoctor_bench`` created and dropped). The
child migrates, creates a 6-bay workshop open 08:00–18:00 Monday to Saturday with 300
confirmed visits over the next 30 days, then measures:

(a) the 30-day listing of free visit times (60 minutes) through the availability service,
    against a naive reference in this file that asks the database, per candidate time,
    how many bays are taken (the plan's per-slot loop);
(b) 50 customers asking for the last free bay at one time, in 50 threads: the outcome
    (exactly one request, 49 refusals with the next free times) and its wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402  (bench/harness.py)

NOW = datetime(2026, 6, 8, 12, 0, tzinfo=UTC)  # a Monday, 08:00 in Toronto
DURATION = timedelta(minutes=60)
BAYS, VISITS, RACERS = 6, 300, 50
TARGET = "≤ 10 ms median (SQLite)"


def main() -> None:
    parser = harness.parser(__doc__, runs=60, database="autodoctor_bench")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args)))
        return
    results = []
    for db in harness.databases(args):
        print(f"==> {db}: migrate, {VISITS} visits at a {BAYS}-bay workshop, measure …", flush=True)
        results.append(run_in_child(db, args))
    print_table(results)


def run_in_child(db: str, args: argparse.Namespace) -> dict:
    return harness.run_in_child(
        __file__, db, ["--runs", str(args.runs)], postgres_url=args.postgres_url
    )


def print_table(results: list[dict]) -> None:
    def ms(value: float) -> str:
        return f"{value * 1000:8.2f}"

    print()
    print(
        f"Workshop visits benchmark — {BAYS} bays, {VISITS} booked visits, now = {NOW:%Y-%m-%d %H:%M} UTC"
    )
    header = f"{'database':<10} {'measurement':<44} {'median ms':>9} {'p95 ms':>8}  target"
    print(header)
    print("-" * (len(header) + 20))
    for r in results:
        for label, (median, p95), target in [
            ("(a) 30-day visit times, 60 min (service)", r["a"], TARGET),
            ("    naive reference: query per candidate", r["naive"], ""),
        ]:
            print(f"{r['db']:<10} {label:<44} {ms(median):>9} {ms(p95):>8}  {target}")
        print(
            f"{r['db']:<10} {'    speed-up over naive (median)':<44} {r['naive'][0] / r['a'][0]:>8.0f}×"
            f"{'':>9}  times: {r['slots']}, same as naive: {r['same_as_naive']}, "
            f"queries: service {r['queries_a']} vs naive {r['queries_naive']}"
        )
        race = r["race"]
        print(
            f"{r['db']:<10} {'(b) 50 customers, last free bay':<44} {race['seconds'] * 1000:>9.0f}"
            f"{'':>9}  outcomes: {race['outcomes']}, visits in that bay: {race['held']}, "
            f"refusals with next times: {race['with_next_times']}"
        )
    print()


# ---------------------------------------------------------------------------- child


def run_child(args: argparse.Namespace) -> dict:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "autodoctor.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from autodoctor.availability import service

    call_command("migrate", verbosity=0)
    workshop, sessions = _world(RACERS)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    window = (NOW, NOW + timedelta(days=30))

    def listing():
        return service.visit_slots(workshop, *window, DURATION, now=NOW)

    def naive():
        return naive_times(workshop, *window, DURATION)

    got, reference = listing(), naive()
    with CaptureQueriesContext(connection) as fast:
        listing()
    with CaptureQueriesContext(connection) as slow:
        naive()
    result = {
        "db": connection.vendor.replace("postgresql", "postgres"),
        "a": harness.timed(listing, args.runs),
        "naive": harness.timed(naive, max(3, args.runs // 20)),
        "slots": len(got),
        "same_as_naive": [s.start for s in got] == reference,
        "queries_a": len(fast.captured_queries),
        "queries_naive": len(slow.captured_queries),
    }
    result["race"] = _race(workshop, sessions)
    return result


def _world(racers: int):
    """The workshop, its 300 confirmed visits (bays and times on the 30-minute grid,
    never two in one bay at once), and `racers` completed sessions of as many customers."""
    import random

    from autodoctor.accounts.models import MechanicProfile, Role, User, Workshop
    from autodoctor.availability.models import WorkshopHours
    from autodoctor.booking.models import Plan, Session
    from autodoctor.workshops.models import Visit

    owner = User.objects.create_user(
        email="bench-owner@example.test", password=None, role=Role.WORKSHOP_STAFF
    )
    workshop = Workshop.objects.create(
        name="Bench Garage",
        city="Toronto",
        postal_code="M5V 2T6",
        owner=owner,
        max_concurrent_appointments=BAYS,
    )
    WorkshopHours.objects.bulk_create(
        WorkshopHours(workshop=workshop, day_of_week=d, open_minute=8 * 60, close_minute=18 * 60)
        for d in range(1, 7)
    )
    customer = User.objects.create_user(email="bench-customer@example.test", password=None)
    rng = random.Random(11)
    taken: set[tuple[int, datetime]] = set()
    visits = []
    while len(visits) < VISITS:
        day = NOW + timedelta(days=rng.randrange(1, 30))
        if day.weekday() == 6:  # Sunday: closed
            continue
        start = day.replace(hour=13) + timedelta(
            minutes=30 * rng.randrange(0, 16)
        )  # 09:00–16:30 local
        length = rng.choice([60, 90, 120])
        bay = rng.randrange(1, BAYS + 1)
        halves = {(bay, start + timedelta(minutes=30 * k)) for k in range(length // 30)}
        if halves & taken:
            continue
        taken |= halves
        visits.append(
            Visit(
                workshop=workshop,
                customer=customer,
                service_type="brakes",
                duration_minutes=length,
                starts_at=start,
                ends_at=start + timedelta(minutes=length),
                bay=bay,
                status="confirmed",
            )
        )
    Visit.objects.bulk_create(visits)
    mechanic_user = User.objects.create_user(
        email="bench-mech@example.test", password=None, role=Role.MECHANIC
    )
    mechanic = MechanicProfile.objects.create(user=mechanic_user, approval_status="approved")
    plan = Plan.objects.get(code="advice")
    sessions = []
    for i in range(racers):
        user = User.objects.create_user(email=f"bench-racer-{i}@example.test", password=None)
        sessions.append(
            Session.objects.create(
                customer=user,
                mechanic=mechanic,
                status="completed",
                plan=plan,
                concern="Grinding noise when braking",
                duration_minutes=30,
            )
        )
    return workshop, sessions


def naive_times(workshop, start: datetime, end: datetime, duration: timedelta) -> list[datetime]:
    """Per candidate on the 30-minute grid: is the workshop open for all of it (one query
    for the hours of that weekday, in its zone) and is some bay free (one query)?"""
    from zoneinfo import ZoneInfo

    from autodoctor.availability.models import WorkshopHours
    from autodoctor.workshops.models import Visit

    zone = ZoneInfo(workshop.time_zone)
    found = []
    candidate = start.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    while candidate < end:
        local_end = candidate + duration
        dow = (candidate.weekday() + 1) % 7  # 0 = Sunday, as the model counts
        minute = candidate.hour * 60 + candidate.minute
        hours = WorkshopHours.objects.filter(
            workshop=workshop, day_of_week=dow, is_open=True
        ).first()
        notice_ok = candidate >= NOW + timedelta(hours=2)
        if (
            candidate >= start
            and notice_ok
            and hours is not None
            and hours.open_minute <= minute
            and minute + duration // timedelta(minutes=1) <= hours.close_minute
        ):
            busy_bays = set(
                Visit.objects.filter(
                    workshop=workshop,
                    status__in=["requested", "countered", "confirmed", "checked_in"],
                    starts_at__lt=local_end,
                    ends_at__gt=candidate,
                ).values_list("bay", flat=True)
            )
            if len(busy_bays) < workshop.max_concurrent_appointments:
                found.append(candidate.astimezone(UTC))
        candidate += timedelta(minutes=30)
    return found


def _race(workshop, sessions) -> dict:
    """Fill every bay but one at the first listed time, then 50 threads ask for it."""
    from django.db import connection

    from autodoctor.availability import service
    from autodoctor.errors import SlotUnavailable
    from autodoctor.workshops.models import Visit
    from autodoctor.workshops.services import VisitRequest, visit_request_from_session

    slot = service.visit_slots(workshop, NOW, NOW + timedelta(days=30), DURATION, now=NOW)[0]
    free = {b for b in range(1, BAYS + 1)} - set(
        Visit.objects.filter(
            workshop=workshop, starts_at__lt=slot.end, ends_at__gt=slot.start
        ).values_list("bay", flat=True)
    )
    for bay in sorted(free)[1:]:  # leave exactly one bay
        Visit.objects.create(
            workshop=workshop,
            customer=sessions[0].customer,
            service_type="brakes",
            duration_minutes=60,
            starts_at=slot.start,
            ends_at=slot.end,
            bay=bay,
            status="confirmed",
        )
    barrier = threading.Barrier(len(sessions))
    outcomes: Counter = Counter()
    with_next = 0
    lock = threading.Lock()

    def run(session) -> None:
        nonlocal with_next
        try:
            barrier.wait(60)
            visit_request_from_session(
                customer=session.customer,
                session_id=session.pk,
                request=VisitRequest(workshop_id=workshop.pk, starts_at=slot.start),
                now=NOW,
            )
            key = "ok"
        except SlotUnavailable as exc:
            key = "409"
            if exc.data.get("next_free_slots"):
                with lock:
                    with_next += 1
        except Exception as exc:  # a 500-style bug is an outcome too
            key = type(exc).__name__
        finally:
            connection.close()
        with lock:
            outcomes[key] += 1

    threads = [threading.Thread(target=run, args=(s,)) for s in sessions]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    seconds = time.perf_counter() - started
    held = Visit.objects.filter(
        workshop=workshop,
        bay=min(free),
        starts_at__lt=slot.end,
        ends_at__gt=slot.start,
        status__in=["requested", "confirmed"],
    ).count()
    return {
        "outcomes": dict(outcomes),
        "held": held,
        "with_next_times": with_next,
        "seconds": seconds,
    }


if __name__ == "__main__":
    main()
