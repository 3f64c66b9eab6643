"""JSON API routes of the analytics app (mounted under /api/ in autodoctor/api.py).
Handlers parse, call one service or metric, return a schema."""

from datetime import datetime

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema

from autodoctor.accounts.models import User
from autodoctor.errors import NotAllowed
from autodoctor.schemas import ErrorOut

from . import metrics, selectors, services
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


def _dashboard(request: HttpRequest, scope: metrics.Scope, days: int) -> dict:
    now = timezone.now()
    period = metrics.Period.last_days(days, now=now)
    zone = _user(request).time_zone
    board = metrics.dashboard(period, scope, now=now, zone=zone)
    return {"period_start": period.start, "period_end": period.end, "zone": zone, **board}


Days = Query(30, ge=1, le=366, description="The last N days up to now")


@router.get(
    "/analytics/platform",
    response={200: DashboardOut, 403: ErrorOut},
    summary="Every metric, platform-wide (platform admins)",
)
def analytics_platform(request: HttpRequest, days: int = Days) -> dict:
    if not _user(request).is_platform_admin:
        raise NotAllowed(_("Platform analytics are for platform admins."))
    return _dashboard(request, metrics.Scope(), days)


@router.get(
    "/analytics/mine",
    response={200: DashboardOut, 403: ErrorOut},
    summary="My own numbers (mechanics)",
)
def analytics_mine(request: HttpRequest, days: int = Days) -> dict:
    mechanic = getattr(_user(request), "mechanic_profile", None)
    if mechanic is None:
        raise NotAllowed(_("This is for mechanics."))
    return _dashboard(request, metrics.Scope(metrics.MECHANIC, mechanic.pk), days)


@router.get(
    "/analytics/workshops/{workshop_id}",
    response={200: DashboardOut, 404: ErrorOut},
    summary="One workshop's mechanics (its staff, platform admins)",
)
def analytics_workshop(request: HttpRequest, workshop_id: int, days: int = Days) -> dict:
    shop = selectors.dashboard_scope_workshop(_user(request), workshop_id)
    return _dashboard(request, metrics.Scope(metrics.WORKSHOP, shop.pk), days)
