"""The dashboard's booking figures computed from the raw tables, as `metrics` did before
the session facts (analytics.facts): the reference the fact-based metrics are compared
with (tests/analytics/test_facts.py) and the baseline `bench/analytics.py` times in the
same run. Not used by the application.

Only the parts that read facts are here (booking cells, lead-time percentiles, the
bookings grid, start-now, satisfaction); the rest of `reference_dashboard` is the
application's own code.
"""

from __future__ import annotations

from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    FilteredRelation,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.expressions import Combinable

from autodoctor.analytics import metrics, visits
from autodoctor.analytics.expressions import seconds_between, utc_week
from autodoctor.analytics.facts import LATENESS_BUCKETS, LEAD_BUCKETS
from autodoctor.analytics.metrics import MECHANIC, PLATFORM, Period, Scope
from autodoctor.analytics.models import SessionRating
from autodoctor.booking.models import (
    Offer,
    OfferStatus,
    Plan,
    Reservation,
    Session,
    SessionStatus,
)


def bookings(period: Period, scope: Scope) -> QuerySet:
    confirmed = Reservation.objects.filter(session=OuterRef("pk"), confirmed_at__isnull=False)
    booked = Case(
        When(scheduled_for__isnull=False, then=Exists(confirmed)),
        default=Q(offered_at__isnull=False),
        output_field=BooleanField(),
    )
    return Session.objects.filter(
        booked,
        scope.mechanic_filter(),
        scope.plan_filter(),
        created_at__gte=period.start,
        created_at__lt=period.end,
    )


def _lead_bucket() -> tuple[Case, Combinable]:
    lead = seconds_between("scheduled_for", "created_at")
    whens = [
        When(Q(scheduled_for__isnull=False) & Q(lead__lt=high.total_seconds()), then=Value(i))
        for i, (_label, _low, high) in enumerate(LEAD_BUCKETS)
        if high is not None
    ]
    whens.append(When(scheduled_for__isnull=False, then=Value(len(LEAD_BUCKETS) - 1)))
    return Case(*whens, default=None, output_field=IntegerField()), lead


def _reliability_counts() -> dict:
    cancelled = Q(status=SessionStatus.CANCELLED)
    fields = {
        "bookings": Count("pk"),
        "cancelled": Count("pk", filter=cancelled),
        "rescheduled": Count("pk", filter=Q(reschedule_count__gt=0)),
    }
    for who in ("customer", "mechanic", "admin", "system"):
        fields[f"by_{who}"] = Count("pk", filter=cancelled & Q(cancelled_by=who))
    no_show = cancelled & Q(cancel__data__mechanic_no_show=True)
    by_clock = cancelled & Q(cancel__isnull=False, cancelled_by="system")
    fields["mechanic_no_show"] = Count(
        "pk",
        filter=(no_show & Q(cancelled_by="customer"))
        | (by_clock & Q(cancel__data__no_show="mechanic")),
    )
    fields["customer_no_show"] = Count(
        "pk",
        filter=(no_show & Q(cancelled_by="mechanic"))
        | (by_clock & Q(cancel__data__no_show="customer")),
    )
    for i, (_label, low, high) in enumerate(LATENESS_BUCKETS):
        condition = cancelled & Q(cancel__isnull=False)
        if low is not None:
            condition &= Q(cancel__data__hours_before_start__gte=low)
        if high is not None:
            condition &= Q(cancel__data__hours_before_start__lt=high)
        fields[f"late_{i}"] = Count("pk", filter=condition)
    return fields


def booking_cells(period: Period, scope: Scope) -> list[dict]:
    bucket, lead = _lead_bucket()
    base = (
        bookings(period, scope)
        .annotate(
            cancel=FilteredRelation(
                "events", condition=Q(events__action="booking.session.cancelled")
            ),
            week_number=utc_week("created_at"),
            lead=lead,
            bucket=bucket,
        )
        .values("week_number", "plan_id", "bucket")
    )
    cells = list(base.annotate(**_reliability_counts()).order_by())
    plans = {pk: (code, name) for pk, code, name in Plan.objects.values_list("pk", "code", "name")}
    for cell in cells:
        cell["plan__code"], cell["plan__name"] = plans[cell.pop("plan_id")]
    return cells


def lead_time(period: Period, scope: Scope, *, cells: list[dict]) -> dict:
    count = sum(c["bookings"] for c in cells if c["bucket"] is not None)
    ranks = metrics.percentiles(
        bookings(period, scope), seconds_between("scheduled_for", "created_at"), count=count
    )
    histogram = [0] * len(LEAD_BUCKETS)
    for cell in cells:
        if cell["bucket"] is not None:
            histogram[cell["bucket"]] += cell["bookings"]
    return {
        "count": count,
        "median_minutes": metrics._minutes(ranks["p50"]),
        "p90_minutes": metrics._minutes(ranks["p90"]),
        "histogram": [
            {"label": label, "count": histogram[i]} for i, (label, *_) in enumerate(LEAD_BUCKETS)
        ],
    }


def peak_times(period: Period, scope: Scope, *, zone: str) -> dict:
    return metrics.peak_grids(
        period, zone, metrics._booked_time(period, scope), bookings(period, scope)
    )


def start_now(period: Period, scope: Scope | None = None) -> dict:
    filters = metrics._filters_only(scope or Scope())
    sent = Session.objects.filter(
        filters.plan_filter(),
        filters.mechanic_filter() if filters.filters_mechanics else Q(),
        scheduled_for__isnull=True,
        offered_at__gte=period.start,
        offered_at__lt=period.end,
    )
    accepted = Offer.objects.filter(
        filters.plan_filter("session__"),
        filters.mechanic_filter("session__mechanic") if filters.filters_mechanics else Q(),
        status=OfferStatus.ACCEPTED,
        session__scheduled_for__isnull=True,
        session__offered_at__gte=period.start,
        session__offered_at__lt=period.end,
    )
    ranks = metrics.percentiles(accepted, seconds_between("responded_at", "session__offered_at"))
    counted = sent.aggregate(
        sent=Count("pk"),
        untaken=Count(
            "pk",
            filter=Q(status=SessionStatus.CANCELLED, cancelled_by="system", mechanic__isnull=True),
        ),
    )
    return metrics.start_now_figures(counted, ranks)


def satisfaction(period: Period, scope: Scope) -> dict:
    rows = SessionRating.objects.filter(
        scope.mechanic_filter(),
        scope.plan_filter("session__"),
        created_at__gte=period.start,
        created_at__lt=period.end,
    )
    return metrics.satisfaction_figures(rows, advance=Q(session__scheduled_for__isnull=False))


def reference_dashboard(period: Period, scope: Scope, *, now, zone: str) -> dict:
    """`metrics.dashboard` with its fact-reading parts computed from the raw tables."""
    with metrics._without_jit():
        cells = booking_cells(period, scope)
        out = {
            "booking_mix": metrics.booking_mix(period, scope, cells=cells),
            "lead_time": lead_time(period, scope, cells=cells),
            "utilization": metrics.utilization(period, scope, now=now),
            "peak_times": peak_times(period, scope, zone=zone),
            "reliability": metrics.reliability(period, scope, cells=cells),
            "revenue": metrics.revenue(period, scope),
            "satisfaction": satisfaction(period, scope),
        }
        if scope.kind == PLATFORM:
            out["start_now"] = start_now(period, scope)
        if scope.kind != MECHANIC:
            out["bays"] = visits.bay_utilization(period, scope)
            out["visits"] = visits.visit_outcomes(period, scope)
            out["visit_response"] = visits.response_time(period, scope)
        return out
