"""JSON API routes of the analytics app (mounted under /api/ in autodoctor/api.py).
Handlers parse, call one service or metric, return a schema."""

from dataclasses import replace
from datetime import date, datetime
from typing import NoReturn

from django import forms
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema

from autodoctor.accounts.models import User
from autodoctor.errors import InvalidInput, NotAllowed, NotFound
from autodoctor.schemas import ErrorOut

from . import metrics, selectors, services
from .forms import ApiPeriodForm, FilterForm, period_from
from .models import RATING_COMMENT_MAX, RATING_MAX, RATING_MIN, SessionRating

router = Router(tags=["analytics"])


def _user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined,return-value]


class RatingIn(Schema):
    score: int = Field(ge=RATING_MIN, le=RATING_MAX, examples=[5])
    comment: str = Field("", max_length=RATING_COMMENT_MAX)


class RatingOut(Schema):
    session_id: int
    mechanic_id: int
    score: int
    comment: str
    created_at: datetime
    updated_at: datetime
    editable_until: datetime


@router.put(
    "/sessions/{session_id}/rating",
    response={200: RatingOut, 404: ErrorOut, 409: ErrorOut},
    summary="Rate a completed session 1-5 (its customer; editable for 7 days)",
)
def rating_save(request: HttpRequest, session_id: int, payload: RatingIn) -> SessionRating:
    return services.rating_save(
        session_id=session_id, user=_user(request), score=payload.score, comment=payload.comment
    )


# --------------------------------------------------------------------------- metrics


class DashboardOut(Schema):
    """Every metric for one scope; each object's fields are documented in
    docs/analytics.md (formulas in autodoctor/analytics/metrics.py)."""

    period_start: datetime
    period_end: datetime
    zone: str
    booking_mix: dict
    lead_time: dict
    utilization: dict
    peak_times: dict
    reliability: dict
    revenue: dict
    satisfaction: dict
    start_now: dict | None = Field(None, description="Platform only (plan §5.3)")
    bays: dict | None = Field(None, description="Workshop bay utilization (not for a mechanic)")
    visits: dict | None = Field(None, description="Workshop visit outcomes (not for a mechanic)")
    visit_response: dict | None = Field(
        None, description="Workshop response time to visit requests (not for a mechanic)"
    )


def _refuse(form: forms.Form) -> NoReturn:
    """A form's first error as a 422 naming the query parameter."""
    field, errors = next(iter(form.errors.items()))
    name = {"start": "from", "end": "to", "__all__": "from"}.get(field, field)
    raise InvalidInput(f"{name}: {errors[0]}", field=name)


def _dashboard(
    request: HttpRequest, scope: metrics.Scope, period: dict[str, object], **filters: str
) -> dict:
    """The dashboard of `scope` (the caller checked who may see it) for the period and
    admin filters parsed by the page's own forms (forms.py), so both take the same
    values; a bad one is a 422 naming it, before any figure is computed."""
    period_form = ApiPeriodForm(period)
    if not period_form.is_valid():
        _refuse(period_form)
    if filters:
        filter_form = FilterForm(filters)
        if not filter_form.is_valid():
            _refuse(filter_form)
        scope = replace(scope, **filter_form.filters())
    now = timezone.now()
    zone = _user(request).time_zone
    span = period_from(period_form, now=now, zone=zone)
    board = metrics.dashboard(span, scope, now=now, zone=zone)
    return {"period_start": span.start, "period_end": span.end, "zone": zone, **board}


# The period, as on the pages: the last N days up to now, or a custom range of local dates.
Days = Query(None, ge=1, le=366, description="The last N days up to now (default 30)")
From = Query(
    None,
    alias="from",
    description="First day of a custom range (YYYY-MM-DD, the caller's zone; with `to`)",
)
To = Query(None, description="Last day of a custom range, included (at most 400 days)")
# The admin filters of /analytics/ (metrics.Scope); empty = all.
PlanFilter = Query("", description="A plan code: that plan's sessions only", max_length=20)
TypeFilter = Query(
    "", description="virtual_only, independent_workshop or workshop_affiliated", max_length=50
)
ProvinceFilter = Query(
    "", description="A province code (ON, BC, QC…), by postal code", max_length=10
)


@router.get(
    "/analytics/platform",
    response={200: DashboardOut, 403: ErrorOut, 422: ErrorOut},
    summary="Every metric, platform-wide, with the dashboard's filters (platform admins)",
)
def analytics_platform(
    request: HttpRequest,
    days: int | None = Days,
    start: date | None = From,
    to: date | None = To,
    plan: str = PlanFilter,
    mechanic_type: str = TypeFilter,
    province: str = ProvinceFilter,
) -> dict:
    if not _user(request).is_platform_admin:
        raise NotAllowed(_("Platform analytics are for platform admins."))
    return _dashboard(
        request,
        metrics.Scope(),
        {"days": days, "from": start, "to": to},
        plan=plan,
        mechanic_type=mechanic_type,
        province=province,
    )


@router.get(
    "/analytics/mechanics/{mechanic_id}",
    response={200: DashboardOut, 404: ErrorOut, 422: ErrorOut},
    summary="One mechanic's numbers: the admin drill-down (platform admins)",
)
def analytics_mechanic(
    request: HttpRequest,
    mechanic_id: int,
    days: int | None = Days,
    start: date | None = From,
    to: date | None = To,
) -> dict:
    # As the page: 404 for anyone else, a mechanic's figures are theirs (plan §5.3).
    if not _user(request).is_platform_admin:
        raise NotFound(_("No such mechanic."))
    profile = selectors.mechanic_for_admin(mechanic_id)
    scope = metrics.Scope(metrics.MECHANIC, profile.pk)
    return _dashboard(request, scope, {"days": days, "from": start, "to": to})


@router.get(
    "/analytics/mine",
    response={200: DashboardOut, 403: ErrorOut, 422: ErrorOut},
    summary="My own numbers (mechanics)",
)
def analytics_mine(
    request: HttpRequest,
    days: int | None = Days,
    start: date | None = From,
    to: date | None = To,
) -> dict:
    mechanic = getattr(_user(request), "mechanic_profile", None)
    if mechanic is None:
        raise NotAllowed(_("This is for mechanics."))
    scope = metrics.Scope(metrics.MECHANIC, mechanic.pk)
    return _dashboard(request, scope, {"days": days, "from": start, "to": to})


@router.get(
    "/analytics/workshops/{workshop_id}",
    response={200: DashboardOut, 404: ErrorOut, 422: ErrorOut},
    summary="One workshop's mechanics (its staff, platform admins)",
)
def analytics_workshop(
    request: HttpRequest,
    workshop_id: int,
    days: int | None = Days,
    start: date | None = From,
    to: date | None = To,
) -> dict:
    shop = selectors.dashboard_scope_workshop(_user(request), workshop_id)
    scope = metrics.Scope(metrics.WORKSHOP, shop.pk)
    return _dashboard(request, scope, {"days": days, "from": start, "to": to})
