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
each beside the same figures computed from the raw tables, as before the session facts
(tests/analytics/raw_metrics.py, asserted equal first), measured in the same run as the
baseline, with the ratio; then what keeping the facts exact costs (a refresh with 0, 1,
100 dirty sessions; a full build, then VACUUM ANALYZE of the facts on PostgreSQL); then, for (a), the median of each metric function on its own (where the time goes), the
availability service's `offered_minutes` for every mechanic, and the same figure by the
reference path it replaced (`reference_offered_minutes`: the engine over the whole
window, mechanic by mechanic) with its ratio; and, at up to 50,000 sessions, the naive baseline: booking mix + lead time computed
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
                # What autovacuum would do after a bulk load: statistics, and the
                # visibility map that index-only scans need.
                cursor.execute("VACUUM ANALYZE")
        have = history.count()
        print(
            f"generated {have} sessions for {mechanics} mechanics over {days} days"
            f" in {time.perf_counter() - started:.1f} s ({connection.vendor})"
        )
    print(f"{Session.objects.count()} sessions in the database ({connection.vendor})")
    vacuum_facts()  # a reused database: an earlier run may have ended in a full build
    now = timezone.now()
    zone = "America/Toronto"
    month = metrics.Period.last_days(30, now=now)
    whole = metrics.Period.last_days(days, now=now)
    from autodoctor.accounts.models import MechanicProfile

    target = MechanicProfile.objects.get(pk=history.values_list("mechanic_id", flat=True)[0])

    from tests.analytics.raw_metrics import reference_dashboard

    mechanic = metrics.Scope(metrics.MECHANIC, target.pk)

    def mechanic_page(board=metrics.dashboard) -> None:
        board(month, mechanic, now=now, zone=zone)
        selectors.ratings_for_mechanic(target)

    # The facts answer what the raw tables do (the bench's own check, as for offered minutes).
    for period, scope in ((month, metrics.Scope()), (month, mechanic)):
        fact_board = metrics.dashboard(period, scope, now=now, zone=zone)
        assert fact_board == reference_dashboard(period, scope, now=now, zone=zone), scope

    rows = [
        (
            "(a) admin dashboard, 30 days",
            lambda: metrics.dashboard(month, metrics.Scope(), now=now, zone=zone),
            lambda: reference_dashboard(month, metrics.Scope(), now=now, zone=zone),
            runs,
        ),
        (
            "(b) one mechanic's page, 30 days",
            mechanic_page,
            lambda: mechanic_page(reference_dashboard),
            runs,
        ),
        (
            "(c) admin dashboard, whole history",
            lambda: metrics.dashboard(whole, metrics.Scope(), now=now, zone=zone),
            lambda: reference_dashboard(whole, metrics.Scope(), now=now, zone=zone),
            max(1, runs // 3),
        ),
    ]
    print("facts = the session facts (analytics.facts); raw = the same figures from the raw")
    print("tables (tests/analytics/raw_metrics.py), measured in this run as the baseline")
    print(
        f"{'measurement':<40} {'median ms':>10} {'p95 ms':>9} {'target':>8}  raw median / p95  ratio"
    )
    for label, fn, raw, n in rows:
        median, p95 = harness.timed(fn, n)
        raw_median, raw_p95 = harness.timed(raw, n)
        goal = TARGETS_MS.get(label[:3])
        verdict = "" if goal is None else f"≤ {goal} {'ok' if median * 1000 <= goal else 'MISSED'}"
        print(
            f"{label:<40} {median * 1000:>10.1f} {p95 * 1000:>9.1f} {verdict:>8}"
            f"  {raw_median * 1000:>7.1f} / {raw_p95 * 1000:.1f}  ×{raw_median / median:.1f}",
            flush=True,
        )
    refresh_costs()
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
    print(f"(a) by metric, median of {runs} runs each (ms)")
    breakdown(month, now=now, zone=zone, runs=runs)
    print(f"runs: {runs}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


def breakdown(period, *, now, zone: str, runs: int) -> None:
    """The median of each part of the admin dashboard on its own (same JIT setting as
    `metrics.dashboard`; booking mix and reliability only add up `booking_cells`, which
    the dashboard runs once), then offered minutes now and by the reference path."""
    from autodoctor.accounts.models import MechanicProfile
    from autodoctor.analytics import metrics, visits
    from autodoctor.availability import service

    platform = metrics.Scope()
    from tests.analytics import raw_metrics

    raw_cells = raw_metrics.booking_cells(period, platform)
    parts = {
        "booking_cells (mix, lead, reliability)": lambda: metrics.booking_cells(period, platform),
        "  raw": lambda: raw_metrics.booking_cells(period, platform),
        "lead_time, given the cells": lambda: metrics.lead_time(period, platform, cells=cells),
        "  raw ": lambda: raw_metrics.lead_time(period, platform, cells=raw_cells),
        "utilization": lambda: metrics.utilization(period, platform, now=now),
        "peak_times": lambda: metrics.peak_times(period, platform, zone=zone),
        "  raw  ": lambda: raw_metrics.peak_times(period, platform, zone=zone),
        "revenue": lambda: metrics.revenue(period, platform),
        "satisfaction": lambda: metrics.satisfaction(period, platform),
        "  raw   ": lambda: raw_metrics.satisfaction(period, platform),
        "start_now": lambda: metrics.start_now(period, platform),
        "  raw    ": lambda: raw_metrics.start_now(period, platform),
        "bay_utilization": lambda: visits.bay_utilization(period, platform),
        "visit_outcomes": lambda: visits.visit_outcomes(period, platform),
        "response_time": lambda: visits.response_time(period, platform),
    }
    ids = list(MechanicProfile.objects.values_list("pk", flat=True))
    cells = metrics.booking_cells(period, platform)

    def offered() -> dict:
        return service.offered_minutes(ids, period.start, period.end, now=now)

    def reference() -> dict:
        return reference_offered_minutes(ids, period.start, period.end, now=now)

    with metrics._without_jit():
        for name, fn in parts.items():
            print(f"    {name:<36} {harness.timed(fn, runs)[0] * 1000:>10.1f}", flush=True)
        assert offered() == reference(), "offered_minutes disagrees with the reference path"
        fast = harness.timed(offered, runs)[0]
        slow = harness.timed(reference, max(1, runs // 2))[0]
    print(f"    {'offered_minutes, ' + str(len(ids)) + ' mechanics':<36} {fast * 1000:>10.1f}")
    print(f"    {'  the reference path (engine)':<36} {slow * 1000:>10.1f}  ×{slow / fast:.1f}")


def refresh_costs() -> None:
    """What keeping the facts exact costs: a refresh with nothing dirty (every page pays
    it), with 1 and 100 dirty sessions (marked as the triggers would), and a full build."""
    from autodoctor.analytics import facts
    from autodoctor.analytics.models import FactDirty
    from autodoctor.booking.models import Session

    ids = list(Session.objects.order_by("-pk").values_list("pk", flat=True)[:100])
    print("keeping the facts exact (ms)")
    for n in (0, 1, 100):
        median, p95 = harness.timed(
            facts.facts_refresh,
            15,
            setup=lambda n=n: FactDirty.objects.bulk_create(
                [FactDirty(session_id=i) for i in ids[:n]]
            ),
        )
        print(f"    {f'refresh, {n} dirty sessions':<36} {median * 1000:>10.1f} {p95 * 1000:>9.1f}")
    median, _ = harness.timed(facts.facts_rebuild, 1, warm=False)
    print(f"    {'full build (facts_rebuild)':<36} {median * 1000:>10.1f}", flush=True)
    vacuum_facts()


def vacuum_facts() -> None:
    """PostgreSQL: VACUUM ANALYZE the facts, as autovacuum does after a bulk write. A full
    build rewrites every row, which clears the visibility map, and the dashboard's
    covering indexes (analytics 0004) answer from the index alone only on pages marked
    all-visible: without this, the parts timed after a build, and the next run on a
    reused database, would fetch a heap page a row."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE analytics_sessionfact")


def reference_offered_minutes(mechanic_ids, start, end, *, now) -> dict[int, int]:
    """offered_minutes as it was before the day-by-day sum: every mechanic's hours over
    the whole window expanded by the engine (the definition; tests compare the two)."""
    from datetime import timedelta

    from autodoctor.availability import engine, service

    window = engine.Interval(start, end)
    context = service._context(window, timedelta(0))
    loaded = service._load(list(mechanic_ids), context, now=now, with_busy=False)
    out = {}
    for mid, inputs in loaded.items():
        offered = engine.intersection(
            engine.difference(inputs.pieces(window), inputs.time_off), [window]
        )
        out[mid] = int(sum((p.duration for p in offered), timedelta(0)).total_seconds() // 60)
    return out


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
