"""Contention benchmark for holds: prints figures, asserts nothing (issue 5, "Proof").

    python3 -m uv run python bench/contention.py [--db postgres|sqlite|both]
        [--clients 100] [--processes 10] [--holds 500] [--mechanics 50] [--workers 16]

Each database run happens in a child process with its own DATABASE_URL: a PostgreSQL
database ``autodoctor_bench_contention`` that is created, migrated and dropped, or a
temporary SQLite file. The child measures, through ``booking.services.reservation_hold``
(the same code the wizard and the API call):

1. one slot, ``--clients`` threads (each its own database connection) released together
   by a barrier: winners, 409s (SlotUnavailable), 503s (Busy) and anything else ("500");
2. the same clients spread over ``--processes`` separate processes (multiprocessing,
   spawn; threads inside each, one barrier across all of them);
3. throughput on distinct slots: ``--holds`` holds spread over ``--mechanics``
   mechanics, by a pool of ``--workers`` threads, then by a pool of processes; each
   hold opens its own connection, as a web request does with CONN_MAX_AGE=0.

Connections are opened before the barrier, so a server out of connections shows up as
"connect failures", not as race outcomes.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from harness import postgres_database  # bench/harness.py

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # spawned processes re-import this file

PLAN = "advice"  # 30 minutes
CONCERN = "Grinding noise when braking at low speed"


# ---------------------------------------------------------------------------- parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--clients", type=int, default=100, help="clients racing for one slot")
    parser.add_argument(
        "--processes",
        type=int,
        default=10,
        help="spawned processes the --clients are spread over (100 = one client each)",
    )
    parser.add_argument("--holds", type=int, default=500, help="holds on distinct slots")
    parser.add_argument("--mechanics", type=int, default=50)
    parser.add_argument("--workers", type=int, default=16, help="thread pool for throughput")
    parser.add_argument(
        "--process-workers", type=int, default=8, help="process pool for throughput"
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "BENCH_POSTGRES_URL",
            "postgres://postgres@127.0.0.1:5432/autodoctor_bench_contention",
        ),
    )
    parser.add_argument("--child", choices=["sqlite", "postgres"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(args)
        return
    rows: list[dict] = []
    for db in ["postgres", "sqlite"] if args.db == "both" else [args.db]:
        rows.extend(run_in_child(db, args))
    print_tables(rows, args)


def run_in_child(db: str, args: argparse.Namespace) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="autodoctor-contention-") as tmp:
        # DEBUG off as in production: no query log kept in memory during the runs.
        env = dict(os.environ, AUTODOCTOR_VAR_DIR=tmp, DEBUG="false", SECRET_KEY="bench-only")
        if db == "sqlite":
            env["DATABASE_URL"] = f"sqlite:///{tmp}/contention.sqlite3"
        else:
            env["DATABASE_URL"] = args.postgres_url
            postgres_database(args.postgres_url, create=True)
        command = [sys.executable, __file__, "--child", db]
        for name in ("clients", "processes", "holds", "mechanics", "workers", "process_workers"):
            command += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
        try:
            out = subprocess.run(
                command, env=env, cwd=ROOT, check=True, capture_output=True, text=True
            )
        except subprocess.CalledProcessError as exc:
            sys.stderr.write(exc.stdout + exc.stderr)
            raise
        finally:
            if db == "postgres":
                postgres_database(args.postgres_url, create=False)
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def print_tables(rows: list[dict], args: argparse.Namespace) -> None:
    notes = [f"{r['db']}: {r['text']}" for r in rows if r["kind"] == "note"]
    races = [r for r in rows if r["kind"] == "race"]
    throughput = [r for r in rows if r["kind"] == "throughput"]
    print()
    print("Contention: many clients hold the SAME slot (booking.services.reservation_hold)")
    header = (
        f"{'database':<11}{'variant':<20}{'clients':>8}{'winners':>9}{'409s':>6}"
        f"{'503s':>6}{'500s':>6}{'connect fail':>14}{'elapsed':>10}  overlapping rows"
    )
    print(header)
    print("-" * (len(header) + 2))
    for r in races:
        print(
            f"{r['db']:<11}{r['variant']:<20}{r['clients']:>8}{r['winners']:>9}{r['conflicts']:>6}"
            f"{r['busy']:>6}{r['errors']:>6}{r['connect_failures']:>14}{r['elapsed']:>9.2f}s"
            f"  {r['overlaps']}"
        )
        if r["error_types"]:
            print(f"{'':<11}other exceptions: {r['error_types']}")
    for note in notes:
        print(f"note: {note} (a client that cannot connect never enters the race)")
    print()
    print(
        f"Throughput: {args.holds} holds on DISTINCT slots across {args.mechanics} mechanics "
        "(each hold = availability check + session + reservation + history, one transaction)"
    )
    header = (
        f"{'database':<11}{'variant':<20}{'workers':>8}{'ok':>6}{'409s':>6}{'503s':>6}"
        f"{'500s':>6}{'elapsed':>10}{'holds/s':>10}"
    )
    print(header)
    print("-" * len(header))
    for r in throughput:
        print(
            f"{r['db']:<11}{r['variant']:<20}{r['workers']:>8}{r['ok']:>6}{r['conflicts']:>6}"
            f"{r['busy']:>6}{r['errors']:>6}{r['elapsed']:>9.2f}s{r['rate']:>10.1f}"
        )
        if r["error_types"]:
            print(f"{'':<11}other exceptions: {r['error_types']}")
    print()


# ---------------------------------------------------------------------------- child


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "autodoctor.settings")
    import django

    django.setup()


def run_child(args: argparse.Namespace) -> None:
    _setup_django()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    db = "postgresql" if connection.vendor == "postgresql" else "sqlite"
    customers = _customers(args.clients)
    now = datetime.now(UTC)

    def emit(row: dict) -> None:
        print(json.dumps({"db": db, **row}), flush=True)

    if db == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW max_connections")
            emit({"kind": "note", "text": f"PostgreSQL max_connections = {cursor.fetchone()[0]}"})
    mechanic = _mechanics(1)[0]
    emit(race_threads(args.clients, customers, mechanic, _slot_start(now, 0)))
    mechanic = _mechanics(1)[0]
    emit(race_processes(args.clients, args.processes, customers, mechanic, _slot_start(now, 0)))

    mechanics = _mechanics(args.mechanics)
    emit(throughput_threads(_distinct_tasks(args, customers, mechanics, now), args.workers))
    mechanics = _mechanics(args.mechanics)
    tasks = _distinct_tasks(args, customers, mechanics, now)
    emit(throughput_processes(tasks, args.process_workers))


def _slot_start(now: datetime, hour: int) -> datetime:
    """A start `hour` hours after tomorrow's first whole hour (UTC): the bench mechanics
    work around the clock, so it is free, past the notice and inside the advance window."""
    base = (now + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    return base + timedelta(hours=hour)


def _customers(n: int) -> list[int]:
    from autodoctor.accounts.models import CustomerProfile, Role, User

    stamp = time.time_ns()
    users = User.objects.bulk_create(
        User(
            email=f"bench-customer-{stamp}-{i}@bench.test",
            role=Role.CUSTOMER,
            password="!",
            email_verified_at=datetime.now(UTC),
        )
        for i in range(n)
    )
    CustomerProfile.objects.bulk_create(CustomerProfile(user=u, city="Toronto") for u in users)
    return [u.pk for u in users]


def _mechanics(n: int) -> list[int]:
    from autodoctor.accounts.models import ApprovalStatus, MechanicProfile, Role, User
    from autodoctor.availability.models import MechanicSettings, WeeklyBlock

    stamp = time.time_ns()
    users = User.objects.bulk_create(
        User(email=f"bench-mechanic-{stamp}-{i}@bench.test", role=Role.MECHANIC, password="!")
        for i in range(n)
    )
    profiles = MechanicProfile.objects.bulk_create(
        MechanicProfile(
            user=u, city="Toronto", years_experience=5, approval_status=ApprovalStatus.APPROVED
        )
        for u in users
    )
    MechanicSettings.objects.bulk_create(MechanicSettings(mechanic=p) for p in profiles)
    WeeklyBlock.objects.bulk_create(
        WeeklyBlock(mechanic=p, day_of_week=d, start_minute=0, end_minute=1440)
        for p in profiles
        for d in range(7)
    )
    return [p.pk for p in profiles]


def _hold(customer_id: int, mechanic_id: int, start_iso: str) -> str:
    """One hold through the booking service; the outcome as a short name."""
    from autodoctor.accounts.models import User
    from autodoctor.booking import services
    from autodoctor.errors import Busy, Conflict

    customer = User.objects.get(pk=customer_id)
    intake = services.intake_validate(customer=customer, plan=PLAN, concern=CONCERN)
    try:
        services.reservation_hold(
            customer=customer,
            intake=intake,
            mechanic_id=mechanic_id,
            starts_at=datetime.fromisoformat(start_iso),
        )
        return "ok"
    except Conflict:
        return "409"
    except Busy:
        return "503"
    except Exception as exc:
        return f"500:{type(exc).__name__}"


def _overlapping_active_pairs(mechanic_id: int) -> int:
    from autodoctor.booking.models import Reservation

    rows = list(
        Reservation.objects.filter(
            mechanic_id=mechanic_id, status__in=["reserved", "confirmed"]
        ).values_list("starts_at", "blocked_until")
    )
    return sum(1 for i, a in enumerate(rows) for b in rows[i + 1 :] if a[0] < b[1] and b[0] < a[1])


def _race_row(variant: str, n: int, outcomes: Counter, elapsed: float, mechanic_id: int) -> dict:
    errors = {k.split(":", 1)[1]: v for k, v in outcomes.items() if k.startswith("500:")}
    return {
        "kind": "race",
        "variant": variant,
        "clients": n,
        "winners": outcomes["ok"],
        "conflicts": outcomes["409"],
        "busy": outcomes["503"],
        "errors": sum(errors.values()),
        "error_types": errors,
        "connect_failures": outcomes["connect"],
        "elapsed": elapsed,
        "overlaps": _overlapping_active_pairs(mechanic_id),
    }


def race_threads(n: int, customers: list[int], mechanic_id: int, start: datetime) -> dict:
    from django.db import connection

    barrier = threading.Barrier(n + 1)
    outcomes: Counter = Counter()
    lock = threading.Lock()

    def client(i: int) -> None:
        try:
            try:
                connection.ensure_connection()  # each thread: its own connection
            except Exception:
                result = "connect"
                barrier.wait()
            else:
                barrier.wait()
                result = _hold(customers[i], mechanic_id, start.isoformat())
        finally:
            connection.close()
        with lock:
            outcomes[result] += 1

    connection.close()  # leave every connection slot to the clients
    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    return _race_row("threads", n, outcomes, time.perf_counter() - started, mechanic_id)


def _process_clients(
    customer_ids: list[int], mechanic_id: int, start_iso: str, barrier, queue
) -> None:
    """One spawned process: a thread (and connection) per client, all released by the
    barrier shared with every other process."""
    _setup_django()
    from django.db import connection

    def client(customer_id: int) -> None:
        result = "connect"
        try:
            try:
                connection.ensure_connection()
            except Exception:
                barrier.wait()
            else:
                barrier.wait()
                result = _hold(customer_id, mechanic_id, start_iso)
        except threading.BrokenBarrierError:
            result = "500:BrokenBarrierError"
        finally:
            connection.close()
        queue.put(result)

    threads = [threading.Thread(target=client, args=(c,)) for c in customer_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def race_processes(
    n: int, processes: int, customers: list[int], mechanic_id: int, start: datetime
) -> dict:
    """`n` clients spread over `processes` spawned processes (threads inside each)."""
    from django.db import connection

    connection.close()
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(n + 1)
    queue = ctx.Queue()
    groups = [customers[i:n:processes] for i in range(processes)]
    procs = [
        ctx.Process(
            target=_process_clients,
            args=(group, mechanic_id, start.isoformat(), barrier, queue),
        )
        for group in groups
        if group
    ]
    for p in procs:
        p.start()
    barrier.wait(timeout=900)  # every client has started Django and connected
    started = time.perf_counter()
    outcomes = Counter(queue.get(timeout=600) for _ in range(n))
    elapsed = time.perf_counter() - started
    for p in procs:
        p.join(60)
    return _race_row(f"{len(procs)} procs (spawn)", n, outcomes, elapsed, mechanic_id)


def _distinct_tasks(
    args: argparse.Namespace,
    customers: list[int],
    mechanics: list[int],
    now: datetime,
) -> list[tuple[int, int, str]]:
    """(customer, mechanic, start) for holds that never collide: one mechanic's holds
    are an hour apart (30-minute plan + 15-minute buffer)."""
    per_mechanic = -(-args.holds // len(mechanics))
    tasks = [
        (
            customers[(k * len(mechanics) + m) % len(customers)],
            mechanic_id,
            _slot_start(now, k).isoformat(),
        )
        for k in range(per_mechanic)
        for m, mechanic_id in enumerate(mechanics)
    ]
    return tasks[: args.holds]


def _throughput_row(variant: str, workers: int, outcomes: Counter, elapsed: float) -> dict:
    errors = {k.split(":", 1)[1]: v for k, v in outcomes.items() if k.startswith("500:")}
    total = sum(outcomes.values())
    return {
        "kind": "throughput",
        "variant": variant,
        "workers": workers,
        "ok": outcomes["ok"],
        "conflicts": outcomes["409"],
        "busy": outcomes["503"],
        "errors": sum(errors.values()),
        "error_types": errors,
        "elapsed": elapsed,
        "rate": total / elapsed if elapsed else 0.0,
    }


def throughput_threads(tasks: list[tuple[int, int, str]], workers: int) -> dict:
    from django.db import connection

    connection.close()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = Counter(pool.map(_pool_hold, tasks))
    return _throughput_row("threads", workers, outcomes, time.perf_counter() - started)


def _pool_init() -> None:
    _setup_django()


def _pool_hold(task: tuple[int, int, str]) -> str:
    """One hold on its own connection, as a web request does with CONN_MAX_AGE=0."""
    from django.db import connection

    try:
        return _hold(*task)
    finally:
        connection.close()


def _pool_ready(_: int) -> int:
    from django.db import connection

    connection.ensure_connection()
    return os.getpid()


def throughput_processes(tasks: list[tuple[int, int, str]], workers: int) -> dict:
    from django.db import connection

    connection.close()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers, initializer=_pool_init) as pool:
        pool.map(_pool_ready, range(workers * 4))  # warm up: Django loaded, connected
        started = time.perf_counter()
        outcomes = Counter(pool.map(_pool_hold, tasks, chunksize=4))
        elapsed = time.perf_counter() - started
    return _throughput_row("processes (spawn)", workers, outcomes, elapsed)


if __name__ == "__main__":
    main()
