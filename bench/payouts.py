"""Payout run benchmark: prints figures, asserts nothing (issue 18).

    python3 -m uv run python bench/payouts.py [--db sqlite|postgres|both] [--payees 5000]

Each database run happens in a child process with its own DATABASE_URL (a temporary
SQLite file, or a PostgreSQL database ``autodoctor_bench_payouts`` created and dropped).
It bulk-builds `--payees` mechanics with a payout account, each with `--rows` unpaid
ledger rows (earnings of paid sessions), then times:

- **claim**: `payout_run_start` — the run's one transaction that records the run, one
  payout per payee and one item per ledger row (the transfers are left out: they are
  one provider call per payee whatever the code does, timed separately);
- **naive**: the same claim written as a loop per payee (query its unpaid rows, insert
  its payout, insert each item), the shape the run would have without bulk queries;
- **send**: `payout_send` per payout through the simulated provider (median/p95 per
  transfer, and the total for all payees).

Between timed runs the claims are undone (untimed), so every run pays every payee.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 6, 8, 14, 0, tzinfo=UTC)


def main() -> None:
    parser = harness.parser(__doc__, runs=7, database="autodoctor_bench_payouts")
    parser.add_argument("--payees", type=int, default=5000)
    parser.add_argument("--rows", type=int, default=2, help="unpaid ledger rows per payee")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args)))
        return
    results = []
    for db in harness.databases(args):
        print(f"==> {db}: migrate, {args.payees} payees × {args.rows} rows, measure …", flush=True)
        child = ["--payees", str(args.payees), "--rows", str(args.rows), "--runs", str(args.runs)]
        results.append(harness.run_in_child(__file__, db, child, postgres_url=args.postgres_url))
    print_table(results, args)


def print_table(results: list[dict], args: argparse.Namespace) -> None:
    print()
    print(f"Payout run — {args.payees} payees × {args.rows} unpaid ledger rows")
    header = (
        f"{'database':<10} {'claim median s':>14} {'p95 s':>7} {'queries':>8} "
        f"{'naive median s':>14} {'p95 s':>7} {'queries':>8} {'×':>6} "
        f"{'send/payee ms':>13} {'p95 ms':>7} {'send all s':>10}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        fast, naive, send = r["claim"], r["naive"], r["send"]
        print(
            f"{r['db']:<10} {fast[0]:>14.3f} {fast[1]:>7.3f} {r['claim_queries']:>8} "
            f"{naive[0]:>14.3f} {naive[1]:>7.3f} {r['naive_queries']:>8} "
            f"{naive[0] / fast[0]:>5.1f}× {send[0] * 1000:>13.2f} {send[1] * 1000:>7.2f} "
            f"{r['send_total']:>10.2f}"
        )
        print(
            f"{r['db']:<10} payouts per run {r['payouts']}, paid {r['total_cents'] / 100:,.2f} CAD, "
            f"same as naive: {r['same']}"
        )
    print()


def build(payees: int, rows: int) -> None:
    """Mechanics with payout accounts and `rows` paid sessions each, in bulk."""
    from django.contrib.auth.hashers import make_password

    from autodoctor.accounts.models import MechanicProfile, Role, User
    from autodoctor.booking.models import Plan, Session, SessionStatus
    from autodoctor.payments.models import Payment, PayoutEntry

    password = make_password(None)
    plan = Plan.objects.get(code="advice")
    customer = User.objects.create(email="bench.customer@example.test", password=password)
    users = User.objects.bulk_create(
        [
            User(email=f"bench.mechanic.{i}@example.test", role=Role.MECHANIC, password=password)
            for i in range(payees)
        ],
        batch_size=1000,
    )
    mechanics = MechanicProfile.objects.bulk_create(
        [
            MechanicProfile(
                user=u, payout_account_id=f"acct_bench_{i}", account_type="virtual_only"
            )
            for i, u in enumerate(users)
        ],
        batch_size=1000,
    )
    sessions = Session.objects.bulk_create(
        [
            Session(
                customer=customer,
                mechanic=m,
                status=SessionStatus.COMPLETED,
                plan=plan,
                concern="Bench session",
                duration_minutes=plan.duration_minutes,
                scheduled_for=NOW,
            )
            for m in mechanics
            for _ in range(rows)
        ],
        batch_size=1000,
    )
    payments = Payment.objects.bulk_create(
        [
            Payment(
                customer=customer,
                session=s,
                plan=plan,
                method="credits",
                status="succeeded",
                amount_cents=plan.price_cents,
                subtotal_cents=plan.price_cents,
                provider="",
            )
            for s in sessions
        ],
        batch_size=1000,
    )
    share = round(plan.price_cents * 0.7)
    PayoutEntry.objects.bulk_create(
        [
            PayoutEntry(
                kind="earning",
                payment=p,
                session=p.session,
                mechanic=p.session.mechanic,
                mechanic_type="virtual_only",
                payee_kind="mechanic",
                payee_mechanic=p.session.mechanic,
                destination_account=p.session.mechanic.payout_account_id,
                gross_cents=plan.price_cents,
                payee_cents=share,
                platform_cents=plan.price_cents - share,
            )
            for p in payments
        ],
        batch_size=1000,
    )


def undo_runs() -> None:
    """Give every ledger row back (untimed, between runs)."""
    from autodoctor.payments.models import Payout, PayoutItem, PayoutRun

    PayoutItem.objects.all().delete()
    Payout.objects.all().delete()
    PayoutRun.objects.all().delete()


def naive_run():
    """The baseline: the claim as a loop per payee, in one transaction."""
    from django.db import transaction

    from autodoctor.accounts.models import MechanicProfile
    from autodoctor.payments.models import Payout, PayoutEntry, PayoutItem, PayoutRun

    with transaction.atomic():
        run = PayoutRun.objects.create(cutoff=datetime.now(UTC))
        count = total = 0
        owed = PayoutEntry.objects.filter(payout_item__isnull=True, created_at__lte=run.cutoff)
        for mechanic_id in owed.values_list("payee_mechanic_id", flat=True).distinct():
            entries = list(owed.filter(payee_mechanic_id=mechanic_id))
            net = sum(e.payee_cents for e in entries)
            account = MechanicProfile.objects.get(pk=mechanic_id).payout_account_id
            if net <= 0 or not account:
                continue
            payout = Payout.objects.create(
                run=run,
                payee_kind="mechanic",
                payee_mechanic_id=mechanic_id,
                destination_account=account,
                amount_cents=net,
                provider="simulated",
            )
            for entry in entries:
                PayoutItem.objects.create(payout=payout, entry=entry)
            count, total = count + 1, total + net
        run.payouts_count, run.total_cents = count, total
        run.save(update_fields=["payouts_count", "total_cents"])
    return run


def run_child(args: argparse.Namespace) -> dict:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "autodoctor.settings")
    os.environ.setdefault("SIMULATED_PAYMENTS_ALLOWED", "true")
    os.environ.setdefault("SIMULATED_PAYMENTS_SECRET", "bench-only-simulated-secret")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from autodoctor.payments.models import Payout
    from autodoctor.payments.services import payout_runs

    call_command("migrate", verbosity=0)
    build(args.payees, args.rows)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    real_send = payout_runs.payout_send
    payout_runs.payout_send = lambda payout_id: None  # claims only; sends timed below

    def claim():
        return payout_runs.payout_run_start()

    fast = harness.timed(claim, args.runs, setup=undo_runs)
    slow = harness.timed(naive_run, max(3, args.runs // 2), setup=undo_runs)
    undo_runs()
    with CaptureQueriesContext(connection) as captured:
        run = claim()
    claim_queries = len(captured)
    fast_answer = sorted(run.payouts.values_list("payee_mechanic_id", "amount_cents"))
    undo_runs()
    with CaptureQueriesContext(connection) as captured:
        naive = naive_run()
    naive_queries = len(captured)
    same = fast_answer == sorted(naive.payouts.values_list("payee_mechanic_id", "amount_cents"))
    undo_runs()
    run = claim()
    payout_runs.payout_send = real_send
    samples = []
    started = time.perf_counter()
    for payout_id in Payout.objects.filter(run=run).values_list("pk", flat=True):
        t0 = time.perf_counter()
        real_send(payout_id)
        samples.append(time.perf_counter() - t0)
    send_total = time.perf_counter() - started
    samples.sort()
    return {
        "db": args.child,
        "claim": fast,
        "naive": slow,
        "claim_queries": claim_queries,
        "naive_queries": naive_queries,
        "same": same,
        "payouts": run.payouts_count,
        "total_cents": run.total_cents,
        "send": (statistics.median(samples), samples[round(0.95 * (len(samples) - 1))]),
        "send_total": send_total,
    }


if __name__ == "__main__":
    main()
