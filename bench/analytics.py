"""Analytics benchmark: prints figures, asserts nothing (issue 12).

    python3 -m uv run python bench/analytics.py                        # ~20k sessions, SQLite
    DATABASE_URL=postgres://…/ad_bench python3 -m uv run python bench/analytics.py
    ANALYTICS_BENCH_SESSIONS=1000000 ANALYTICS_BENCH_RUNS=5 DATABASE_URL=… python3 -m uv run python bench/analytics.py

Runs against a fresh temporary SQLite file, or against DATABASE_URL when it names a
PostgreSQL database you made for it (migrated, then filled). The history is the one
`manage.py seed_demo --mechanics N --history DAYS` writes (a realistic mix: plans,
advance / start-now, cancellations, no-shows, reschedules, ratings; about 0.9 sessions a
mechanic-day), with N chosen to reach ANALYTICS_BENCH_SESSIONS (default 20,000) over
ANALYTICS_BENCH_DAYS (default 365). A database that already holds that history is reused
(no second fill), so a 1,000,000-session run can be timed again. Then times, with
ANALYTICS_BENCH_RUNS samples each (default 15):

(a) the admin dashboard (`metrics.dashboard`, platform scope, last 30 days) — target
    ≤ 300 ms median on PostgreSQL;
(b) one mechanic's page (`metrics.dashboard` for that mechanic, last 30 days, plus their
    latest ratings) — target ≤ 30 ms;
(c) the admin dashboard over the whole history (information);
and, at up to 50,000 sessions, the naive baseline: booking mix + lead time computed
row by row (every session loaded, each checked with its own reservation query).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import harness  # bench/harness.py (the script's own folder is on sys.path)

ROOT = Path(__file__).resolve().parent.parent
SESSIONS_A_MECHANIC_DAY = 0.9  # seed_demo --history (accounts/management/commands/_history.py)
TARGETS_MS = {"(a)": 300, "(b)": 30}


def main() -> None:
    sessions = int(os.environ.get("ANALYTICS_BENCH_SESSIONS", "20000"))
    days = int(os.environ.get("ANALYTICS_BENCH_DAYS", "365"))
    runs = int(os.environ.get("ANALYTICS_BENCH_RUNS", "15"))
    tmp = tempfile.mkdtemp(prefix="autodoctor-bench-")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{tmp}/bench.sqlite3")
    os.environ.update(AUTODOCTOR_VAR_DIR=tmp, DEBUG="false", SECRET_KEY="bench-only")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "autodoctor.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from autodoctor.analytics import metrics, selectors
    from autodoctor.booking.models import Session

    call_command("migrate", verbosity=0)
    history = Session.objects.filter(metadata__has_key="demo_history")
    have = history.count()
    if have < 0.9 * sessions:
        mechanics = max(1, round(sessions / (SESSIONS_A_MECHANIC_DAY * days)))
        started = time.perf_counter()
        call_command("seed_demo", mechanics=mechanics, history=days, quiet=True)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")  # what autovacuum would do after a bulk load
        have = history.count()
        print(
            f"generated {have} sessions for {mechanics} mechanics over {days} days"
            f" in {time.perf_counter() - started:.1f} s ({connection.vendor})"
        )
    print(f"{Session.objects.count()} sessions in the database ({connection.vendor})")
    now = timezone.now()
    zone = "America/Toronto"
    month = metrics.Period.last_days(30, now=now)
    whole = metrics.Period.last_days(days, now=now)
    from autodoctor.accounts.models import MechanicProfile

    target = MechanicProfile.objects.get(pk=history.values_list("mechanic_id", flat=True)[0])

    def mechanic_page() -> None:
        metrics.dashboard(month, metrics.Scope(metrics.MECHANIC, target.pk), now=now, zone=zone)
        selectors.ratings_for_mechanic(target)

    rows = [
        (
            "(a) admin dashboard, 30 days",
            lambda: metrics.dashboard(month, metrics.Scope(), now=now, zone=zone),
            runs,
        ),
        ("(b) one mechanic's page, 30 days", mechanic_page, runs),
        (
            "(c) admin dashboard, whole history",
            lambda: metrics.dashboard(whole, metrics.Scope(), now=now, zone=zone),
            max(1, runs // 3),
        ),
    ]
    print(f"{'measurement':<40} {'median ms':>10} {'p95 ms':>9} {'target':>8}")
    for label, fn, n in rows:
        median, p95 = harness.timed(fn, n)
        goal = TARGETS_MS.get(label[:3])
        verdict = "" if goal is None else f"≤ {goal} {'ok' if median * 1000 <= goal else 'MISSED'}"
        print(f"{label:<40} {median * 1000:>10.1f} {p95 * 1000:>9.1f} {verdict:>8}", flush=True)
    if have <= 50_000:
        sql = harness.timed(
            lambda: (
                metrics.booking_mix(whole, metrics.Scope()),
                metrics.lead_time(whole, metrics.Scope()),
            ),
            runs,
        )
        naive = harness.timed(lambda: naive_mix_and_lead(whole), max(2, runs // 5), warm=False)
        print(
            f"{'    booking mix + lead time, SQL':<40} {sql[0] * 1000:>10.1f} {sql[1] * 1000:>9.1f}"
        )
        print(f"{'    the same, row by row':<40} {naive[0] * 1000:>10.1f} {naive[1] * 1000:>9.1f}")
    print(f"runs: {runs}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


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


if __name__ == "__main__":
    main()
