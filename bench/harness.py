"""What every benchmark here shares: a child process per database with its own
DATABASE_URL (a temporary SQLite file, or a PostgreSQL database created and dropped
around the run), and the timing of a callable as (median, p95) seconds."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent


def parser(doc: str, *, runs: int, database: str) -> argparse.ArgumentParser:
    """The options every benchmark takes: --db, --runs, --postgres-url (default: the
    `database` scratch name, or BENCH_POSTGRES_URL) and the hidden --child."""
    options = argparse.ArgumentParser(description=doc.splitlines()[0])
    options.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    options.add_argument("--runs", type=int, default=runs, help="timed runs per measurement")
    options.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "BENCH_POSTGRES_URL", f"postgres://postgres@127.0.0.1:5432/{database}"
        ),
    )
    options.add_argument("--child", choices=["sqlite", "postgres"], help=argparse.SUPPRESS)
    return options


def databases(args: argparse.Namespace) -> list[str]:
    """The databases --db names, in the order they run."""
    return ["sqlite", "postgres"] if args.db == "both" else [args.db]


def postgres_database(url: str, *, create: bool) -> None:
    """Drop the database named in `url` and, with `create`, make it again empty."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{name}"')


def run_in_child(script: str, db: str, child_args: list[str], *, postgres_url: str) -> dict:
    """Run `script --child <db> <child_args>` against a fresh database of kind `db` with
    DEBUG off (no query log in the timings); its last stdout line is the JSON result."""
    with tempfile.TemporaryDirectory(prefix="autodoctor-bench-") as tmp:
        env = dict(os.environ, AUTODOCTOR_VAR_DIR=tmp, DEBUG="false", SECRET_KEY="bench-only")
        if db == "sqlite":
            env["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
        else:
            env["DATABASE_URL"] = postgres_url
            postgres_database(postgres_url, create=True)
        try:
            out = subprocess.run(
                [sys.executable, script, "--child", db, *child_args],
                env=env,
                cwd=ROOT,
                check=True,
                capture_output=True,
                text=True,
            )
        except subprocess.CalledProcessError as exc:
            sys.stderr.write(exc.stdout + exc.stderr)
            raise
        finally:
            if db == "postgres":
                postgres_database(postgres_url, create=False)
    return json.loads(out.stdout.strip().splitlines()[-1])


def timed(
    fn: Callable[[], object],
    runs: int,
    *,
    warm: bool = True,
    setup: Callable[[], object] | None = None,
) -> tuple[float, float]:
    """(median, p95) seconds of `runs` calls, after one untimed warm-up call; `setup`
    (untimed) runs before each call, e.g. to undo what the last one wrote."""
    if warm:
        if setup:
            setup()
        fn()
    samples = []
    for _ in range(runs):
        if setup:
            setup()
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    samples.sort()
    return statistics.median(samples), samples[
        min(len(samples) - 1, round(0.95 * (len(samples) - 1)))
    ]
