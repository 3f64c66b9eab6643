"""Workshop visit metrics: bay utilization and visit outcomes (issue 12), defined here
once, formulas in the docstrings and in docs/analytics.md.

Visits belong to the period their start falls in (`Visit.starts_at`), like booked
mechanic time. Scopes: the platform (every workshop) or one workshop; a mechanic's page
has no visit figures. Bays are the workshop's `max_concurrent_appointments` today.
"""

from __future__ import annotations

from django.db.models import Count, Min, OuterRef, Q, QuerySet, Subquery, Sum

from autodoctor.accounts.models import Workshop
from autodoctor.workshops.models import Visit, VisitEvent, VisitStatus

from .expressions import seconds_between
from .metrics import (
    MECHANIC,
    WORKSHOP,
    Period,
    Scope,
    _minutes,
    percentiles,
    province_filter,
    share,
)

# A visit whose time the workshop and the customer agreed: the bay was kept for it,
# whether the car came (checked in, completed) or not (no-show). Requested and countered
# visits hold a bay too but are not agreed yet; declined, expired and cancelled ones
# gave their time back.
BOOKED_STATUSES = (
    VisitStatus.CONFIRMED,
    VisitStatus.CHECKED_IN,
    VisitStatus.COMPLETED,
    VisitStatus.NO_SHOW,
)
CANCELLERS = ("customer", "workshop")
REQUESTED = "workshops.visit.requested"
# The workshop's answers to a request (which answer is not counted here, only when).
ANSWERS = ("workshops.visit.confirmed", "workshops.visit.countered", "workshops.visit.declined")


def _workshops(scope: Scope) -> QuerySet:
    if scope.kind == MECHANIC:
        raise ValueError("visit metrics are for a workshop or the platform")
    shops = Workshop.objects.all()
    if scope.province:  # the workshop's own postal code (Scope's docstring)
        shops = shops.filter(province_filter(scope.province, "postal_code"))
    return shops.filter(pk=scope.id) if scope.kind == WORKSHOP else shops


def _visits(period: Period, scope: Scope) -> QuerySet:
    visits = Visit.objects.filter(starts_at__gte=period.start, starts_at__lt=period.end)
    if scope.province:
        visits = visits.filter(province_filter(scope.province, "workshop__postal_code"))
    return visits.filter(workshop_id=scope.id) if scope.kind == WORKSHOP else visits


def bay_utilization(period: Period, scope: Scope) -> dict:
    """Bay utilization = booked visit minutes ÷ (open minutes × bays), per workshop.

    booked visit minutes: Σ (ends_at − starts_at) of visits in BOOKED_STATUSES starting in
    the period; open minutes: `availability.service.workshop_open_minutes` (the schedule
    visit times are offered from: hours without breaks, date overrides, closures), loaded
    for all workshops at once; bays: `max_concurrent_appointments`. Over several
    workshops: Σ booked ÷ Σ (open × bays). No open hours → ratio None. 2 queries plus
    the availability service's 3."""
    from autodoctor.availability.service import workshop_open_minutes

    shops = list(
        _workshops(scope)
        .order_by("name", "pk")
        .values_list("pk", "name", "max_concurrent_appointments")
    )
    booked_rows = (
        _visits(period, scope)
        .filter(status__in=BOOKED_STATUSES)
        .values("workshop_id")
        .annotate(booked=Sum(seconds_between("ends_at", "starts_at")))
        .order_by()
    )
    booked = {row["workshop_id"]: row["booked"] // 60 for row in booked_rows}
    open_minutes = workshop_open_minutes([pk for pk, *_ in shops], period.start, period.end)
    rows = []
    for pk, name, bays in shops:
        capacity = open_minutes.get(pk, 0) * bays
        rows.append(
            {
                "workshop_id": pk,
                "name": name,
                "bays": bays,
                "open_minutes": open_minutes.get(pk, 0),
                "booked_minutes": booked.get(pk, 0),
                "bay_minutes": capacity,
                "ratio": share(booked.get(pk, 0), capacity),
            }
        )
    total_booked = sum(r["booked_minutes"] for r in rows)
    total_capacity = sum(r["bay_minutes"] for r in rows)
    return {
        "booked_minutes": total_booked,
        "bay_minutes": total_capacity,
        "ratio": share(total_booked, total_capacity),
        "workshops": rows,
    }


def visit_outcomes(period: Period, scope: Scope) -> dict:
    """Visits starting in the period by status, with no-shows and cancellations.

    requested = every visit asked for (any status); by_status counts each status;
    no_show_rate = no-shows ÷ visits whose time was agreed (BOOKED_STATUSES plus the
    cancelled ones that had been confirmed, i.e. `confirmed_at` set); cancellation_rate
    = cancelled ÷ requested, split by who cancelled (customer, workshop). 1 query."""
    agreed = Q(status__in=BOOKED_STATUSES) | Q(
        status=VisitStatus.CANCELLED, confirmed_at__isnull=False
    )
    fields = {
        "requested": Count("pk"),
        "agreed": Count("pk", filter=agreed),
        **{f"status_{s.value}": Count("pk", filter=Q(status=s)) for s in VisitStatus},
        **{
            f"by_{who}": Count("pk", filter=Q(status=VisitStatus.CANCELLED, cancelled_by=who))
            for who in CANCELLERS
        },
    }
    row = _visits(period, scope).aggregate(**fields)
    return {
        "requested": row["requested"],
        "agreed": row["agreed"],
        "by_status": [
            {"status": s.value, "label": s.label, "count": row[f"status_{s.value}"]}
            for s in VisitStatus
        ],
        "no_show": row["status_no_show"],
        "no_show_rate": share(row["status_no_show"], row["agreed"]),
        "cancelled": row["status_cancelled"],
        "cancellation_rate": share(row["status_cancelled"], row["requested"]),
        "cancelled_by": {who: row[f"by_{who}"] for who in CANCELLERS},
    }


def response_time(period: Period, scope: Scope) -> dict:
    """How fast the workshop answers visit requests.

    For each `workshops.visit.requested` event recorded in the period: response = the
    first confirmed / countered / declined event of that visit at or after it − the
    request. Median (p50) and p90 by nearest rank, in minutes, over the answered
    requests; `unanswered` counts requests with no answer yet (or that expired). A
    workshop-level figure for its staff: no per-mechanic times and no count of which
    answer was given (plan §5.3). 2 queries."""
    answered_at = (
        VisitEvent.objects.filter(
            visit_id=OuterRef("visit_id"),
            action__in=ANSWERS,
            created_at__gte=OuterRef("created_at"),
        )
        .order_by()
        .values("visit_id")
        .annotate(first=Min("created_at"))
        .values("first")
    )
    requests = VisitEvent.objects.filter(
        action=REQUESTED, created_at__gte=period.start, created_at__lt=period.end
    )
    if scope.province:
        requests = requests.filter(province_filter(scope.province, "visit__workshop__postal_code"))
    if scope.kind == WORKSHOP:
        requests = requests.filter(visit__workshop_id=scope.id)
    elif scope.kind == MECHANIC:
        raise ValueError("visit metrics are for a workshop or the platform")
    requests = requests.annotate(answered_at=Subquery(answered_at))
    counted = requests.aggregate(
        requests=Count("pk"), answered=Count("pk", filter=Q(answered_at__isnull=False))
    )
    ranks = percentiles(
        requests, seconds_between("answered_at", "created_at"), count=counted["answered"]
    )
    return {
        **counted,
        "unanswered": counted["requests"] - counted["answered"],
        "median_minutes": _minutes(ranks["p50"]),
        "p90_minutes": _minutes(ranks["p90"]),
    }
