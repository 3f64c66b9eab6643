"""Mixed load through the production web server: prints figures, asserts nothing (issue 15).

    python3 -m uv run python bench/load.py [--web-workers 1,2,4] [--processes 4]
        [--threads 4] [--seconds 20] [--mechanics 20] [--postgres-url URL]

For each web-worker count: a fresh PostgreSQL database ``autodoctor_bench_load`` (created,
migrated, dropped), a bench-only setup (mechanics working around the clock, customers with
API tokens), then gunicorn started as `./dev prod` starts it (DEBUG off, persistent
connections), rate limits off and the per-customer hold caps lifted. ``--processes``
load processes × ``--threads`` threads each, one customer token per thread, for
``--seconds``, each request chosen at random:

- 80 % slot reads: GET /api/mechanics/{id}/available-slots for 7 days;
- 15 % holds: POST /api/slots/reserve of a random start (409 when taken: expected);
- 5 % confirm (PUT /api/slots/confirm) or release (DELETE /api/slots/release) one of the
  thread's own holds, half and half (a hold when it has none).

Prints requests/s, p50/p95/p99 per endpoint, the status counts, 5xx and connection
failures, and afterwards the overlapping active reservations found in the database
(must be 0).

Then the race (issue 15's first row): ``--race-clients`` customers (100), each with
its own token, spread over ``--race-processes`` processes (10) of threads, all POST
/api/slots/reserve of one mechanic's same slot at one instant, through gunicorn with
``--race-workers`` workers (4), on each database of ``--race-db`` (postgres,sqlite; a
temporary SQLite file for the latter). Prints p50/p95/max latency, the statuses (must
be 1 × 201 and the rest 409), 5xx and the overlapping reservations. ``--web-workers ''``
runs the race alone.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # spawned processes re-import this file

from bench.harness import postgres_database  # noqa: E402

ENDPOINTS = ("slots", "hold", "confirm", "release")
OVERLAPS_SQL = """
SELECT count(*) FROM booking_reservation a JOIN booking_reservation b
  ON a.mechanic_id = b.mechanic_id AND a.id < b.id
 AND a.starts_at < b.blocked_until AND b.starts_at < a.blocked_until
WHERE a.status IN ('reserved', 'confirmed') AND b.status IN ('reserved', 'confirmed')
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--web-workers", default="1,2,4", help="gunicorn worker counts")
    parser.add_argument("--processes", type=int, default=4, help="load processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per load process")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--mechanics", type=int, default=20)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/autodoctor_bench_load"
        ),
    )
    parser.add_argument("--race-clients", type=int, default=100)
    parser.add_argument("--race-processes", type=int, default=10)
    parser.add_argument("--race-workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--race-db", default="postgres,sqlite", help="'' skips the race")
    parser.add_argument("--setup", type=int, help=argparse.SUPPRESS)  # customers to make
    args = parser.parse_args()
    if args.setup is not None:
        print(json.dumps(bench_setup(args.mechanics, args.setup)))
        return
    customers = args.processes * args.threads
    rows = [
        served(int(n), "postgres", customers, args, lambda url, setup: drive(url, setup, args))
        for n in args.web_workers.split(",")
        if n
    ]
    if rows:
        print_table(rows, args)
    races = [
        served(args.race_workers, db, args.race_clients, args,
               lambda url, setup: race(url, setup, args))
        for db in args.race_db.split(",")
        if db
    ]  # fmt: skip
    if races:
        print_race(races, args)


# ------------------------------------------------------------------------ one server run


def served(web_workers: int, db: str, customers: int, args: argparse.Namespace, work) -> dict:
    """Start gunicorn as `./dev prod` does on a fresh database of kind `db` with the
    bench's people (`customers` with tokens), run ``work(url, setup)``, stop it, and add
    the overlapping reservations found afterwards to its result."""
    with tempfile.TemporaryDirectory(prefix="autodoctor-load-") as tmp:
        db_url = args.postgres_url if db == "postgres" else f"sqlite:///{tmp}/load.sqlite3"
        env = dict(
            os.environ,
            DJANGO_SETTINGS_MODULE="autodoctor.settings",
            DATABASE_URL=db_url,
            AUTODOCTOR_VAR_DIR=tmp,
            DEBUG="false",
            SECRET_KEY="bench-only",
            STATIC_MANIFEST="false",  # no collectstatic: the bench reads no static file
            SECURE_SSL_REDIRECT="false",
            DB_CONN_MAX_AGE="60",
            RATE_LIMIT_READS_PER_MINUTE="0",
            RATE_LIMIT_WRITES_PER_MINUTE="0",
            HOLDS_PER_CUSTOMER="100000",
            HOLDS_PER_CUSTOMER_MECHANIC_DAY="100000",
            EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        )
        if db == "postgres":
            postgres_database(db_url, create=True)
        try:
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "--verbosity", "0"],
                env=env,
                cwd=ROOT,
                check=True,
            )
            setup = json.loads(
                subprocess.run(
                    [sys.executable, __file__, "--setup", str(customers),
                     "--mechanics", str(args.mechanics)],
                    env=env, cwd=ROOT, check=True, capture_output=True, text=True,
                ).stdout.splitlines()[-1]
            )  # fmt: skip
            port = _free_port()
            server = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "autodoctor.wsgi", "--bind",
                 f"127.0.0.1:{port}", "--workers", str(web_workers), "--log-level", "warning"],
                env=env, cwd=ROOT, start_new_session=True,
            )  # fmt: skip
            url = f"http://127.0.0.1:{port}"
            try:
                _wait_ready(url, server)
                result = work(url, setup)
            finally:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=60)
            result["overlaps"] = _overlaps(db_url)
        finally:
            if db == "postgres":
                postgres_database(db_url, create=False)
    result["web_workers"] = web_workers
    result["db"] = db
    return result


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while True:
        assert server.poll() is None, "gunicorn exited while starting"
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=2).close()
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            assert time.monotonic() < deadline, "gunicorn never answered /healthz"
            time.sleep(0.2)


def _overlaps(url: str) -> int:
    if url.startswith("sqlite:///"):
        import sqlite3

        with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as conn:
            return conn.execute(OVERLAPS_SQL).fetchone()[0]
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute(OVERLAPS_SQL).fetchone()[0]


def bench_setup(mechanics: int, customers: int) -> dict:
    """Runs in a child with the server's settings: the bench's own people and tokens."""
    import django

    django.setup()
    from autodoctor.accounts.models import User
    from autodoctor.accounts.services import api_token_create
    from bench.contention import _customers, _mechanics

    tokens = [
        api_token_create(user=User.objects.get(pk=pk), name="load bench").raw
        for pk in _customers(customers)
    ]
    return {"mechanics": _mechanics(mechanics), "tokens": tokens}


# ------------------------------------------------------------------------ the load


def drive(url: str, setup: dict, args: argparse.Namespace) -> dict:
    n = args.processes
    tokens = setup["tokens"]
    jobs = [
        (
            url,
            setup["mechanics"],
            tokens[i * args.threads : (i + 1) * args.threads],
            args.seconds,
            i,
        )
        for i in range(n)
    ]
    started = time.monotonic()
    with multiprocessing.get_context("spawn").Pool(n) as pool:
        parts = pool.starmap(load_process, jobs)
    elapsed = time.monotonic() - started
    latencies: dict[str, list[float]] = defaultdict(list)
    statuses: dict[str, Counter] = defaultdict(Counter)
    for part in parts:
        for endpoint, values in part["latencies"].items():
            latencies[endpoint].extend(values)
        for endpoint, counts in part["statuses"].items():
            statuses[endpoint].update(counts)
    total = sum(len(v) for v in latencies.values())
    return {
        "requests": total,
        "seconds": min(elapsed, args.seconds + 5),
        "rps": total / args.seconds,
        "latencies": latencies,
        "statuses": statuses,
        "client_cpu": sum(part["cpu"] for part in parts),
    }


def load_process(url: str, mechanics: list[int], tokens: list[str], seconds: float, seed: int):
    latencies: dict[str, list[float]] = defaultdict(list)
    statuses: dict[str, Counter] = defaultdict(Counter)
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)

    def client(token: str, rng: random.Random) -> None:
        auth = {"Authorization": f"Bearer {token}"}
        held: list[int] = []
        while time.monotonic() < stop_at:
            roll = rng.random()
            mechanic = rng.choice(mechanics)
            if roll < 0.80:
                day = tomorrow.date()
                endpoint, method, body = "slots", "GET", None
                path = (
                    f"/api/mechanics/{mechanic}/available-slots?plan=free"
                    f"&from={day.isoformat()}&to={(day + timedelta(days=6)).isoformat()}"
                )
            elif roll < 0.95 or not held:
                start = tomorrow + timedelta(minutes=30 * rng.randrange(7 * 48))
                endpoint, method, path = "hold", "POST", "/api/slots/reserve"
                body = {
                    "plan": "free",
                    "concern": "Rattle over bumps at low speed",
                    "mechanic_id": mechanic,
                    "start": start.isoformat(),
                }
            elif rng.random() < 0.5:
                endpoint, method, path = "confirm", "PUT", "/api/slots/confirm"
                body = {"reservation_id": held.pop(), "waiver_accepted": True}
            else:
                endpoint, method, path = "release", "DELETE", "/api/slots/release"
                body = {"reservation_id": held.pop()}
            began = time.perf_counter()
            status, answer = _request(method, url + path, auth, body, parse=endpoint == "hold")
            took = time.perf_counter() - began
            if endpoint == "hold" and status == 201:
                held.append(answer["id"])
            with lock:
                latencies[endpoint].append(took)
                statuses[endpoint][status] += 1

    threads = [
        threading.Thread(target=client, args=(token, random.Random(seed * 1000 + i)))
        for i, token in enumerate(tokens)
    ]
    cpu = time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"latencies": dict(latencies), "statuses": {k: dict(v) for k, v in statuses.items()},
            "cpu": time.process_time() - cpu}  # fmt: skip


# ------------------------------------------------------------------------ the race


def race(url: str, setup: dict, args: argparse.Namespace) -> dict:
    """Every client holds the same slot of the first mechanic at one instant (a wall
    clock moment a few seconds ahead, so the processes' threads go together)."""
    tokens = setup["tokens"]
    per = -(-len(tokens) // args.race_processes)
    start = (datetime.now(UTC) + timedelta(days=10)).replace(
        hour=15, minute=0, second=0, microsecond=0
    )
    go_at = time.time() + 3 + 0.3 * args.race_processes  # spawned processes import first
    jobs = [
        (url, setup["mechanics"][0], start.isoformat(), tokens[i * per : (i + 1) * per], go_at)
        for i in range(args.race_processes)
    ]
    with multiprocessing.get_context("spawn").Pool(args.race_processes) as pool:
        parts = pool.starmap(race_process, jobs)
    return {
        "latencies": [took for part in parts for took, _ in part],
        "statuses": Counter(status for part in parts for _, status in part),
        "clients": len(tokens),
    }


def race_process(url: str, mechanic: int, start: str, tokens: list[str], go_at: float):
    """One process's clients: each connects and has its request ready before the
    moment, then sends it; the time counted is from sending to the whole answer (the
    clients' own start-up, 100 threads waking at once on 2 cores, is not the server's)."""
    address = urlsplit(url)
    results: list[tuple[float, int | str]] = []
    lock = threading.Lock()
    payload = json.dumps({"plan": "free", "concern": "Rattle over bumps at low speed",
                          "mechanic_id": mechanic, "start": start}).encode()  # fmt: skip

    def client(token: str) -> None:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        conn = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
        began = time.perf_counter()
        try:
            conn.connect()
            time.sleep(max(0.0, go_at - time.time()))
            began = time.perf_counter()
            conn.request("POST", "/api/slots/reserve", payload, headers)
            answer = conn.getresponse()
            answer.read()
            status: int | str = answer.status
        except (ConnectionError, TimeoutError, http.client.HTTPException):
            status = "conn"
        finally:
            conn.close()
        with lock:
            results.append((time.perf_counter() - began, status))

    threads = [threading.Thread(target=client, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _request(
    method: str, url: str, headers: dict, body: dict | None, *, parse: bool = True
) -> tuple[int | str, dict]:
    """One request on its own connection (gunicorn's sync workers close each), with
    http.client: urllib's opener machinery cost the load processes, which share the
    server's cores, noticeably more CPU per request. ``parse=False``: the body is read
    but not decoded (a week's slot list is ~670 objects: decoding it cost the load
    processes about 0.6 ms of the machine's CPU a read, taken from the server)."""
    address = urlsplit(url)
    data = json.dumps(body).encode() if body is not None else None
    if data:
        headers = {**headers, "Content-Type": "application/json"}
    conn = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
    try:
        conn.request(method, f"{address.path}?{address.query}", data, headers)
        answer = conn.getresponse()
        content = answer.read()
        if answer.status >= 400 or not parse:
            return answer.status, {}
        return answer.status, json.loads(content or b"{}")
    except (ConnectionError, TimeoutError, http.client.HTTPException):
        return "conn", {}
    finally:
        conn.close()


# ------------------------------------------------------------------------ report


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


def print_table(rows: list[dict], args: argparse.Namespace) -> None:
    print()
    print(
        f"Mixed load (80 % slot reads, 15 % holds, 5 % confirm/release) through gunicorn on "
        f"PostgreSQL: {args.processes} processes × {args.threads} threads, {args.seconds:.0f} s, "
        f"{args.mechanics} mechanics, {os.cpu_count()} cores"
    )
    header = (
        f"{'web workers':>11}{'endpoint':>10}{'requests':>10}{'req/s':>8}{'p50 ms':>9}"
        f"{'p95 ms':>9}{'p99 ms':>9}  statuses"
    )
    print(header)
    print("-" * (len(header) + 30))
    for row in rows:
        for endpoint in ("all", *ENDPOINTS):
            if endpoint == "all":
                values = [v for vs in row["latencies"].values() for v in vs]
                counts = sum(row["statuses"].values(), Counter())
            else:
                values = row["latencies"].get(endpoint, [])
                counts = row["statuses"].get(endpoint, Counter())
            if not values:
                continue
            print(
                f"{row['web_workers']:>11}{endpoint:>10}{len(values):>10}"
                f"{len(values) / args.seconds:>8.0f}{_percentile(values, 50):>9.1f}"
                f"{_percentile(values, 95):>9.1f}{_percentile(values, 99):>9.1f}  "
                + " ".join(f"{k}×{v}" for k, v in sorted(counts.items(), key=str))
            )
        all_counts = sum(row["statuses"].values(), Counter())
        errors = sum(v for k, v in all_counts.items() if isinstance(k, int) and k >= 500)
        print(
            f"{'':>11}5xx: {errors}   connection failures: {all_counts.get('conn', 0)}   "
            f"overlapping active reservations: {row['overlaps']}"
        )
        print(
            f"{'':>11}CPU of the load processes themselves: {row['client_cpu']:.1f} s in "
            f"{args.seconds:.0f} s ({row['client_cpu'] / args.seconds / os.cpu_count():.0%} "
            "of the machine)"
        )


def print_race(rows: list[dict], args: argparse.Namespace) -> None:
    print()
    print(
        f"The race: {args.race_clients} customers ({args.race_processes} processes of threads, "
        f"one token each) holding one slot at once through gunicorn, {os.cpu_count()} cores"
    )
    header = (
        f"{'database':>10}{'workers':>9}{'clients':>9}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}"
        "  statuses"
    )
    print(header)
    print("-" * (len(header) + 30))
    for row in rows:
        values, counts = row["latencies"], row["statuses"]
        errors = sum(v for k, v in counts.items() if isinstance(k, int) and k >= 500)
        print(
            f"{row['db']:>10}{row['web_workers']:>9}{len(values):>9}"
            f"{_percentile(values, 50):>9.1f}{_percentile(values, 95):>9.1f}"
            f"{max(values) * 1000:>9.1f}  "
            + " ".join(f"{k}×{v}" for k, v in sorted(counts.items(), key=str))
            + f"   5xx: {errors}   overlapping active reservations: {row['overlaps']}"
        )


if __name__ == "__main__":
    main()
