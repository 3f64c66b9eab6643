"""The plan's success metrics (§14.3, Phase 5), each defined once, here.

Every metric takes a `Period` (a half-open UTC range `[start, end)`), a `Scope`
(platform, one mechanic or one workshop's mechanics) and, where time matters, `now`.
Aggregates run in SQL (a handful of queries per metric, none per row), on integer
seconds since the epoch (expressions.py: native on SQLite, where Django's datetime
functions call Python once per row); percentiles are nearest-rank values numbered by a
ROW_NUMBER window in the database, which returns only the wanted rows. The formula of each metric is in its
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

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import (
    Avg,
    Count,
    F,
    Q,
    QuerySet,
    Sum,
    Value,
    Window,
)
from django.db.models.expressions import Combinable
from django.db.models.functions import RowNumber
from django.db.models.lookups import Exact
from django.utils.translation import gettext as _

from autodoctor.accounts.mechanic_types import mechanic_type_expression
from autodoctor.accounts.models import MechanicProfile
from autodoctor.booking.models import (
    Plan,
    Reservation,
    ReservationStatus,
)
from autodoctor.errors import InvalidInput
from autodoctor.payments.models import PayoutEntry

from .expressions import local_hour_of_week, seconds_between, utc_week, week_start
from .facts import LATENESS_BUCKETS, LEAD_BUCKETS, refreshed, session_facts

PLATFORM, MECHANIC, WORKSHOP = "platform", "mechanic", "workshop"


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a period needs aware datetimes")
        if self.end <= self.start:
            raise InvalidInput(_("The period must end after it starts."), field="end")

    @classmethod
    def last_days(cls, days: int, *, now: datetime) -> Period:
        return cls(now - timedelta(days=days), now)

    @property
    def minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)


@dataclass(frozen=True)
class Scope:
    """Whose numbers: the platform, one mechanic or one workshop's mechanics, narrowed
    by the admin filters (empty = all):

    - `plan`: a plan code; sessions of that plan only (bookings, booked time, start-now
      requests, revenue, ratings). Offered minutes are not per plan: utilization is the
      plan's booked minutes ÷ all offered minutes of the mechanics.
    - `mechanic_type`: a MechanicType value, by `mechanic_type_expression` (the same
      rule as `mechanic_type`);
    - `province`: a province code, from the first letter of the mechanic's postal code
      (`workshops.selectors.PROVINCE_OF_LETTER`); workshop figures use the workshop's.

    Mechanic filters keep rows with a mechanic of that type / province: a start-now
    request closed untaken has no mechanic, so it is counted only when neither is set.
    Visit figures (bays, outcomes) take the province; they have no plan or mechanic type.
    """

    kind: str = PLATFORM
    id: int | None = None
    plan: str = ""
    mechanic_type: str = ""
    province: str = ""

    def __post_init__(self) -> None:
        if self.kind not in (PLATFORM, MECHANIC, WORKSHOP):
            raise ValueError(f"unknown scope {self.kind!r}")
        if (self.kind == PLATFORM) != (self.id is None):
            raise ValueError("a mechanic or workshop scope needs its id, the platform none")

    @property
    def filters_mechanics(self) -> bool:
        return bool(self.mechanic_type or self.province)

    def mechanic_filter(self, path: str = "mechanic") -> Q:
        """Rows of this scope, `path` leading to a MechanicProfile."""
        if self.kind == MECHANIC:
            q = Q(**{f"{path}_id": self.id})
        elif self.kind == WORKSHOP:
            q = Q(**{f"{path}__workshop_id": self.id})
        else:
            q = Q()
        if self.filters_mechanics:  # a row without a mechanic has no type (nor province)
            q &= Q(**{f"{path}__isnull": False})
        if self.mechanic_type:
            q &= Q(Exact(mechanic_type_expression(f"{path}__"), Value(self.mechanic_type)))
        if self.province:
            q &= province_filter(self.province, f"{path}__postal_code")
        return q

    def plan_filter(self, path: str = "") -> Q:
        """Sessions of the plan filter, `path` leading to a Session ("" on Session)."""
        return Q(**{f"{path}plan__code": self.plan}) if self.plan else Q()

    def mechanic_ids(self) -> QuerySet:
        """The mechanics of this scope (every mechanic for the platform)."""
        mechanics = MechanicProfile.objects.all()
        if self.kind == MECHANIC:
            mechanics = mechanics.filter(pk=self.id)
        elif self.kind == WORKSHOP:
            mechanics = mechanics.filter(workshop_id=self.id)
        if self.mechanic_type:
            mechanics = mechanics.filter(
                Exact(mechanic_type_expression(), Value(self.mechanic_type))
            )
        if self.province:
            mechanics = mechanics.filter(province_filter(self.province, "postal_code"))
        return mechanics.values_list("pk", flat=True)


def _filters_only(scope: Scope) -> Scope:
    """The platform narrowed by `scope`'s filters (its mechanic or workshop dropped)."""
    return replace(scope, kind=PLATFORM, id=None)


def province_filter(province: str, field: str) -> Q:
    """Postal codes of `province`: those starting with one of its letters."""
    from autodoctor.workshops.selectors import PROVINCE_OF_LETTER

    letters = [letter for letter, code in PROVINCE_OF_LETTER.items() if code == province]
    if not letters:
        raise InvalidInput(
            _("Unknown province %(province)s.") % {"province": repr(province)}, field="province"
        )
    q = Q()
    for letter in letters:
        q |= Q(**{f"{field}__istartswith": letter})
    return q


def _minutes(seconds: int | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def share(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


def percentiles(
    queryset: QuerySet,
    value: Combinable,
    ranks: tuple[int, ...] = (50, 90),
    *,
    count: int | None = None,
) -> dict:
    """Nearest-rank percentiles of the integer expression `value` over `queryset`: the
    value at position ⌈p·n/100⌉ in ascending order (p50 of 1, 2, 3, 4 is 2); None when
    there are no rows.

    One COUNT (none when the caller passes `count`, the number of rows with a value) and
    one query that numbers the sorted values with ROW_NUMBER() in the database and
    returns only the rows at those positions. (Counting with COUNT(*) OVER () in the same
    query is slower on SQLite than the separate aggregate.) Integer arithmetic: in floats
    0.9 × 70 is 63.000…01."""
    values = queryset.annotate(value=value).exclude(value__isnull=True).order_by()
    n = values.count() if count is None else count
    positions = {f"p{p}": max(-(-p * n // 100), 1) for p in ranks}
    if n == 0:
        return dict.fromkeys(positions)
    found = dict(
        values.annotate(position=Window(RowNumber(), order_by=F("value").asc()))
        .filter(position__in=set(positions.values()))
        .values_list("position", "value")
    )
    return {key: found.get(position) for key, position in positions.items()}


def _by_week(queryset: QuerySet, field: str, **aggregates) -> list[dict]:
    """`aggregates` per UTC week (Monday 00:00 UTC) of `field`, oldest first."""
    rows = (
        queryset.annotate(week_number=utc_week(field))
        .values("week_number")
        .annotate(**aggregates)
        .order_by("week_number")
    )
    return [{"week": week_start(row.pop("week_number")), **row} for row in rows]


def bookings(period: Period, scope: Scope) -> QuerySet:
    """The facts of the bookings made in the period (see the module docstring; the
    classification is `facts.fact_rows`)."""
    return session_facts().filter(
        scope.mechanic_filter(),
        scope.plan_filter(),
        booking=True,
        created_at__gte=period.start,
        created_at__lt=period.end,
    )


def _booked_time(period: Period, scope: Scope) -> QuerySet:
    return Reservation.objects.filter(
        scope.mechanic_filter(),
        scope.plan_filter("session__"),
        status=ReservationStatus.CONFIRMED,
        starts_at__gte=period.start,
        starts_at__lt=period.end,
    )


# --------------------------------------------------------------------------- metrics


def booking_cells(period: Period, scope: Scope) -> list[dict]:
    """The bookings made in the period counted per UTC week × plan × lead bucket, with
    reliability's counts (see `reliability`) in the same cells: the one scan of the
    period's booking facts that `booking_mix`, `lead_time` and `reliability` all add up
    (the dashboard runs it once and hands it to the three). At most a few hundred rows."""
    cells = list(
        bookings(period, scope)
        .annotate(week_number=utc_week("created_at"), bucket=F("lead_bucket"))
        .values("week_number", "plan_id", "bucket")
        .annotate(**_reliability_counts())
        .order_by()
    )
    plans = {
        pk: (code, name)
        for pk, code, name in Plan.objects.filter(
            pk__in={cell["plan_id"] for cell in cells}
        ).values_list("pk", "code", "name")
    }
    for cell in cells:
        cell["plan__code"], cell["plan__name"] = plans[cell.pop("plan_id")]
    return cells


def booking_mix(period: Period, scope: Scope, *, cells: list[dict] | None = None) -> dict:
    """Advance vs start-now.

    share_advance = advance bookings ÷ all bookings made in the period, where an advance
    booking has `scheduled_for` set and a start-now one does not. Also by UTC week
    (Monday 00:00 UTC) and by plan. Added up here from `booking_cells` (1 query, none
    when the caller passes them)."""
    weeks: dict[int, dict] = {}
    plans: dict[str, dict] = {}
    total = {"advance": 0, "immediate": 0}
    for cell in booking_cells(period, scope) if cells is None else cells:
        week = weeks.setdefault(
            cell["week_number"],
            {"week": week_start(cell["week_number"]), "advance": 0, "immediate": 0},
        )
        plan = plans.setdefault(
            cell["plan__code"],
            {"plan__code": cell["plan__code"], "plan__name": cell["plan__name"]}
            | {"advance": 0, "immediate": 0},
        )
        key = "immediate" if cell["bucket"] is None else "advance"
        for row in (week, plan, total):
            row[key] += cell["bookings"]
    return {
        **total,
        "total": total["advance"] + total["immediate"],
        "share_advance": share(total["advance"], total["advance"] + total["immediate"]),
        "by_week": [weeks[n] for n in sorted(weeks)],
        "by_plan": sorted(plans.values(), key=lambda p: (p["plan__name"], p["plan__code"])),
    }


def lead_time(period: Period, scope: Scope, *, cells: list[dict] | None = None) -> dict:
    """Booking lead time of advance bookings made in the period.

    lead = scheduled_for − created_at (when the customer placed the hold; payment
    follows within the 15-minute hold). Median (p50) and p90 by nearest rank, in
    minutes, and a histogram over LEAD_BUCKETS (from `booking_cells`). 2 queries (1
    when the caller passes the cells)."""
    counted: dict[int, int] = {}
    for cell in booking_cells(period, scope) if cells is None else cells:
        if cell["bucket"] is not None:
            counted[cell["bucket"]] = counted.get(cell["bucket"], 0) + cell["bookings"]
    count = sum(counted.values())
    # The lead is NULL exactly for start-now bookings, which `percentiles` leaves out.
    ranks = percentiles(bookings(period, scope), F("lead_s"), count=count)
    return {
        "count": count,
        "median_minutes": _minutes(ranks["p50"]),
        "p90_minutes": _minutes(ranks["p90"]),
        "histogram": [
            {"label": label, "count": counted.get(i, 0)}
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
        .annotate(booked=Sum(seconds_between("ends_at", "starts_at")))
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
        booked_minutes = booked.get(mid, 0) // 60
        available = offered.get(mid, 0)
        rows.append(
            {
                "mechanic_id": mid,
                "name": name,
                "booked_minutes": booked_minutes,
                "available_minutes": available,
                "ratio": share(booked_minutes, available),
            }
        )
    total_booked = sum(r["booked_minutes"] for r in rows)
    total_available = sum(r["available_minutes"] for r in rows)
    return {
        "booked_minutes": total_booked,
        "available_minutes": total_available,
        "ratio": share(total_booked, total_available),
        "mechanics": rows,
    }


def peak_times(period: Period, scope: Scope, *, zone: str) -> dict:
    """Weekday × hour heatmaps in `zone` (the viewer's, labelled on the page).

    sessions[d][h] = confirmed reservations starting in the period whose local start is
    ISO weekday d+1 (Monday = row 0), hour h; bookings[d][h] = bookings made in the period
    by their local creation time. 1 query: both grids grouped in SQL, joined by UNION ALL
    (one round trip; the mechanic's page has about fifteen)."""
    return peak_grids(period, zone, _booked_time(period, scope), bookings(period, scope))


def peak_grids(period: Period, zone: str, booked: QuerySet, made: QuerySet) -> dict:
    """`peak_times` of the booked time `booked` (by `starts_at`) and the bookings `made`
    (by `created_at`)."""
    ZoneInfo(zone)  # an unknown zone fails here, before any query

    def grid(queryset: QuerySet, field: str, number: int) -> QuerySet:
        return (
            queryset.annotate(
                grid=Value(number),
                hour_of_week=local_hour_of_week(field, zone, period.start, period.end),
            )
            .values("grid", "hour_of_week")
            .annotate(n=Count("*"))  # not COUNT(id): the covering indexes answer alone
            .order_by()
        )

    grids = [[[0] * 24 for _ in range(7)] for _ in range(2)]
    rows = (
        grid(booked, "starts_at", 0).union(grid(made, "created_at", 1), all=True).order_by()
    )  # no model ordering on the compound query
    for row in rows:
        weekday, hour = divmod(row["hour_of_week"], 24)
        grids[row["grid"]][weekday][hour] = row["n"]
    return {"zone": zone, "sessions": grids[0], "bookings": grids[1]}


def _reliability_counts() -> dict:
    """The COUNTs `reliability` adds up, on booking facts."""
    cancelled = Q(is_cancelled=True)
    fields = {
        "bookings": Count("pk"),
        "cancelled": Count("pk", filter=cancelled),
        "rescheduled": Count("pk", filter=Q(is_rescheduled=True)),
    }
    for who in ("customer", "mechanic", "admin", "system"):
        fields[f"by_{who}"] = Count("pk", filter=cancelled & Q(cancelled_by=who))
    for side in ("mechanic", "customer"):
        fields[f"{side}_no_show"] = Count("pk", filter=Q(no_show=side))
    for i in range(len(LATENESS_BUCKETS)):
        fields[f"late_{i}"] = Count("pk", filter=Q(late_bucket=i))
    return fields


def reliability(period: Period, scope: Scope, *, cells: list[dict] | None = None) -> dict:
    """No-shows, cancellations and reschedules of the bookings made in the period.

    cancellation_rate = cancelled bookings ÷ bookings, split by who cancelled (customer,
    mechanic, admin, system) and by how late (LATENESS_BUCKETS on the hours before the
    start recorded with the cancellation). A no-show is a cancellation recorded after the
    start plus the 15-minute grace with the session never started
    (`mechanic_no_show` in its history): cancelled by the customer, the mechanic did not
    show; by the mechanic, the customer did not; by the clock, `no_show` names the side
    that did not join (booking.lifecycle). no_show_rate = those ÷ bookings.
    reschedule_rate = bookings moved at least once ÷ bookings. Added up from
    `booking_cells` (1 query, none when the caller passes them); the cancellation's
    side and lateness are the session's facts (`facts.fact_rows`)."""
    row = dict.fromkeys(_reliability_counts(), 0)
    for cell in booking_cells(period, scope) if cells is None else cells:
        for key in row:
            row[key] += cell[key]
    n = row["bookings"]
    return {
        "bookings": n,
        "cancelled": row["cancelled"],
        "cancellation_rate": share(row["cancelled"], n),
        "cancelled_by": {w: row[f"by_{w}"] for w in ("customer", "mechanic", "admin", "system")},
        "cancelled_how_late": [
            {"label": label, "count": row[f"late_{i}"]}
            for i, (label, *_) in enumerate(LATENESS_BUCKETS)
        ],
        "mechanic_no_show": row["mechanic_no_show"],
        "customer_no_show": row["customer_no_show"],
        "no_show_rate": share(row["mechanic_no_show"] + row["customer_no_show"], n),
        "rescheduled": row["rescheduled"],
        "reschedule_rate": share(row["rescheduled"], n),
    }


def start_now(period: Period, scope: Scope | None = None) -> dict:
    """Start-now requests that went out in the period (platform only: per mechanic this
    would be a responsiveness score, plan §5.3; the scope's filters narrow it, see Scope).

    wait = accepted offer's responded_at − session.offered_at (paid and sent out → a
    mechanic took it): p50 and p90 by nearest rank, in minutes. untaken_share = requests
    closed by the system untaken ÷ requests sent out. 2 queries on the session facts."""
    filters = _filters_only(scope or Scope())
    sent = session_facts().filter(
        filters.plan_filter(),
        filters.mechanic_filter() if filters.filters_mechanics else Q(),
        scheduled=False,
        offered_at__gte=period.start,
        offered_at__lt=period.end,
    )
    counted = sent.aggregate(
        sent=Count("pk"),
        untaken=Count(
            "pk", filter=Q(is_cancelled=True, cancelled_by="system", mechanic__isnull=True)
        ),
        waited=Count("wait_s"),
    )
    ranks = percentiles(sent, F("wait_s"), count=counted.pop("waited"))
    return start_now_figures(counted, ranks)


def start_now_figures(counted: dict, ranks: dict) -> dict:
    """`start_now`'s answer from its counts (sent, untaken) and wait percentiles (s)."""
    return {
        **counted,
        "untaken_share": share(counted["untaken"], counted["sent"]),
        "wait_median_minutes": _minutes(ranks["p50"]),
        "wait_p90_minutes": _minutes(ranks["p90"]),
    }


def revenue(period: Period, scope: Scope) -> dict:
    """Revenue from the payout ledger: earnings minus refund reversals, by entry date.

    gross = Σ gross_cents, payee = Σ payee_cents (the mechanic's or, for affiliated
    mechanics, the workshop's share), platform fee = Σ platform_cents; reversal rows are
    negative, so refunds are netted. Scope: the mechanic who ran the session, or the
    workshop that was paid. Totals (cents), by UTC week and by payee. 2 queries."""
    rows = PayoutEntry.objects.filter(created_at__gte=period.start, created_at__lt=period.end)
    if scope.kind == MECHANIC:
        rows = rows.filter(mechanic_id=scope.id)
    elif scope.kind == WORKSHOP:
        rows = rows.filter(payee_workshop_id=scope.id)
    rows = rows.filter(_filters_only(scope).mechanic_filter(), scope.plan_filter("session__"))
    sums = {
        "gross": Sum("gross_cents", default=0),
        "payee": Sum("payee_cents", default=0),
        "platform": Sum("platform_cents", default=0),
        "refunded": Sum("gross_cents", filter=Q(kind="reversal"), default=0),
    }
    by_week = _by_week(rows, "created_at", **sums)
    by_payee = list(
        rows.values("payee_kind", "payee_mechanic__user__full_name", "payee_workshop__name")
        .annotate(**sums)
        .order_by("payee_kind", "payee_mechanic__user__full_name", "payee_workshop__name")
    )
    # Every row falls in exactly one week: the totals are the weeks added up (no third scan).
    totals = {key: sum(week[key] for week in by_week) for key in sums}
    return {**totals, "by_week": by_week, "by_payee": by_payee}


def satisfaction(period: Period, scope: Scope) -> dict:
    """Customer satisfaction from post-session ratings given in the period.

    average = mean score (1–5), count = ratings, split by scheduled (advance) and
    immediate (start-now) sessions side by side; the scope's mechanic is the rating's.
    1 query on the session facts."""
    rows = session_facts().filter(
        scope.mechanic_filter("rating_mechanic"),
        scope.plan_filter(),
        score__isnull=False,
        rated_at__gte=period.start,
        rated_at__lt=period.end,
    )
    return satisfaction_figures(rows, advance=Q(scheduled=True))


def satisfaction_figures(rows: QuerySet, *, advance: Q) -> dict:
    """`satisfaction`'s averages and counts over the ratings `rows`, `advance` telling
    a scheduled session's rating from an immediate one's."""
    row = rows.aggregate(
        count=Count("pk"),
        average=Avg("score"),
        scheduled_count=Count("pk", filter=advance),
        scheduled_average=Avg("score", filter=advance),
        immediate_count=Count("pk", filter=~advance),
        immediate_average=Avg("score", filter=~advance),
    )
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()}


@contextmanager
def _without_jit() -> Iterator[None]:
    """PostgreSQL: no JIT compilation for the dashboard's queries. On a year of history
    their cost estimates pass `jit_above_cost`, and compiling took longer than running:
    1.5 s of a 3.8 s booking-mix query measured on 1.6 million sessions (bench/analytics.py).
    `SET LOCAL` inside a transaction (a savepoint when one is open) ends with it."""
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
        yield


def dashboard(period: Period, scope: Scope, *, now: datetime, zone: str) -> dict:
    """Every metric for one scope (what the pages and the API show). The start-now
    wait is added for the platform only (plan §5.3); bay utilization and visit outcomes
    (visits.py) for the platform and a workshop."""
    with refreshed(), _without_jit():
        return _dashboard(period, scope, now=now, zone=zone)


def _dashboard(period: Period, scope: Scope, *, now: datetime, zone: str) -> dict:
    cells = booking_cells(period, scope)
    out = {
        "booking_mix": booking_mix(period, scope, cells=cells),
        "lead_time": lead_time(period, scope, cells=cells),
        "utilization": utilization(period, scope, now=now),
        "peak_times": peak_times(period, scope, zone=zone),
        "reliability": reliability(period, scope, cells=cells),
        "revenue": revenue(period, scope),
        "satisfaction": satisfaction(period, scope),
    }
    if scope.kind == PLATFORM:
        out["start_now"] = start_now(period, scope)
    if scope.kind != MECHANIC:
        from . import visits

        out["bays"] = visits.bay_utilization(period, scope)
        out["visits"] = visits.visit_outcomes(period, scope)
        out["visit_response"] = visits.response_time(period, scope)
    return out
