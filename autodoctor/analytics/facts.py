"""Session facts: one narrow row per session with what the dashboard's booking figures
read (`models.SessionFact`), so the metrics scan a small table instead of joining the
wide session table to its reservations, cancellation events, offers and ratings.

One definition: `fact_rows` is the query that derives a session's facts from the raw
tables; the full build and every refresh insert its rows (INSERT … SELECT, set-based).

Never stale on read. Database triggers (analytics migration 0003, SQLite and PostgreSQL)
insert the session's id into `FactDirty` on every write that can change a fact: a
session's own columns, its reservations' confirmation, its cancellation events, its
accepted offer, its rating. Model saves, queryset updates, bulk writes, the Django admin
and raw SQL are all caught, so none of the booking code calls anything here. Every
metric reads through `session_facts()`, which first calls `facts_refresh()`: the dirty
set is what changed since the last refresh (the periodic `analytics.tasks.facts_refresh`
keeps it small), recomputed in one short transaction.

Refresh races (PostgreSQL, READ COMMITTED): one refresh at a time (a transaction-level
advisory lock). It first deletes the dirty rows it can see (DELETE … RETURNING: rows
of committed writes only), then recomputes those sessions in later statements, whose
snapshots see every write that produced a deleted row. A write that commits after the
delete keeps its own dirty row, so its session is recomputed by the next refresh, never
lost. On SQLite every write transaction is IMMEDIATE: refreshes and writes take turns.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.expressions import Exists
from django.db.models.functions import Coalesce
from django.db.models.lookups import Exact, LessThan

from autodoctor.booking.models import (
    Offer,
    OfferStatus,
    Reservation,
    Session,
    SessionEvent,
    SessionStatus,
)

from .expressions import EpochSeconds, seconds_between
from .models import FactDirty, SessionFact

CANCELLED_ACTION = "booking.session.cancelled"

# Lead-time histogram buckets: (label, lower bound inclusive, upper bound exclusive).
LEAD_BUCKETS: tuple[tuple[str, timedelta, timedelta | None], ...] = (
    ("< 2 h", timedelta(0), timedelta(hours=2)),
    ("2–24 h", timedelta(hours=2), timedelta(hours=24)),
    ("1–3 days", timedelta(days=1), timedelta(days=3)),
    ("3–7 days", timedelta(days=3), timedelta(days=7)),
    ("≥ 7 days", timedelta(days=7), None),
)
# How late a cancellation came, in hours before the start (negative: after it).
LATENESS_BUCKETS: tuple[tuple[str, float | None, float | None], ...] = (
    ("after the start", None, 0),
    ("< 2 h before", 0, 2),
    ("2–24 h before", 2, 24),
    ("≥ 24 h before", 24, None),
)

# Above this many dirty rows one full build is cheaper than recomputing by id (a bulk
# load, the first refresh after the migration).
FULL_BUILD_ABOVE = 20_000
_CHUNK = 500
# pg_advisory_xact_lock key of the refresh ("facts" in ASCII).
_LOCK_KEY = 0x6661637473

# fact column -> annotation of `fact_rows` (annotations may not reuse a field's name)
COLUMNS = {
    "session_id": "f_session",
    "mechanic_id": "f_mechanic",
    "plan_id": "f_plan",
    "created_at": "f_created_at",
    "booking": "f_booking",
    "scheduled": "f_scheduled",
    "lead_s": "f_lead_s",
    "lead_bucket": "f_lead_bucket",
    "is_cancelled": "f_cancelled",
    "cancelled_by": "f_cancelled_by",
    "is_rescheduled": "f_rescheduled",
    "late_bucket": "f_late_bucket",
    "no_show": "f_no_show",
    "offered_at": "f_offered_at",
    "wait_s": "f_wait_s",
    "score": "f_score",
    "rated_at": "f_rated_at",
    "rating_mechanic_id": "f_rating_mechanic",
}


def _bool(q: Q | Exists) -> ExpressionWrapper:
    return ExpressionWrapper(q, output_field=BooleanField())


def fact_rows() -> QuerySet:
    """The facts of every session, as annotations named in COLUMNS (the one definition).

    - booking: advance (`scheduled_for` set) with a confirmed reservation, or start-now
      sent out (`offered_at` set);
    - lead_s = scheduled_for − created_at in whole seconds, lead_bucket its LEAD_BUCKETS
      index (advance only);
    - from the session's cancellation event (the latest, if ever there were two):
      late_bucket (LATENESS_BUCKETS on `hours_before_start`) and no_show, the side that
      did not show: a cancellation marked `mechanic_no_show` by the customer (the mechanic)
      or by the mechanic (the customer), or the clock's `no_show` (booking.lifecycle);
    - wait_s = the accepted offer's responded_at − offered_at (start-now);
    - score, rated_at, rating_mechanic from the session's rating.
    """
    confirmed = Reservation.objects.filter(session=OuterRef("pk"), confirmed_at__isnull=False)
    lead = seconds_between("scheduled_for", "created_at")
    scheduled = Q(scheduled_for__isnull=False)
    lead_whens = [
        When(scheduled & Q(LessThan(lead, Value(int(high.total_seconds())))), then=Value(i))
        for i, (_label, _low, high) in enumerate(LEAD_BUCKETS)
        if high is not None
    ]
    lead_whens.append(When(scheduled, then=Value(len(LEAD_BUCKETS) - 1)))

    cancel = SessionEvent.objects.filter(session=OuterRef("pk"), action=CANCELLED_ACTION).order_by(
        "-pk"
    )
    late_whens = []
    for i, (_label, low, high) in enumerate(LATENESS_BUCKETS):
        condition = Q()
        if low is not None:
            condition &= Q(data__hours_before_start__gte=low)
        if high is not None:
            condition &= Q(data__hours_before_start__lt=high)
        late_whens.append(When(condition, then=Value(i)))
    late = Case(*late_whens, default=None, output_field=IntegerField())

    def by(who: str) -> Q:
        return Q(Exact(OuterRef("cancelled_by"), Value(who)))

    flagged = Q(data__mechanic_no_show=True)
    side = Case(
        When(flagged & by("customer"), then=Value("mechanic")),
        When(flagged & by("mechanic"), then=Value("customer")),
        When(by("system") & Q(data__no_show="mechanic"), then=Value("mechanic")),
        When(by("system") & Q(data__no_show="customer"), then=Value("customer")),
        default=Value(""),
    )
    cancelled = Q(status=SessionStatus.CANCELLED)

    wait = ExpressionWrapper(
        EpochSeconds("responded_at") - EpochSeconds(OuterRef("offered_at")),
        output_field=IntegerField(),
    )
    # At most one accepted offer a session (offer_one_accepted_per_session): no ordering.
    accepted = Offer.objects.filter(session=OuterRef("pk"), status=OfferStatus.ACCEPTED).order_by()
    return Session.objects.annotate(
        f_session=F("pk"),
        f_mechanic=F("mechanic_id"),
        f_plan=F("plan_id"),
        f_created_at=F("created_at"),
        f_booking=Case(
            When(scheduled, then=Exists(confirmed)),
            default=Q(offered_at__isnull=False),
            output_field=BooleanField(),
        ),
        f_scheduled=_bool(scheduled),
        f_lead_s=lead,
        f_lead_bucket=Case(*lead_whens, default=None, output_field=IntegerField()),
        f_cancelled=_bool(cancelled),
        f_cancelled_by=F("cancelled_by"),
        f_rescheduled=_bool(Q(reschedule_count__gt=0)),
        f_late_bucket=Case(
            When(cancelled, then=Subquery(cancel.annotate(b=late).values("b")[:1])),
            default=None,
            output_field=IntegerField(),
        ),
        f_no_show=Case(
            When(
                cancelled,
                then=Coalesce(Subquery(cancel.annotate(s=side).values("s")[:1]), Value("")),
            ),
            default=Value(""),
        ),
        f_offered_at=F("offered_at"),
        f_wait_s=Case(
            When(
                Q(scheduled_for__isnull=True, offered_at__isnull=False),
                then=Subquery(accepted.annotate(w=wait).values("w")[:1]),
            ),
            default=None,
            output_field=IntegerField(),
        ),
        f_score=F("rating__score"),
        f_rated_at=F("rating__created_at"),
        f_rating_mechanic=F("rating__mechanic_id"),
    ).values(*COLUMNS.values())


def _insert(cursor, queryset: QuerySet, *, ordered: bool = False) -> int:
    """INSERT INTO the fact table the rows of `queryset` (a `fact_rows()` filter)."""
    sql, params = queryset.order_by().query.sql_with_params()
    quote = connection.ops.quote_name
    table = quote(SessionFact._meta.db_table)
    columns = ", ".join(quote(c) for c in COLUMNS)
    picked = ", ".join(quote(a) for a in COLUMNS.values())
    order = f" ORDER BY {quote('f_created_at')}" if ordered else ""
    cursor.execute(
        f"INSERT INTO {table} ({columns}) SELECT {picked} FROM ({sql}) AS fact_source{order}",
        params,
    )
    return cursor.rowcount


def _lock(cursor) -> None:
    if connection.vendor == "postgresql":
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])


# The tables `fact_rows` reads.
_SOURCES = (
    "booking_session",
    "booking_reservation",
    "booking_sessionevent",
    "booking_offer",
    "analytics_sessionrating",
)


def _build_all(cursor) -> int:
    if connection.vendor == "postgresql":
        # After a bulk load the planner has no statistics yet (autovacuum comes later):
        # it took the new rating table for empty and joined it in a nested loop, 494 s
        # instead of 40 for a million sessions. ANALYZE samples; a few seconds.
        cursor.execute(f"ANALYZE {', '.join(_SOURCES)}")
    cursor.execute(f"DELETE FROM {connection.ops.quote_name(SessionFact._meta.db_table)}")
    # Stored in creation order: a period's bookings share table pages.
    built = _insert(cursor, fact_rows(), ordered=True)
    if connection.vendor == "postgresql":  # ANALYZE counts this transaction's own rows
        cursor.execute(f"ANALYZE {connection.ops.quote_name(SessionFact._meta.db_table)}")
    return built


def facts_rebuild() -> int:
    """Every session's facts from scratch (after a bulk load); returns the rows."""
    dirty = connection.ops.quote_name(FactDirty._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        _lock(cursor)
        # Delete the dirty rows first: the build's later snapshot sees their writes.
        cursor.execute(f"DELETE FROM {dirty}")
        built = _build_all(cursor)
    return built


def facts_refresh() -> int:
    """Recompute the facts of the dirty sessions; returns how many sessions (0 when none
    was dirty: one indexed EXISTS, no transaction)."""
    if not FactDirty.objects.exists():
        return 0
    dirty = connection.ops.quote_name(FactDirty._meta.db_table)
    facts = connection.ops.quote_name(SessionFact._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        _lock(cursor)
        cursor.execute(f"SELECT COUNT(*), COUNT(session_id) FROM {dirty}")
        total, with_session = cursor.fetchone()
        if total == 0:
            return 0  # another refresh took them meanwhile
        if total > with_session or total > FULL_BUILD_ABOVE:
            cursor.execute(f"DELETE FROM {dirty}")
            return _build_all(cursor)
        cursor.execute(f"DELETE FROM {dirty} RETURNING session_id")
        ids = sorted({row[0] for row in cursor.fetchall()})
        for k in range(0, len(ids), _CHUNK):
            chunk = ids[k : k + _CHUNK]
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(f"DELETE FROM {facts} WHERE session_id IN ({marks})", chunk)
            _insert(cursor, fact_rows().filter(pk__in=chunk))
    return len(ids)


# Set inside `refreshed()`: the facts were brought up to date once for a whole dashboard.
_fresh: ContextVar[bool] = ContextVar("analytics_facts_fresh", default=False)


@contextmanager
def refreshed() -> Iterator[None]:
    """Refresh once; `session_facts()` inside does not check again (one page, one check)."""
    facts_refresh()
    token = _fresh.set(True)
    try:
        yield
    finally:
        _fresh.reset(token)


def session_facts() -> QuerySet:
    """The fact table, refreshed first (unless inside `refreshed()`): what every metric
    reads."""
    if not _fresh.get():
        facts_refresh()
    return SessionFact.objects.all()
