"""Analytics benchmark: prints figures, asserts nothing (issue 12).

    python3 -m uv run python bench/analytics.py [--mechanics 50] [--days 365] [--runs 15]

Runs against a fresh temporary SQLite file, or against DATABASE_URL when it names a
PostgreSQL database you made for it (its tables are migrated and filled). Generates a year
of history in bulk (per mechanic one advance booking a day with a confirmed reservation,
plus start-now sessions, some cancelled, some rated), then times:

(a) the admin dashboard's metrics (`metrics.dashboard`, platform scope, last 30 / 365 days);
(b) one mechanic's page metrics (`metrics.dashboard`, mechanic scope, last 30 days);
against a baseline measured in the same run: booking mix + lead time computed the naive
way (every session loaded and checked row by row with its own reservation query).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import harness  # bench/harness.py (the script's own folder is on sys.path)

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 6, 8, 14, 0, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mechanics", type=int, default=50)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="autodoctor-bench-")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{tmp}/bench.sqlite3")
    os.environ.update(AUTODOCTOR_VAR_DIR=tmp, DEBUG="false", SECRET_KEY="bench-only")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "autodoctor.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    target, sessions = generate(args.mechanics, args.days)
    print(
        f"generated {sessions} sessions for {args.mechanics} mechanics over {args.days} days"
        f" in {time.perf_counter() - started:.1f} s ({connection.vendor})"
    )
    from autodoctor.analytics import metrics

    zone = "America/Toronto"
    month = metrics.Period.last_days(30, now=NOW)
    year = metrics.Period.last_days(args.days, now=NOW)
    rows = [
        (
            "(a) admin dashboard, 30 days",
            lambda: metrics.dashboard(month, metrics.Scope(), now=NOW, zone=zone),
        ),
        (
            "(a) admin dashboard, whole history",
            lambda: metrics.dashboard(year, metrics.Scope(), now=NOW, zone=zone),
        ),
        (
            "(b) one mechanic's page, 30 days",
            lambda: metrics.dashboard(
                month, metrics.Scope(metrics.MECHANIC, target), now=NOW, zone=zone
            ),
        ),
        (
            "    booking mix + lead time, whole history",
            lambda: (
                metrics.booking_mix(year, metrics.Scope()),
                metrics.lead_time(year, metrics.Scope()),
            ),
        ),
    ]
    results = [(label, harness.timed(fn, args.runs, warm=False)) for label, fn in rows]
    baseline = harness.timed(lambda: naive_mix_and_lead(year), max(2, args.runs // 5), warm=False)
    print(f"{'measurement':<44} {'median ms':>10} {'p95 ms':>9}")
    for label, (median, p95) in results:
        print(f"{label:<44} {median * 1000:>10.1f} {p95 * 1000:>9.1f}")
    print(
        f"{'    baseline: the same, row by row':<44} {baseline[0] * 1000:>10.1f} {baseline[1] * 1000:>9.1f}"
    )
    print(f"{'    ratio baseline ÷ SQL (median)':<44} {baseline[0] / results[3][1][0]:>9.0f}×")


def naive_mix_and_lead(period) -> tuple[int, int, float | None]:
    """The reference: every session of the period loaded, each checked with its own query."""
    from autodoctor.booking.models import Reservation, Session

    advance = immediate = 0
    leads = []
    for s in Session.objects.filter(created_at__gte=period.start, created_at__lt=period.end):
        if s.scheduled_for is None:
            immediate += s.offered_at is not None
        elif Reservation.objects.filter(session=s, confirmed_at__isnull=False).exists():
            advance += 1
            leads.append(s.scheduled_for - s.created_at)
    leads.sort()
    return advance, immediate, leads[len(leads) // 2].total_seconds() / 60 if leads else None


def generate(mechanics: int, days: int) -> tuple[int, int]:
    """Bulk rows: returns (a mechanic id, sessions made)."""
    from django.apps import apps
    from django.db import transaction

    from autodoctor.accounts.models import CustomerProfile, MechanicProfile, Role, User
    from autodoctor.analytics.models import SessionRating
    from autodoctor.availability.models import WeeklyBlock
    from autodoctor.booking.models import Plan, Reservation, Session

    rng = random.Random(12)
    with transaction.atomic():
        if not Plan.objects.exists():
            import importlib

            importlib.import_module(
                "autodoctor.booking.migrations.0002_overlap_guard_and_plans"
            ).create_plans(apps, None)
        plans = list(Plan.objects.all())
        users = User.objects.bulk_create(
            User(
                email=f"bench-m{i}@example.test",
                full_name=f"Bench Mechanic {i:03}",
                role=Role.MECHANIC,
                time_zone="America/Toronto",
            )
            for i in range(mechanics)
        )
        users = list(User.objects.filter(email__startswith="bench-m").order_by("pk"))
        MechanicProfile.objects.bulk_create(
            MechanicProfile(user=u, approval_status="approved") for u in users
        )
        profiles = list(MechanicProfile.objects.filter(user__in=users).order_by("pk"))
        WeeklyBlock.objects.bulk_create(
            WeeklyBlock(mechanic=m, day_of_week=d, start_minute=9 * 60, end_minute=17 * 60)
            for m in profiles
            for d in range(5)
        )
        customers = User.objects.bulk_create(
            User(
                email=f"bench-c{i}@example.test",
                full_name=f"Bench Customer {i}",
                role=Role.CUSTOMER,
            )
            for i in range(200)
        )
        customers = list(User.objects.filter(email__startswith="bench-c"))
        CustomerProfile.objects.bulk_create(CustomerProfile(user=c) for c in customers)
        start = NOW - timedelta(days=days)
        rows, pins = [], []
        for m_index, m in enumerate(profiles):
            for day in range(days):
                at = start + timedelta(days=day, hours=13 + m_index % 6)
                cancelled = rng.random() < 0.08
                rows.append(
                    Session(
                        customer=rng.choice(customers),
                        mechanic=m,
                        plan=rng.choice(plans),
                        status="cancelled" if cancelled else "completed",
                        concern="bench",
                        duration_minutes=30,
                        scheduled_for=at,
                        cancelled_by="customer" if cancelled else "",
                        created_at=at - timedelta(hours=rng.randint(1, 240)),
                    )
                )
                pins.append((m, at, cancelled))
            for day in range(0, days, 9):
                at = start + timedelta(days=day, hours=20)
                rows.append(
                    Session(
                        customer=rng.choice(customers),
                        mechanic=m,
                        plan=plans[0],
                        status="completed",
                        concern="bench",
                        duration_minutes=15,
                        offered_at=at,
                        created_at=at,
                    )
                )
        made_at = [r.created_at for r in rows]  # auto_now_add overwrites them on insert
        created = Session.objects.bulk_create(rows, batch_size=2000)
        if created[0].pk is None:
            created = list(Session.objects.order_by("pk"))
        for s, at in zip(created, made_at, strict=True):
            s.created_at = at
        Session.objects.bulk_update(created, ["created_at"], batch_size=2000)
        scheduled = [s for s in created if s.scheduled_for is not None]
        Reservation.objects.bulk_create(
            (
                Reservation(
                    mechanic=m,
                    session=s,
                    starts_at=at,
                    ends_at=at + timedelta(minutes=30),
                    blocked_until=at + timedelta(minutes=30),
                    status="released" if cancelled else "confirmed",
                    confirmed_at=s.created_at,
                )
                for s, (m, at, cancelled) in zip(scheduled, pins, strict=True)
            ),
            batch_size=2000,
        )
        SessionRating.objects.bulk_create(
            (
                SessionRating(
                    session=s,
                    mechanic_id=s.mechanic_id,
                    customer_id=s.customer_id,
                    score=rng.randint(3, 5),
                    created_at=s.created_at,
                    updated_at=s.created_at,
                )
                for s in created
                if s.status == "completed" and rng.random() < 0.3
            ),
            batch_size=2000,
        )
    return profiles[0].pk, len(created)


if __name__ == "__main__":
    main()
