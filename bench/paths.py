"""The hot paths of issue 15, old code against new in the same run: prints figures,
asserts nothing.

    python3 -m uv run python bench/paths.py [--db sqlite|postgres|both]
        [--mechanics 5000] [--runs 20] [--holds 500] [--hold-workers 8]
        [--http-requests 60] [--http-seconds 3] [--only slots,holds,...]

Knobs for bigger runs: ``--mechanics 20000`` (or BENCH_MECHANICS), ``--holds 2000``.
Each database run happens in a child process (bench/harness.py): a temporary SQLite
file, or a PostgreSQL database (BENCH_POSTGRES_URL, default ``ad_perf_bench_paths``)
created, migrated and dropped. The child seeds ``seed_demo --mechanics N`` and measures:

* ``slots``: a 30-day ``available_slots`` call for one mechanic with bookings and time
  off; baseline = the same call with the busy sources built through the ORM (as before);
* ``batch``: 10 mechanics × 30 days, one call each, and batched;
* ``earliest``: the earliest slot across every mechanic;
* ``free``: who is free in the first bookable hour (now + 2 h notice);
* ``match``: start-now matching over every mechanic; baseline = scoring every one of
  them in Python (``reference_mechanics_ranked``);
* ``holds``: holds on distinct slots through ``booking.services.reservation_hold`` by a
  pool of processes (each hold its own connection); baseline = ``reference_hold``, the
  hold path as it was (whole-range availability call, three customer locks, stale-hold
  scan before every insert);
* ``http``: the 30-day slot list through gunicorn (2 workers, token auth, rate limits
  off): sequential p50/p95, then requests/s with 8 connections; baseline = the route as
  it was (``reference_slots_view``: profile fetched first, every slot validated by
  pydantic), served by the same server at /bench/reference/.

The machine is shared: figures are noisy; old and new run interleaved where it is cheap.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _path in (str(ROOT), str(ROOT / "bench")):
    if _path not in sys.path:
        sys.path.insert(0, _path)  # spawned processes and gunicorn re-import this file

import harness  # noqa: E402  (bench/harness.py)

NOW = datetime(2026, 6, 8, 14, 0, tzinfo=UTC)  # a Monday, 10:00 in Toronto
DURATION = timedelta(minutes=30)
PATHS = ("slots", "batch", "earliest", "free", "match", "holds", "http")
TARGETS = {
    "slots": "≤ 2 ms SQLite, ≤ 3 ms PG",
    "batch": "≤ 15 ms batched",
    "earliest": "≤ 20 ms @5k, ≤ 30 ms @20k",
    "free": "≤ 25 ms @5k, ≤ 80 ms @20k",
    "match": "≤ 20 ms",
    "holds": "≥ 500/s PG, ≥ 200/s SQLite",
    "http": "p50 ≤ 10, p95 ≤ 20 ms; ≥ 300 req/s",
}


# ---------------------------------------------------------------------------- parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument(
        "--mechanics", type=int, default=int(os.environ.get("BENCH_MECHANICS", "5000"))
    )
    parser.add_argument("--runs", type=int, default=20, help="timed runs per measurement")
    parser.add_argument("--holds", type=int, default=500, help="holds per variant")
    parser.add_argument("--hold-workers", type=int, default=8, help="process pool for holds")
    parser.add_argument("--http-requests", type=int, default=60, help="sequential requests")
    parser.add_argument("--http-seconds", type=float, default=3, help="8-connection run")
    parser.add_argument("--only", default=",".join(PATHS), help="comma-separated paths")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/ad_perf_bench_paths"
        ),
    )
    parser.add_argument("--child", choices=["sqlite", "postgres"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args)))
        return
    child_args = [
        f"--mechanics={args.mechanics}",
        f"--runs={args.runs}",
        f"--holds={args.holds}",
        f"--hold-workers={args.hold_workers}",
        f"--http-requests={args.http_requests}",
        f"--http-seconds={args.http_seconds}",
        f"--only={args.only}",
        f"--postgres-url={args.postgres_url}",
    ]
    results = [
        harness.run_in_child(__file__, db, child_args, postgres_url=args.postgres_url)
        for db in (["postgres", "sqlite"] if args.db == "both" else [args.db])
    ]
    print_table(results, args)


def _ms(value: float) -> str:
    return f"{value * 1000:.2f}"


def print_table(results: list[dict], args: argparse.Namespace) -> None:
    print()
    print(
        f"Issue 15 hot paths, old code vs new in the same run ({os.cpu_count()} cores, shared "
        "machine: noisy). Times in ms, median / p95."
    )
    header = f"{'db':<9}{'path':<44}{'baseline':>17}{'new':>17}{'ratio':>8}  target"
    print(header)
    print("-" * (len(header) + 30))
    for r in results:
        print(f"{r['db']}: {r['population']} mechanics, seeded in {r['seed_seconds']:.0f} s;"
              f" {r.get('offered', '')}")  # fmt: skip
        for row in r["rows"]:
            if row["kind"] == "time":
                base = row.get("baseline")
                new = row["new"]
                base_text = f"{_ms(base[0])} / {_ms(base[1])}" if base else "—"
                ratio = f"{base[0] / new[0]:.1f}×" if base else ""
                value = f"{_ms(new[0])} / {_ms(new[1])}"
            else:  # a rate
                base = row.get("baseline")
                base_text = f"{base:.0f}/s" if base is not None else "—"
                value = f"{row['new']:.0f}/s"
                ratio = f"{row['new'] / base:.1f}×" if base else ""
            print(
                f"{r['db']:<9}{row['label']:<44}{base_text:>17}{value:>17}{ratio:>8}  "
                f"{TARGETS.get(row['path'], '')}"
            )
            if row.get("note"):
                print(f"{'':<9}  {row['note']}")
    print()


# ---------------------------------------------------------------------------- child


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "autodoctor.settings")
    import django

    django.setup()


def run_child(args: argparse.Namespace) -> dict:
    _setup_django()
    from django.core.management import call_command
    from django.db import connection

    from autodoctor.accounts.models import MechanicProfile

    only = set(args.only.split(","))
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    with open(os.devnull, "w") as quiet:
        call_command("seed_demo", mechanics=args.mechanics, quiet=True, stdout=quiet)
    seed_seconds = time.perf_counter() - started
    target = _target_mechanic()
    _add_bookings(target)
    built = time.perf_counter()
    pieces = offered_rebuild()
    offered_seconds = time.perf_counter() - built
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    rows: list[dict] = []
    for path in PATHS:
        if path in only:
            rows.extend(globals()[f"bench_{path}"](args, target))
    return {
        "db": args.child,
        "population": MechanicProfile.objects.count(),
        "seed_seconds": seed_seconds,
        "offered": f"{pieces} offered piece rows built in {offered_seconds:.1f} s",
        "rows": rows,
    }


def offered_rebuild() -> int:
    """What the periodic ``offered_refresh`` keeps: pieces from an hour before NOW."""
    from autodoctor.availability import offered

    return offered.rebuild(NOW - timedelta(hours=1), NOW + timedelta(days=offered.OFFERED_DAYS))


def _target_mechanic():
    from autodoctor.accounts.models import MechanicProfile

    # The README's virtual-only demo mechanic: Mon–Fri 09:00–17:00 in Toronto.
    return MechanicProfile.objects.select_related("user").get(
        user__email="mechanic.virtual@demo.autodoctor.test"
    )


def _add_bookings(target) -> None:
    """Two confirmed bookings a weekday for the target over 30 days, one in the next
    hours for every 5th mechanic, and two stretches of time off for the target."""
    from autodoctor.accounts.models import MechanicProfile
    from autodoctor.availability.models import TimeOff
    from autodoctor.booking.models import Reservation

    rows = []
    for day in range(30):
        start = NOW + timedelta(days=day, hours=1)
        rows += [(target.pk, start, 30), (target.pk, start + timedelta(hours=4), 60)]
    ids = MechanicProfile.objects.order_by("pk").values_list("pk", flat=True)
    for n, mechanic_id in enumerate(ids):
        if n % 5 == 0 and mechanic_id != target.pk:
            rows.append((mechanic_id, NOW + timedelta(hours=2, minutes=15 * (n % 8)), 30))
    Reservation.objects.bulk_create(
        Reservation(
            mechanic_id=mechanic_id,
            starts_at=start,
            ends_at=start + timedelta(minutes=minutes),
            blocked_until=start + timedelta(minutes=minutes + 15),
            status="confirmed",
            confirmed_at=NOW - timedelta(days=1),
        )
        for mechanic_id, start, minutes in rows
    )
    TimeOff.objects.create(
        mechanic=target, starts_at=NOW + timedelta(days=9), ends_at=NOW + timedelta(days=11),
        status="approved", reason="bench: two days off",
    )  # fmt: skip


def _time_row(path: str, label: str, new, baseline=None, note: str = "") -> dict:
    return {"kind": "time", "path": path, "label": label, "new": new, "baseline": baseline,
            "note": note}  # fmt: skip


# ------------------------------------------------------------------- reference (old code)


def reference_reservation_busy(mechanic_ids, window, *, now):
    """The booking busy source as it was: an ORM query built on every call."""
    from autodoctor.availability.engine import Interval
    from autodoctor.availability.service import BusyPeriod
    from autodoctor.booking.selectors import active_reservations

    qs = active_reservations(now=now).filter(
        starts_at__lt=window.end, blocked_until__gt=window.start
    )
    if mechanic_ids is not None:
        qs = qs.filter(mechanic_id__in=list(mechanic_ids))
    return [
        BusyPeriod(mechanic_id, Interval(start, end), ("reservation", pk))
        for pk, mechanic_id, start, end in qs.values_list(
            "pk", "mechanic_id", "starts_at", "ends_at"
        )
    ]


def reference_external_busy(mechanic_ids, window, *, now):
    """The external-calendar busy source as it was (ORM, ordered through the profile)."""
    from autodoctor.availability.engine import Interval
    from autodoctor.availability.models import ExternalBusy
    from autodoctor.availability.service import BusyPeriod

    qs = ExternalBusy.objects.filter(starts_at__lt=window.end, ends_at__gt=window.start)
    if mechanic_ids is not None:
        qs = qs.filter(mechanic_id__in=list(mechanic_ids))
    return [
        BusyPeriod(mechanic_id, Interval(start, end), ("external_calendar", calendar_id))
        for mechanic_id, calendar_id, start, end in qs.values_list(
            "mechanic_id", "calendar_id", "starts_at", "ends_at"
        )
    ]


@contextmanager
def reference_sources():
    """The registry of busy sources as it was, for the duration of the block."""
    from autodoctor.availability.service import BUSY_SOURCES

    saved = list(BUSY_SOURCES)
    BUSY_SOURCES[:] = [reference_external_busy, reference_reservation_busy]
    try:
        yield
    finally:
        BUSY_SOURCES[:] = saved


def reference_hold(*, customer, intake, mechanic_id, starts_at, now=None):
    """booking.services.reservation_hold as it was before issue 15."""
    from django.conf import settings
    from django.utils import timezone

    from autodoctor.accounts.models import MechanicProfile
    from autodoctor.booking import services as s
    from autodoctor.errors import NotFound

    now = now or timezone.now()
    mechanic = MechanicProfile.objects.approved().filter(pk=mechanic_id).first()
    if mechanic is None:
        raise NotFound("No such mechanic.")
    minutes = intake.plan.duration_minutes
    _reference_slot_refusal(mechanic, starts_at, minutes, now=now)
    expires_at = now + timedelta(minutes=settings.HOLD_MINUTES)

    def work():
        _reference_holds_limit(customer, mechanic, starts_at, now=now)
        ends_at = starts_at + timedelta(minutes=intake.plan.duration_minutes)
        _reference_active_session_refusal(customer, starts_at=starts_at, ends_at=ends_at)
        session = s.Session.objects.create(
            customer=customer, mechanic=mechanic, scheduled_for=starts_at, metadata={},
            **intake.session_fields(),
        )  # fmt: skip
        reservation = _reference_insert(
            mechanic=mechanic, session=session, starts_at=starts_at, ends_at=ends_at, now=now,
            status=s.ReservationStatus.RESERVED, expires_at=expires_at,
        )  # fmt: skip
        s.session_event_record(
            session=session, action="booking.session.held", actor=customer,
            data={"reservation_id": reservation.pk, "starts_at": starts_at.isoformat(),
                  "expires_at": expires_at.isoformat()},
        )  # fmt: skip
        return reservation

    try:
        return s.run_booking_transaction(work)
    except s._SlotRace:
        raise s._slot_taken(mechanic, starts_at, minutes, now=now) from None


def _reference_slot_refusal(mechanic, starts_at, minutes, *, now):
    from autodoctor.availability import service as availability
    from autodoctor.errors import SlotUnavailable

    listed = availability.available_slots(
        mechanic, starts_at, starts_at + timedelta(microseconds=1), timedelta(minutes=minutes),
        now=now,
    )  # fmt: skip
    if not listed:
        availability.booking_rules(mechanic)
        raise SlotUnavailable("That slot was just taken. Pick another time.")


def _reference_holds_limit(customer, mechanic, starts_at, *, now):
    from django.conf import settings

    from autodoctor.accounts.models import User
    from autodoctor.booking.models import Reservation, ReservationStatus
    from autodoctor.errors import DomainError

    User.objects.select_for_update().filter(pk=customer.pk).first()
    active = Reservation.objects.filter(
        session__customer=customer, status=ReservationStatus.RESERVED, expires_at__gt=now
    )
    if active.count() >= settings.HOLDS_PER_CUSTOMER:
        raise DomainError("hold limit", code="hold_limit", status=429)
    zone = mechanic.user.zone
    local_day = starts_at.astimezone(zone).date()
    same_day = [
        start
        for start in active.filter(mechanic=mechanic).values_list("starts_at", flat=True)
        if start.astimezone(zone).date() == local_day
    ]
    if len(same_day) >= settings.HOLDS_PER_CUSTOMER_MECHANIC_DAY:
        raise DomainError("hold limit", code="hold_limit", status=429)


def _reference_active_session_refusal(customer, *, starts_at, ends_at):
    from django.conf import settings

    from autodoctor.accounts.models import User
    from autodoctor.booking.models import Reservation, ReservationStatus, Session, SessionStatus
    from autodoctor.errors import Conflict

    User.objects.select_for_update().filter(pk=customer.pk).first()
    overlapping = Reservation.objects.filter(
        status=ReservationStatus.CONFIRMED, starts_at__lt=ends_at, ends_at__gt=starts_at
    ).values("session_id")
    active = (
        Session.objects.filter(customer=customer)
        .filter(pk__in=overlapping)
        .exclude(status__in=(SessionStatus.COMPLETED, SessionStatus.CANCELLED))
    )
    if len(list(active.order_by("pk")[: settings.ACTIVE_SESSIONS_PER_CUSTOMER])) >= (
        settings.ACTIVE_SESSIONS_PER_CUSTOMER
    ):
        raise Conflict("active session", code="active_session")


def _reference_insert(*, mechanic, session, starts_at, ends_at, now, status, expires_at):
    from django.db import IntegrityError, transaction

    from autodoctor.booking import services as s
    from autodoctor.booking.models import Reservation, ReservationStatus

    blocked_until = ends_at + s._mechanic_buffer(mechanic)
    stale = Reservation.objects.filter(
        mechanic_id=mechanic.pk, status=ReservationStatus.RESERVED, expires_at__lte=now,
        starts_at__lt=blocked_until, blocked_until__gt=starts_at,
    )  # fmt: skip
    s.holds_expire(stale, now=now)
    try:
        with transaction.atomic():
            return Reservation.objects.create(
                mechanic=mechanic, session=session, starts_at=starts_at, ends_at=ends_at,
                blocked_until=blocked_until, status=status, expires_at=expires_at,
            )  # fmt: skip
    except IntegrityError as exc:
        if s._is_overlap_violation(exc):
            raise s._SlotRace from exc
        raise


def reference_mechanics_ranked(criteria, *, limit=10, now=None):
    """Start-now matching as it was: every approved mechanic loaded and scored in Python."""
    from autodoctor.accounts.models import MechanicProfile
    from autodoctor.booking.matching import _booked_soon, match_score

    candidates = (
        MechanicProfile.objects.approved()
        .select_related("user")
        .only("pk", "user__time_zone", "is_online", "last_seen_at", "specialty_keywords",
              "brands", "years_experience", "fsa", "city", "rating")
        .exclude(pk__in=_booked_soon(criteria, now=now))
    )  # fmt: skip
    matches = [match_score(m, criteria, now=now) for m in candidates]
    matches.sort(key=lambda m: (-m.score, m.mechanic_id))
    return matches[:limit]


def reference_slots_view(request, mechanic_id: int):
    """GET /api/mechanics/{id}/available-slots as it was: the profile fetched first, the
    slots as dicts validated and serialized by ninja through SlotsOut."""
    from autodoctor.availability import selectors, service
    from autodoctor.availability.api import SlotsOut, _duration, _slot_out, _window

    zone = request.auth.time_zone
    length = _duration(request.GET.get("plan"), None)
    start, end = _window(request.GET["from"], request.GET["to"], zone)
    mechanic = selectors.mechanic_public(mechanic_id)
    with reference_sources():
        slots = service.available_slots(mechanic, start, end, length)
    return SlotsOut.model_validate(
        {"mechanic_id": mechanic.pk, "time_zone": zone,
         "duration_minutes": length // timedelta(minutes=1),
         "slots": [_slot_out(s, zone) for s in slots]}
    )  # fmt: skip


# The web server of the ``http`` path: the project's URLs plus the reference route.
def __getattr__(name: str):
    if name != "urlpatterns":
        raise AttributeError(name)
    from django.urls import include, path
    from ninja import NinjaAPI

    from autodoctor.api import ApiTokenAuth
    from autodoctor.availability.api import SlotsOut

    reference = NinjaAPI(urls_namespace="bench_reference", auth=[ApiTokenAuth()])
    reference.get("/mechanics/{mechanic_id}/available-slots", response=SlotsOut)(
        reference_slots_view
    )
    return [path("bench/reference/", reference.urls), path("", include("autodoctor.urls"))]


def wsgi():
    """gunicorn ``bench.paths:wsgi()``: the project's WSGI app with this module's URLs."""
    _setup_django()
    from django.conf import settings
    from django.core.wsgi import get_wsgi_application

    settings.ROOT_URLCONF = "bench.paths"
    return get_wsgi_application()


# ------------------------------------------------------------------------------ paths


def bench_slots(args, target) -> list[dict]:
    from autodoctor.availability import service

    window = (NOW, NOW + timedelta(days=30))

    def new():
        return service.available_slots(target.pk, *window, DURATION, now=NOW)

    def old():
        with reference_sources():
            return service.available_slots(target, *window, DURATION, now=NOW)

    assert new() == old()
    return [
        _time_row(
            "slots",
            "30-day available_slots call",
            harness.timed(new, args.runs),
            harness.timed(old, args.runs),
            note=f"{len(new())} slots",
        )
    ]


def bench_batch(args, target) -> list[dict]:
    from autodoctor.accounts.models import MechanicProfile
    from autodoctor.availability import service

    ids = [target.pk, *MechanicProfile.objects.exclude(pk=target.pk).order_by("pk")
           .values_list("pk", flat=True)[:9]]  # fmt: skip
    window = (NOW, NOW + timedelta(days=30))

    def sequential():
        return {m: service.available_slots(m, *window, DURATION, now=NOW) for m in ids}

    def batched():
        return service.available_slots_by_mechanic(ids, *window, DURATION, now=NOW)

    def sequential_old():
        with reference_sources():
            return {m: service.available_slots(m, *window, DURATION, now=NOW) for m in ids}

    assert sequential() == batched()
    runs = max(5, args.runs // 4)
    return [
        _time_row("batch", "10 mechanics × 30 days, sequential", harness.timed(sequential, runs),
                  harness.timed(sequential_old, runs)),
        _time_row("batch", "10 mechanics × 30 days, batched", harness.timed(batched, runs),
                  harness.timed(sequential_old, runs)),
    ]  # fmt: skip


@contextmanager
def without_offered_pieces():
    """The set-based code alone (the baseline): hide the materialized range for a while."""
    from autodoctor.availability.models import OfferedRange

    saved = list(OfferedRange.objects.values_list("start_s", "end_s"))
    OfferedRange.objects.all().delete()
    try:
        yield
    finally:
        for start_s, end_s in saved:
            OfferedRange.objects.create(pk=1, start_s=start_s, end_s=end_s)


def bench_earliest(args, target) -> list[dict]:
    from autodoctor.availability import service

    def earliest():
        return service.earliest_slot(DURATION, now=NOW)

    found = earliest()
    with without_offered_pieces():
        assert service.earliest_slot(DURATION, now=NOW) == found
        old = harness.timed(earliest, args.runs)
    return [
        _time_row("earliest", "earliest slot, all mechanics", harness.timed(earliest, args.runs),
                  old, note=f"mechanic {found[0]} at {found[1].start:%Y-%m-%d %H:%M} UTC")
    ]  # fmt: skip


def bench_free(args, target) -> list[dict]:
    from autodoctor.availability import service

    # With the default 2-hour notice the first hour anyone can book is [now+2h, now+3h].
    def free():
        return service.mechanics_free_between(
            NOW + timedelta(hours=2), NOW + timedelta(hours=3), now=NOW
        )

    found = free()
    with without_offered_pieces():
        assert free() == found
        old = harness.timed(free, args.runs)
    return [
        _time_row("free", "free in the first bookable hour", harness.timed(free, args.runs),
                  old, note=f"{len(found)} mechanics free")
    ]  # fmt: skip


def bench_match(args, target) -> list[dict]:
    from autodoctor.accounts.models import MechanicProfile
    from autodoctor.booking.matching import MatchCriteria, mechanics_ranked

    MechanicProfile.objects.filter(pk__in=MechanicProfile.objects.order_by("pk").values("pk")[:40]
                                   ).update(is_online=True, last_seen_at=NOW)  # fmt: skip
    criteria = MatchCriteria(concern="Grinding noise from the brakes", brand="Honda",
                             city="Toronto", duration_minutes=15)  # fmt: skip

    def new():
        return mechanics_ranked(criteria, limit=10, now=NOW)

    def old():
        return reference_mechanics_ranked(criteria, limit=10, now=NOW)

    assert [(m.mechanic_id, m.score) for m in new()] == [(m.mechanic_id, m.score) for m in old()]
    runs = max(5, args.runs // 2)
    return [
        _time_row("match", "start-now matching, all mechanics", harness.timed(new, runs),
                  harness.timed(old, runs))
    ]  # fmt: skip


# ------------------------------------------------------------------------------ holds


def _hold_task(task: tuple[str, int, int, str, bool]) -> str:
    """One hold; with ``fresh`` on its own connection (a web request with
    CONN_MAX_AGE=0), else on the process's kept connection (``./dev prod``: 60 s)."""
    from django.db import connection

    from autodoctor.accounts.models import User
    from autodoctor.booking import services
    from autodoctor.errors import Busy, Conflict

    variant, customer_id, mechanic_id, start_iso, fresh = task
    try:
        customer = User.objects.get(pk=customer_id)
        intake = services.intake_validate(
            customer=customer, plan="advice", concern="Grinding noise when braking at low speed"
        )
        hold = services.reservation_hold if variant == "new" else reference_hold
        if variant == "new":
            hold(customer=customer, intake=intake, mechanic_id=mechanic_id,
                 starts_at=datetime.fromisoformat(start_iso))  # fmt: skip
        else:
            with reference_sources():
                hold(customer=customer, intake=intake, mechanic_id=mechanic_id,
                     starts_at=datetime.fromisoformat(start_iso))  # fmt: skip
        return "ok"
    except Conflict:
        return "409"
    except Busy:
        return "503"
    except Exception as exc:
        return f"500:{type(exc).__name__}"
    finally:
        if fresh:
            connection.close()


def _ready(_: int) -> int:
    from django.db import connection

    connection.ensure_connection()
    return os.getpid()


def bench_holds(args, target) -> list[dict]:
    from contention import _customers, _mechanics, _overlapping_active_pairs
    from django.conf import settings
    from django.db import connection

    settings.HOLDS_PER_CUSTOMER = settings.HOLDS_PER_CUSTOMER_MECHANIC_DAY = 10**6
    os.environ["HOLDS_PER_CUSTOMER"] = os.environ["HOLDS_PER_CUSTOMER_MECHANIC_DAY"] = "1000000"
    customers = _customers(50)
    real_now = datetime.now(UTC)
    base = (real_now + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    rows = []
    connection.close()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(args.hold_workers, initializer=_setup_django) as pool:
        pool.map(_ready, range(args.hold_workers * 4))
        for fresh, how in ((True, "a connection per hold"), (False, "connections kept")):
            rates: dict[str, float] = {}
            outcomes: dict[str, Counter] = {}
            for variant in ("reference", "new"):
                mechanics = _mechanics(25)
                per = -(-args.holds // len(mechanics))
                tasks = [
                    (variant, customers[(k * len(mechanics) + m) % len(customers)], mid,
                     (base + timedelta(hours=k)).isoformat(), fresh)
                    for k in range(per) for m, mid in enumerate(mechanics)
                ][: args.holds]  # fmt: skip
                connection.close()
                started = time.perf_counter()
                counts = Counter(pool.map(_hold_task, tasks, chunksize=4))
                rates[variant] = len(tasks) / (time.perf_counter() - started)
                outcomes[variant] = counts
                assert sum(_overlapping_active_pairs(m) for m in mechanics) == 0
            said = {}
            for variant, counts in outcomes.items():
                errors = sum(v for k, v in counts.items() if k.startswith("500"))
                said[variant] = (
                    f"ok {counts['ok']}, 409 {counts['409']}, 503 {counts['503']}, 5xx {errors}"
                )
            rows.append(
                {"kind": "rate", "path": "holds",
                 "label": f"holds, distinct slots, {args.hold_workers} processes, {how}",
                 "new": rates["new"], "baseline": rates["reference"],
                 "note": f"{args.holds} holds each; old: {said['reference']}; new: "
                         f"{said['new']}; 0 overlapping rows"}
            )  # fmt: skip
    return rows


# ------------------------------------------------------------------------------- http


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(port: int, path: str, token: str) -> tuple[int, float]:
    began = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        answer = conn.getresponse()
        answer.read()
        return answer.status, time.perf_counter() - began
    finally:
        conn.close()


def bench_http(args, target) -> list[dict]:
    from autodoctor.accounts.models import Role, User
    from autodoctor.accounts.services import api_token_create

    customer = User.objects.filter(role=Role.CUSTOMER, is_active=True).order_by("pk").first()
    token = api_token_create(user=customer, name="paths bench").raw
    day = (datetime.now(UTC) + timedelta(days=1)).date()
    query = f"available-slots?plan=advice&from={day}&to={day + timedelta(days=29)}"
    paths = {
        "new": f"/api/mechanics/{target.pk}/{query}",
        "reference": f"/bench/reference/mechanics/{target.pk}/{query}",
    }
    port = _free_port()
    env = dict(os.environ, STATIC_MANIFEST="false", SECURE_SSL_REDIRECT="false",
               DB_CONN_MAX_AGE="60", RATE_LIMIT_READS_PER_MINUTE="0",
               RATE_LIMIT_WRITES_PER_MINUTE="0")  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "bench.paths:wsgi()", "--bind", f"127.0.0.1:{port}",
         "--workers", "2", "--log-level", "warning"],
        env=env, cwd=ROOT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, "gunicorn exited while starting"
            try:
                if _get(port, "/healthz", token)[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "gunicorn never answered /healthz"
            time.sleep(0.2)
        for variant in ("reference", "new"):  # warm both workers
            for _ in range(6):
                status, _took = _get(port, paths[variant], token)
                assert status == 200, (variant, status)
        samples: dict[str, list[float]] = {"reference": [], "new": []}
        for _ in range(args.http_requests):  # interleaved
            for variant in ("reference", "new"):
                samples[variant].append(_get(port, paths[variant], token)[1])
        rates = {v: _rate(port, paths[v], token, args.http_seconds) for v in ("reference", "new")}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)

    def stats(values: list[float]) -> tuple[float, float]:
        values = sorted(values)
        return statistics.median(values), values[round(0.95 * (len(values) - 1))]

    return [
        _time_row("http", "30-day slot list via gunicorn (2 workers)", stats(samples["new"]),
                  stats(samples["reference"])),
        {"kind": "rate", "path": "http", "label": "  … requests/s with 8 connections",
         "new": rates["new"][0], "baseline": rates["reference"][0],
         "note": f"statuses old {rates['reference'][1]}, new {rates['new'][1]}"},
    ]  # fmt: skip


def _rate(port: int, path: str, token: str, seconds: float) -> tuple[float, dict]:
    stop_at = time.monotonic() + seconds
    counts: Counter = Counter()
    lock = threading.Lock()

    def client() -> None:
        while time.monotonic() < stop_at:
            try:
                status = _get(port, path, token)[0]
            except OSError:
                status = "conn"
            with lock:
                counts[status] += 1

    threads = [threading.Thread(target=client) for _ in range(8)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts.values()) / (time.monotonic() - started), dict(counts)


if __name__ == "__main__":
    main()
