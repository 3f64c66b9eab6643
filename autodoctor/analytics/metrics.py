"""The plan's success metrics (§14.3, Phase 5), each defined once, here.

Every metric takes a `Period` (a half-open UTC range `[start, end)`), a `Scope`
(platform, one mechanic or one workshop's mechanics) and, where time matters, `now`.
Aggregates run in SQL (a handful of queries per metric, none per row); percentiles are
nearest-rank values read with ORDER BY … OFFSET. The formula of each metric is in its
docstring and in docs/analytics.md.

Words used below:
- a *booking* is a session a customer committed to: a start-now request that went out
  to mechanics (`offered_at` set, i.e. paid) or an advance booking whose hold was
  confirmed (a reservation with `confirmed_at`). Unpaid requests and expired holds are
  not bookings. It belongs to the period it was *made* in (`Session.created_at`).
- *booked time* is a confirmed, still active reservation: `[starts_at, ends_at)`, counted
  in the period its start falls in.

plan §5.3 (contractor law): nothing here counts offers declined or accepted, computes an
acceptance rate or ranks mechanics by responsiveness or hours. The start-now wait is a
platform figure only (`start_now`), never per mechanic; utilization is informational.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import (
    Avg,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay, TruncWeek

from autodoctor.accounts.models import MechanicProfile
from autodoctor.booking.models import (
    Offer,
    OfferStatus,
    Reservation,
    ReservationStatus,
    Session,
    SessionStatus,
)
from autodoctor.errors import InvalidInput
from autodoctor.payments.models import PayoutEntry

from .models import SessionRating

PLATFORM, MECHANIC, WORKSHOP = "platform", "mechanic", "workshop"

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


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a period needs aware datetimes")
        if self.end <= self.start:
            raise InvalidInput("The period must end after it starts.", field="end")

    @classmethod
    def last_days(cls, days: int, *, now: datetime) -> Period:
        return cls(now - timedelta(days=days), now)

    @property
    def minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)


@dataclass(frozen=True)
class Scope:
    kind: str = PLATFORM
    id: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in (PLATFORM, MECHANIC, WORKSHOP):
            raise ValueError(f"unknown scope {self.kind!r}")
        if (self.kind == PLATFORM) != (self.id is None):
            raise ValueError("a mechanic or workshop scope needs its id, the platform none")

    def mechanic_filter(self, path: str = "mechanic") -> Q:
        """Rows of this scope, `path` leading to a MechanicProfile."""
        if self.kind == MECHANIC:
            return Q(**{f"{path}_id": self.id})
        if self.kind == WORKSHOP:
            return Q(**{f"{path}__workshop_id": self.id})
        return Q()

    def mechanic_ids(self) -> QuerySet:
        """The mechanics of this scope (every mechanic for the platform)."""
        mechanics = MechanicProfile.objects.all()
        if self.kind == MECHANIC:
            mechanics = mechanics.filter(pk=self.id)
        elif self.kind == WORKSHOP:
            mechanics = mechanics.filter(workshop_id=self.id)
        return mechanics.values_list("pk", flat=True)


def _duration(later: str, earlier: str) -> ExpressionWrapper:
    return ExpressionWrapper(F(later) - F(earlier), output_field=DurationField())


def _minutes(value: timedelta | None) -> float | None:
    return None if value is None else round(value.total_seconds() / 60, 1)


def _share(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


def percentiles(queryset: QuerySet, field: str, ranks: tuple[float, ...] = (0.5, 0.9)) -> dict:
    """Nearest-rank percentiles of `field` over `queryset`: the value at position
    ⌈p·n⌉ in ascending order (p50 of 1, 2, 3, 4 is 2). One COUNT plus one ORDER BY …
    OFFSET 1 query per rank; None when there are no rows."""
    values = queryset.exclude(**{f"{field}__isnull": True})
    n = values.count()
    out = {}
    for p in ranks:
        key = f"p{round(p * 100)}"
        if n == 0:
            out[key] = None
            continue
        index = max(math.ceil(p * n), 1) - 1
        out[key] = values.order_by(field).values_list(field, flat=True)[index]
    return out


def bookings(period: Period, scope: Scope) -> QuerySet:
    """The bookings made in the period (see the module docstring)."""
    confirmed = Reservation.objects.filter(session=OuterRef("pk"), confirmed_at__isnull=False)
    advance = Q(scheduled_for__isnull=False) & Exists(confirmed)
    immediate = Q(scheduled_for__isnull=True, offered_at__isnull=False)
    return Session.objects.filter(
        advance | immediate,
        scope.mechanic_filter(),
        created_at__gte=period.start,
        created_at__lt=period.end,
    )


def _booked_time(period: Period, scope: Scope) -> QuerySet:
    return Reservation.objects.filter(
        scope.mechanic_filter(),
        status=ReservationStatus.CONFIRMED,
        starts_at__gte=period.start,
        starts_at__lt=period.end,
    )


# --------------------------------------------------------------------------- metrics


def booking_mix(period: Period, scope: Scope) -> dict:
    """Advance vs start-now.

    share_advance = advance bookings ÷ all bookings made in the period, where an advance
    booking has `scheduled_for` set and a start-now one does not. Also by UTC week
    (Monday 00:00 UTC) and by plan. 3 queries."""
    counts = {"advance": Count("pk", filter=Q(scheduled_for__isnull=False))}
    counts["immediate"] = Count("pk", filter=Q(scheduled_for__isnull=True))
    base = bookings(period, scope)
    total = base.aggregate(**counts)
    by_week = list(
        base.annotate(week=TruncWeek("created_at", tzinfo=UTC))
        .values("week")
        .annotate(**counts)
        .order_by("week")
    )
    by_plan = list(
        base.values("plan__code", "plan__name").annotate(**counts).order_by("plan__name")
    )
    return {
        **total,
        "total": total["advance"] + total["immediate"],
        "share_advance": _share(total["advance"], total["advance"] + total["immediate"]),
        "by_week": by_week,
        "by_plan": by_plan,
    }


def lead_time(period: Period, scope: Scope) -> dict:
    """Booking lead time of advance bookings made in the period.

    lead = scheduled_for − created_at (when the customer placed the hold; payment
    follows within the 15-minute hold). Median (p50) and p90 by nearest rank, in
    minutes, and a histogram over LEAD_BUCKETS. 4 queries."""
    base = bookings(period, scope).filter(scheduled_for__isnull=False)
    base = base.annotate(lead=_duration("scheduled_for", "created_at"))
    ranks = percentiles(base, "lead")
    buckets = {}
    for i, (_label, low, high) in enumerate(LEAD_BUCKETS):
        condition = Q(lead__gte=low) & (Q(lead__lt=high) if high is not None else Q())
        buckets[f"bucket_{i}"] = Count("pk", filter=condition)
    counted = base.aggregate(count=Count("pk"), **buckets)
    return {
        "count": counted["count"],
        "median_minutes": _minutes(ranks["p50"]),
        "p90_minutes": _minutes(ranks["p90"]),
        "histogram": [
            {"label": label, "count": counted[f"bucket_{i}"]}
            for i, (label, *_) in enumerate(LEAD_BUCKETS)
        ],
    }


def utilization(period: Period, scope: Scope, *, now: datetime) -> dict:
    """Mechanic utilization = booked minutes ÷ available minutes in the period.

    booked minutes: confirmed reservations starting in the period (ends_at − starts_at);
    available minutes: the availability service's `offered_minutes` (the mechanic's own
    or workshop hours by type, date overrides, minus time off: the one source of truth),
    loaded for all mechanics of the scope at once. Platform-wide: Σ booked ÷ Σ
    available. A mechanic with no hours has ratio None (not 0, not infinite). 2 queries
    plus the availability service's fixed load."""
    from autodoctor.availability.service import offered_minutes

    booked_rows = (
        _booked_time(period, scope)
        .values("mechanic_id")
        .annotate(booked=Sum(_duration("ends_at", "starts_at")))
    )
    booked = {row["mechanic_id"]: row["booked"] for row in booked_rows}
    names = dict(
        MechanicProfile.objects.filter(pk__in=scope.mechanic_ids()).values_list(
            "pk", "user__full_name"
        )
    )
    offered = offered_minutes(list(names), period.start, period.end, now=now)
    rows = []
    for mid, name in sorted(names.items(), key=lambda item: (item[1], item[0])):
        booked_minutes = int(booked.get(mid, timedelta(0)).total_seconds() // 60)
        available = offered.get(mid, 0)
        rows.append(
            {
                "mechanic_id": mid,
                "name": name,
                "booked_minutes": booked_minutes,
                "available_minutes": available,
                "ratio": _share(booked_minutes, available),
            }
        )
    total_booked = sum(r["booked_minutes"] for r in rows)
    total_available = sum(r["available_minutes"] for r in rows)
    return {
        "booked_minutes": total_booked,
        "available_minutes": total_available,
        "ratio": _share(total_booked, total_available),
        "mechanics": rows,
    }


def peak_times(period: Period, scope: Scope, *, zone: str) -> dict:
    """Weekday × hour heatmaps in `zone` (the viewer's, labelled on the page).

    sessions[d][h] = confirmed reservations starting in the period whose local start is
    ISO weekday d+1 (Monday = row 0), hour h; bookings[d][h] = bookings made in the period
    by their local creation time. 2 queries (grouped in SQL)."""
    tz = ZoneInfo(zone)

    def grid(queryset: QuerySet, field: str) -> list[list[int]]:
        cells = [[0] * 24 for _ in range(7)]
        rows = (
            queryset.annotate(
                dow=ExtractIsoWeekDay(field, tzinfo=tz), hour=ExtractHour(field, tzinfo=tz)
            )
            .values("dow", "hour")
            .annotate(n=Count("pk"))
            .order_by()
        )
        for row in rows:
            cells[row["dow"] - 1][row["hour"]] = row["n"]
        return cells

    return {
        "zone": zone,
        "sessions": grid(_booked_time(period, scope), "starts_at"),
        "bookings": grid(bookings(period, scope), "created_at"),
    }


def reliability(period: Period, scope: Scope) -> dict:
    """No-shows, cancellations and reschedules of the bookings made in the period.

    cancellation_rate = cancelled bookings ÷ bookings, split by who cancelled (customer,
    mechanic, admin, system) and by how late (LATENESS_BUCKETS on the hours before the
    start recorded with the cancellation). A no-show is a cancellation recorded after the
    start plus the 15-minute grace with the session never started
    (`mechanic_no_show` in its history): cancelled by the customer, the mechanic did not
    show; by the mechanic, the customer did not; by the clock, `no_show` names the side
    that did not join (booking.lifecycle). no_show_rate = those ÷ bookings.
    reschedule_rate = bookings moved at least once ÷ bookings. 1 query."""
    base = bookings(period, scope)
    cancelled = Q(status=SessionStatus.CANCELLED)
    event = "events__data__"
    cancel_event = Q(events__action="booking.session.cancelled")
    fields = {
        "bookings": Count("pk", distinct=True),
        "cancelled": Count("pk", filter=cancelled, distinct=True),
        "rescheduled": Count("pk", filter=Q(reschedule_count__gt=0), distinct=True),
    }
    for who in ("customer", "mechanic", "admin", "system"):
        fields[f"by_{who}"] = Count("pk", filter=cancelled & Q(cancelled_by=who), distinct=True)
    no_show = cancelled & cancel_event & Q(**{f"{event}mechanic_no_show": True})
    # The clock (booking.lifecycle) records the side that did not join as `no_show`.
    by_clock = cancelled & cancel_event & Q(cancelled_by="system")
    fields["mechanic_no_show"] = Count(
        "pk",
        filter=(no_show & Q(cancelled_by="customer"))
        | (by_clock & Q(**{f"{event}no_show": "mechanic"})),
        distinct=True,
    )
    fields["customer_no_show"] = Count(
        "pk",
        filter=(no_show & Q(cancelled_by="mechanic"))
        | (by_clock & Q(**{f"{event}no_show": "customer"})),
        distinct=True,
    )
    for i, (_label, low, high) in enumerate(LATENESS_BUCKETS):
        condition = cancelled & cancel_event
        if low is not None:
            condition &= Q(**{f"{event}hours_before_start__gte": low})
        if high is not None:
            condition &= Q(**{f"{event}hours_before_start__lt": high})
        fields[f"late_{i}"] = Count("pk", filter=condition, distinct=True)
    row = base.aggregate(**fields)
    n = row["bookings"]
    return {
        "bookings": n,
        "cancelled": row["cancelled"],
        "cancellation_rate": _share(row["cancelled"], n),
        "cancelled_by": {w: row[f"by_{w}"] for w in ("customer", "mechanic", "admin", "system")},
        "cancelled_how_late": [
            {"label": label, "count": row[f"late_{i}"]}
            for i, (label, *_) in enumerate(LATENESS_BUCKETS)
        ],
        "mechanic_no_show": row["mechanic_no_show"],
        "customer_no_show": row["customer_no_show"],
        "no_show_rate": _share(row["mechanic_no_show"] + row["customer_no_show"], n),
        "rescheduled": row["rescheduled"],
        "reschedule_rate": _share(row["rescheduled"], n),
    }


def start_now(period: Period) -> dict:
    """Start-now requests that went out in the period (platform only: per mechanic this
    would be a responsiveness score, plan §5.3).

    wait = accepted offer's responded_at − session.offered_at (paid and sent out → a
    mechanic took it): p50 and p90 by nearest rank, in minutes. untaken_share = requests
    closed by the system untaken ÷ requests sent out. 4 queries."""
    sent = Session.objects.filter(
        scheduled_for__isnull=True,
        offered_at__gte=period.start,
        offered_at__lt=period.end,
    )
    accepted = Offer.objects.filter(
        status=OfferStatus.ACCEPTED,
        session__scheduled_for__isnull=True,
        session__offered_at__gte=period.start,
        session__offered_at__lt=period.end,
    ).annotate(wait=_duration("responded_at", "session__offered_at"))
    ranks = percentiles(accepted, "wait")
    counted = sent.aggregate(
        sent=Count("pk"),
        untaken=Count(
            "pk",
            filter=Q(status=SessionStatus.CANCELLED, cancelled_by="system", mechanic__isnull=True),
        ),
    )
    return {
        **counted,
        "untaken_share": _share(counted["untaken"], counted["sent"]),
        "wait_median_minutes": _minutes(ranks["p50"]),
        "wait_p90_minutes": _minutes(ranks["p90"]),
    }


def revenue(period: Period, scope: Scope) -> dict:
    """Revenue from the payout ledger: earnings minus refund reversals, by entry date.

    gross = Σ gross_cents, payee = Σ payee_cents (the mechanic's or, for affiliated
    mechanics, the workshop's share), platform fee = Σ platform_cents; reversal rows are
    negative, so refunds are netted. Scope: the mechanic who ran the session, or the
    workshop that was paid. Totals (cents), by UTC week and by payee. 3 queries."""
    rows = PayoutEntry.objects.filter(created_at__gte=period.start, created_at__lt=period.end)
    if scope.kind == MECHANIC:
        rows = rows.filter(mechanic_id=scope.id)
    elif scope.kind == WORKSHOP:
        rows = rows.filter(payee_workshop_id=scope.id)
    sums = {
        "gross": Sum("gross_cents", default=0),
        "payee": Sum("payee_cents", default=0),
        "platform": Sum("platform_cents", default=0),
        "refunded": Sum("gross_cents", filter=Q(kind="reversal"), default=0),
    }
    by_week = list(
        rows.annotate(week=TruncWeek("created_at", tzinfo=UTC))
        .values("week")
        .annotate(**sums)
        .order_by("week")
    )
    by_payee = list(
        rows.values("payee_kind", "payee_mechanic__user__full_name", "payee_workshop__name")
        .annotate(**sums)
        .order_by("payee_kind", "payee_mechanic__user__full_name", "payee_workshop__name")
    )
    return {**rows.aggregate(**sums), "by_week": by_week, "by_payee": by_payee}


def satisfaction(period: Period, scope: Scope) -> dict:
    """Customer satisfaction from post-session ratings given in the period.

    average = mean score (1–5), count = ratings, split by scheduled (advance) and
    immediate (start-now) sessions side by side. 1 query."""
    rows = SessionRating.objects.filter(
        scope.mechanic_filter(), created_at__gte=period.start, created_at__lt=period.end
    )
    advance = Q(session__scheduled_for__isnull=False)
    row = rows.aggregate(
        count=Count("pk"),
        average=Avg("score"),
        scheduled_count=Count("pk", filter=advance),
        scheduled_average=Avg("score", filter=advance),
        immediate_count=Count("pk", filter=~advance),
        immediate_average=Avg("score", filter=~advance),
    )
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()}


def dashboard(period: Period, scope: Scope, *, now: datetime, zone: str) -> dict:
    """Every metric for one scope (what the pages and the API show). The start-now
    wait is added for the platform only (plan §5.3)."""
    out = {
        "booking_mix": booking_mix(period, scope),
        "lead_time": lead_time(period, scope),
        "utilization": utilization(period, scope, now=now),
        "peak_times": peak_times(period, scope, zone=zone),
        "reliability": reliability(period, scope),
        "revenue": revenue(period, scope),
        "satisfaction": satisfaction(period, scope),
    }
    if scope.kind == PLATFORM:
        out["start_now"] = start_now(period)
    return out
