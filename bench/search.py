"""Mechanic search benchmark: prints figures, asserts nothing (issue 18).

    python3 -m uv run python bench/search.py [--db sqlite|postgres|both] [--mechanics 5000]

Each database run happens in a child process with its own DATABASE_URL (a temporary
SQLite file, or a PostgreSQL database ``autodoctor_bench_search`` created and dropped),
which migrates and runs ``seed_demo --mechanics N``. It then times one page of
``directory.selectors.mechanic_search`` (count + 20 cards + ratings + next free times)
for typical filter sets, against a naive baseline measured in the same run: load every
approved profile and filter the JSON lists in Python, then ask the availability service
one mechanic at a time (what "search, then check each one" would do).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 6, 8, 14, 0, tzinfo=UTC)  # a Monday, 10:00 in Toronto
TARGET = "≤ 50 ms median"


def _queries():
    from autodoctor.directory.selectors import MechanicQuery

    return {
        "no filter (best rated first)": MechanicQuery(),
        "brand": MechanicQuery(brand="Honda"),
        "brand + specialty + city": MechanicQuery(
            brand="Toyota", keyword="brakes", place="Toronto"
        ),
        "language + rating ≥ 4": MechanicQuery(language="French", min_rating=Decimal("4")),
        "brand + free at now+3h (30 min)": MechanicQuery(
            brand="Honda", free_at=NOW + timedelta(hours=3)
        ),
    }


def main() -> None:
    parser = harness.parser(__doc__, runs=40, database="autodoctor_bench_search")
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
    print()
    print(
        f"Mechanic search — {mechanics} generated mechanics (+ demo), now = {NOW:%Y-%m-%d %H:%M} UTC"
    )
    header = f"{'database':<10} {'query':<34} {'found':>6} {'median ms':>9} {'p95 ms':>8} {'naive ms':>9} {'×':>6}"
    print(header)
    print("-" * len(header))
    for r in results:
        for label, row in r["rows"].items():
            ratio = row["naive"][0] / row["fast"][0]
            print(
                f"{r['db']:<10} {label:<34} {row['total']:>6} {row['fast'][0] * 1000:>9.2f} "
                f"{row['fast'][1] * 1000:>8.2f} {row['naive'][0] * 1000:>9.1f} {ratio:>5.0f}×"
                f"{'' if row['same'] else '  (answers differ!)'}"
            )
        print(
            f"{r['db']:<10} population {r['population']}, queries per search {r['queries']}, target {TARGET}"
        )
    print()


def run_child(args: argparse.Namespace) -> dict:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "autodoctor.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from autodoctor.accounts.models import MechanicProfile
    from autodoctor.directory.selectors import mechanic_search

    call_command("migrate", verbosity=0)
    with open(os.devnull, "w") as quiet:
        call_command("seed_demo", mechanics=args.mechanics, quiet=True, stdout=quiet)
    # What the periodic availability.tasks.offered_refresh keeps (issue 15 / docs/deploy.md).
    from autodoctor.availability import offered

    offered.rebuild(NOW - timedelta(hours=1), NOW + timedelta(days=offered.OFFERED_DAYS))
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    rows = {}
    for label, query in _queries().items():
        fast = mechanic_search(query, now=NOW)
        slow = naive_search(query)
        rows[label] = {
            "total": fast.total,
            "same": [c.id for c in fast.cards] == slow,
            "fast": harness.timed(lambda q=query: mechanic_search(q, now=NOW), args.runs),
            "naive": harness.timed(lambda q=query: naive_search(q), 3),
        }
    free_at = _queries()["brand + free at now+3h (30 min)"]
    with CaptureQueriesContext(connection) as captured:
        mechanic_search(free_at, now=NOW)
    # The same search on the set-based code alone (issue 15's offered pieces hidden).
    from paths import without_offered_pieces

    with without_offered_pieces():
        rows["… free at, set-based (before pieces)"] = {
            "total": mechanic_search(free_at, now=NOW).total,
            "same": True,
            "fast": harness.timed(lambda: mechanic_search(free_at, now=NOW), args.runs),
            "naive": rows["brand + free at now+3h (30 min)"]["naive"],
        }
    return {
        "db": args.child,
        "population": MechanicProfile.objects.count(),
        "rows": rows,
        "queries": len(captured),
    }


def naive_search(query) -> list[int]:
    """The baseline: every approved profile into Python, the lists compared there, then
    the availability service asked per mechanic. Returns the first page's ids."""
    from autodoctor.accounts.models import MechanicProfile
    from autodoctor.accounts.search_terms import search_term
    from autodoctor.availability import service

    def has(tags, text, *, words=False) -> bool:
        want = search_term(text)
        if not want:
            return True
        terms = {search_term(t) for t in tags or ()}
        if words:
            terms |= {w for t in terms for w in t.split() if len(w) > 1}
        return want in terms

    place = query.place.strip()
    out = []
    for p in MechanicProfile.objects.approved().select_related("user"):
        if not (
            has(p.brands, query.brand)
            and has(p.specialty_keywords, query.keyword, words=True)
            and has(p.languages, query.language)
        ):
            continue
        if place and p.city.lower() != place.lower() and p.fsa != place.upper()[:3]:
            continue
        if query.min_rating is not None and (p.rating is None or p.rating < query.min_rating):
            continue
        if query.free_at is not None and not service.is_available(
            p, query.free_at, query.free_at + timedelta(minutes=query.minutes), now=NOW
        ):
            continue
        out.append(p)
    out.sort(key=lambda p: (p.rating is None, -(p.rating or 0), -p.years_experience, p.pk))
    for p in out[:20]:
        service.available_slots(p, NOW, NOW + timedelta(days=7), timedelta(minutes=30), now=NOW)
    return [p.pk for p in out[:20]]


if __name__ == "__main__":
    main()
