"""JSON API of the availability app (mounted under /api/ in autodoctor/api.py).

Handlers parse input, call one service or selector, and return a schema. Wall-clock
times are "HH:MM" strings in the owner's zone ("24:00" allowed as an end); instants are
ISO 8601 (UTC in answers). Every error body is ``{detail, code, field}``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from pydantic import AfterValidator

from autodoctor.accounts.mechanic_types import mechanic_type
from autodoctor.accounts.models import User
from autodoctor.errors import InvalidInput, NotFound
from autodoctor.ratelimit import READ, ApiRateLimit
from autodoctor.schemas import CODE_MAX, ISO_TEXT_MAX, ZONE_MAX, ErrorOut

from . import external, selectors, service, services
from .engine import Interval, minute_label
from .forms import parse_instant, parse_wall_time, parse_zone, wall_label
from .models import (
    TEXT_NOTE_MAX,
    DateOverride,
    DayOfWeek,
    MechanicSettings,
    TimeOff,
    WeeklyBlock,
    WorkshopHours,
)
from .plans import PLAN_MINUTES, plan_duration

router = Router(tags=["availability"])

MAX_RANGE = timedelta(days=62)


def _user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined,return-value]


def _check_start(value: str) -> str:
    parse_wall_time(value)
    return value


def _check_end(value: str) -> str:
    parse_wall_time(value, end=True)
    return value


WallTime = Annotated[
    str,
    AfterValidator(_check_start),
    Field(description='Local wall-clock time "HH:MM"', examples=["09:00"], max_length=5),
]
WallTimeEnd = Annotated[
    str,
    AfterValidator(_check_end),
    Field(
        description='Local wall-clock time "HH:MM"; "24:00" = end of day',
        examples=["17:00"],
        max_length=5,
    ),
]


READ_LIMIT = [ApiRateLimit(READ)]  # computing slots is the costly read: count each one
ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


# ---------------------------------------------------------------- weekly hours


class BlockIn(Schema):
    day_of_week: int = Field(description="0=Sunday … 6=Saturday", examples=[1])
    start: WallTime
    end: WallTimeEnd


class BlockOut(Schema):
    day_of_week: int
    day_name: str
    start: str
    end: str


class WeekIn(Schema):
    blocks: list[BlockIn] = Field(description="The whole week; replaces what was there")


class DayHoursOut(Schema):
    day_of_week: int
    day_name: str
    is_open: bool
    open: str | None
    close: str | None
    break_start: str | None
    break_end: str | None


class WeekOut(Schema):
    time_zone: str = Field(description="IANA zone the times are written in")
    mechanic_type: str
    editable: bool = Field(description="False when the workshop manages these hours")
    blocks: list[BlockOut]
    workshop_hours: list[DayHoursOut] | None = Field(
        description="For a workshop-affiliated mechanic: the hours that apply"
    )


def _block_out(block: WeeklyBlock) -> dict:
    return {
        "day_of_week": block.day_of_week,
        "day_name": str(DayOfWeek(block.day_of_week).label),
        "start": minute_label(block.start_minute),
        "end": minute_label(block.end_minute),
    }


def _day_hours_out(row: WorkshopHours) -> dict:
    return {
        "day_of_week": row.day_of_week,
        "day_name": str(DayOfWeek(row.day_of_week).label),
        "is_open": row.is_open,
        "open": wall_label(row.open_minute) if row.is_open else None,
        "close": wall_label(row.close_minute) if row.is_open else None,
        "break_start": wall_label(row.break_start_minute) if row.is_open else None,
        "break_end": wall_label(row.break_end_minute) if row.is_open else None,
    }


def _week_out(user: User) -> dict:
    mechanic = selectors.mechanic_for_user(user)
    managed = selectors.hours_managed_by_workshop(mechanic)
    return {
        "time_zone": mechanic.workshop.time_zone if managed else user.time_zone,
        "mechanic_type": mechanic_type(mechanic).value,
        "editable": not managed,
        "blocks": [_block_out(b) for b in selectors.weekly_blocks_of(mechanic)],
        "workshop_hours": (
            [_day_hours_out(r) for r in selectors.workshop_week(mechanic.workshop)]
            if managed
            else None
        ),
    }


@router.get(
    "/mechanic/availability",
    response={200: WeekOut, **ERRORS},
    summary="My weekly hours",
    description="The signed-in mechanic's weekly blocks in their own time zone. For a "
    "workshop-affiliated mechanic, `editable` is false and `workshop_hours` shows the "
    "hours that apply (plan §2.3).",
)
def weekly_hours_get(request: HttpRequest) -> dict:
    return _week_out(_user(request))


@router.put(
    "/mechanic/availability",
    response={200: WeekOut, **ERRORS},
    summary="Replace my weekly hours",
    description="Replaces the whole week atomically. Overlapping or empty blocks are "
    "refused with a message naming the block; nothing is written then.",
)
def weekly_hours_put(request: HttpRequest, payload: WeekIn) -> dict:
    user = _user(request)
    services.weekly_blocks_replace(
        mechanic=selectors.mechanic_for_user(user),
        blocks=[
            services.BlockInput(
                b.day_of_week, parse_wall_time(b.start), parse_wall_time(b.end, end=True)
            )
            for b in payload.blocks
        ],
        actor=user,
    )
    return _week_out(user)


# ---------------------------------------------------------------- time off


class TimeOffIn(Schema):
    start_date: date | None = Field(None, description="First whole day off (local)")
    end_date: date | None = Field(None, description="Last whole day off (local, inclusive)")
    starts_at: datetime | None = Field(None, description="Part-day start (ISO 8601)")
    ends_at: datetime | None = Field(None, description="Part-day end (ISO 8601)")
    reason: str = Field("", max_length=TEXT_NOTE_MAX)


class TimeOffOut(Schema):
    id: int
    mechanic_id: int
    mechanic_name: str
    starts_at: datetime
    ends_at: datetime
    all_day: bool
    reason: str
    status: str = Field(description="pending, approved or declined")
    decided_at: datetime | None


def _time_off_out(row: TimeOff) -> dict:
    return {
        "id": row.pk,
        "mechanic_id": row.mechanic_id,
        "mechanic_name": str(row.mechanic.user),
        "starts_at": row.starts_at,
        "ends_at": row.ends_at,
        "all_day": row.all_day,
        "reason": row.reason,
        "status": row.status,
        "decided_at": row.decided_at,
    }


@router.get(
    "/mechanic/time-off",
    response={200: list[TimeOffOut], **ERRORS},
    summary="My time off",
)
def time_off_list(request: HttpRequest) -> list[dict]:
    mechanic = selectors.mechanic_for_user(_user(request))
    return [
        _time_off_out(row)
        for row in selectors.time_off_of(mechanic).select_related("mechanic__user")
    ]


@router.post(
    "/mechanic/time-off",
    response={201: TimeOffOut, **ERRORS},
    summary="Take or request time off",
    description="Whole days (`start_date`, `end_date`, in your zone) or a part day "
    "(`starts_at`, `ends_at`). Approved at once for virtual-only and independent "
    "mechanics; pending for a workshop-affiliated mechanic until the workshop decides "
    "(a pending request already blocks new bookings).",
)
def time_off_create(request: HttpRequest, payload: TimeOffIn) -> Status:
    user = _user(request)
    mechanic = selectors.mechanic_for_user(user)
    zone = user.time_zone
    if payload.start_date or payload.end_date:
        if not (payload.start_date and payload.end_date):
            raise InvalidInput(_("Give both start_date and end_date."), field="end_date")
        if payload.starts_at or payload.ends_at:
            raise InvalidInput(_("Give whole days or date-times, not both."), field="starts_at")
        starts_at = parse_instant(payload.start_date.isoformat(), zone=zone, field="start_date")
        ends_at = parse_instant(
            payload.end_date.isoformat(), zone=zone, field="end_date", end_of_day=True
        )
        all_day = True
    elif payload.starts_at and payload.ends_at:
        starts_at = parse_instant(payload.starts_at.isoformat(), zone=zone, field="starts_at")
        ends_at = parse_instant(payload.ends_at.isoformat(), zone=zone, field="ends_at")
        all_day = False
    else:
        raise InvalidInput(
            _("Give start_date and end_date, or starts_at and ends_at."), field="start_date"
        )
    row = services.time_off_create(
        mechanic=mechanic,
        actor=user,
        starts_at=starts_at,
        ends_at=ends_at,
        all_day=all_day,
        reason=payload.reason,
    )
    return Status(201, _time_off_out(row))


@router.delete(
    "/mechanic/time-off/{time_off_id}",
    response={204: None, **ERRORS},
    summary="Cancel my time off",
)
def time_off_delete(request: HttpRequest, time_off_id: int) -> Status:
    services.time_off_delete(actor=_user(request), time_off_id=time_off_id)
    return Status(204, None)


@router.get(
    "/workshop/time-off",
    response={200: list[TimeOffOut], **ERRORS},
    summary="My workshop's mechanics' time off",
    description="Filter with `status=pending` for requests waiting for a decision.",
)
def workshop_time_off_list(
    request: HttpRequest,
    status: str | None = Query(None, max_length=CODE_MAX),
    workshop_id: int | None = None,
) -> list[dict]:
    workshop = selectors.workshop_for_staff(_user(request), workshop_id)
    return [_time_off_out(row) for row in selectors.time_off_requests_for(workshop, status=status)]


@router.post(
    "/workshop/time-off/{time_off_id}/approve",
    response={200: TimeOffOut, **ERRORS},
    summary="Approve a mechanic's time-off request",
)
def time_off_approve(request: HttpRequest, time_off_id: int) -> dict:
    return _time_off_out(services.time_off_approve(actor=_user(request), time_off_id=time_off_id))


@router.post(
    "/workshop/time-off/{time_off_id}/decline",
    response={200: TimeOffOut, **ERRORS},
    summary="Decline a mechanic's time-off request",
)
def time_off_decline(request: HttpRequest, time_off_id: int) -> dict:
    return _time_off_out(services.time_off_decline(actor=_user(request), time_off_id=time_off_id))


# ---------------------------------------------------------------- settings


class SettingsIn(Schema):
    buffer_minutes: int | None = Field(None, description="0–240")
    min_notice_minutes: int | None = Field(None, description="≥ 0")
    max_advance_days: int | None = Field(None, description="1–365")
    slot_step_minutes: int | None = Field(None, description="5–240")
    allow_instant_booking: bool | None = Field(
        None,
        description="On: a booked time is confirmed at once. Off: each booking waits for "
        "you to accept it. Start-now requests are not affected.",
    )


class SettingsOut(Schema):
    buffer_minutes: int
    min_notice_minutes: int
    max_advance_days: int
    slot_step_minutes: int
    allow_instant_booking: bool


def _settings_out(row: MechanicSettings) -> dict:
    return {field: getattr(row, field) for field in SettingsOut.model_fields}


@router.get("/mechanic/settings", response={200: SettingsOut, **ERRORS}, summary="My booking rules")
def settings_get(request: HttpRequest) -> dict:
    return _settings_out(selectors.settings_of(selectors.mechanic_for_user(_user(request))))


@router.put(
    "/mechanic/settings",
    response={200: SettingsOut, **ERRORS},
    summary="Change my booking rules",
    description="Only the fields given change.",
)
def settings_put(request: HttpRequest, payload: SettingsIn) -> dict:
    user = _user(request)
    row = services.mechanic_settings_update(
        mechanic=selectors.mechanic_for_user(user), actor=user, **payload.model_dump()
    )
    return _settings_out(row)


# ---------------------------------------------------------------- workshop hours


class DayHoursIn(Schema):
    day_of_week: int = Field(description="0=Sunday … 6=Saturday")
    is_open: bool
    open: WallTime | None = None
    close: WallTimeEnd | None = None
    break_start: WallTime | None = None
    break_end: WallTimeEnd | None = None


class WorkshopWeekIn(Schema):
    days: list[DayHoursIn] = Field(description="Days not listed are closed")
    bays: int | None = Field(None, description="Appointments at the same time (1–50)")


class WorkshopWeekOut(Schema):
    workshop_id: int
    name: str
    time_zone: str
    bays: int
    days: list[DayHoursOut]


def _workshop_week_out(workshop) -> dict:
    return {
        "workshop_id": workshop.pk,
        "name": workshop.name,
        "time_zone": workshop.time_zone,
        "bays": workshop.max_concurrent_appointments,
        "days": [_day_hours_out(r) for r in selectors.workshop_week(workshop)],
    }


def _minutes(value: str | None, *, end: bool = False) -> int | None:
    return None if value is None else parse_wall_time(value, end=end)


@router.get(
    "/workshop/availability",
    response={200: WorkshopWeekOut, **ERRORS},
    summary="My workshop's opening hours",
    description="Add `workshop_id` when you manage several workshops.",
)
def workshop_hours_get(request: HttpRequest, workshop_id: int | None = None) -> dict:
    return _workshop_week_out(selectors.workshop_for_staff(_user(request), workshop_id))


@router.put(
    "/workshop/availability",
    response={200: WorkshopWeekOut, **ERRORS},
    summary="Replace my workshop's opening hours and bays",
    description="Breaks must lie inside the opening hours; affiliated mechanics are "
    "bookable in the opening hours minus the break.",
)
def workshop_hours_put(
    request: HttpRequest, payload: WorkshopWeekIn, workshop_id: int | None = None
) -> dict:
    user = _user(request)
    workshop = selectors.workshop_for_staff(user, workshop_id)
    days = [
        services.DayHoursInput(
            day_of_week=day.day_of_week,
            is_open=day.is_open,
            open_minute=_minutes(day.open),
            close_minute=_minutes(day.close, end=True),
            break_start_minute=_minutes(day.break_start),
            break_end_minute=_minutes(day.break_end, end=True),
        )
        for day in payload.days
    ]
    services.workshop_hours_replace(workshop=workshop, days=days, actor=user, bays=payload.bays)
    workshop.refresh_from_db()
    return _workshop_week_out(workshop)


# ---------------------------------------------------------------- date overrides


class OverrideIn(Schema):
    day: date = Field(description="Local date")
    start: WallTime | None = Field(None, description="Omit start and end for a closed day")
    end: WallTimeEnd | None = None
    note: str = Field("", max_length=TEXT_NOTE_MAX)


class OverrideOut(Schema):
    id: int
    day: date
    closed: bool
    start: str | None
    end: str | None
    note: str


def _override_out(row: DateOverride) -> dict:
    return {
        "id": row.pk,
        "day": row.day,
        "closed": row.is_closed,
        "start": wall_label(row.start_minute) or None,
        "end": wall_label(row.end_minute) or None,
        "note": row.note,
    }


def _override_create(user: User, payload: OverrideIn, **owner) -> Status:
    row = services.date_override_create(
        actor=user,
        day=payload.day,
        start_minute=_minutes(payload.start),
        end_minute=_minutes(payload.end, end=True),
        note=payload.note,
        **owner,
    )
    return Status(201, _override_out(row))


@router.get(
    "/mechanic/overrides",
    response={200: list[OverrideOut], **ERRORS},
    summary="My date overrides",
    description="Special hours or closed days that replace the weekly hours on a date.",
)
def mechanic_overrides_list(request: HttpRequest) -> list[dict]:
    mechanic = selectors.mechanic_for_user(_user(request))
    return [_override_out(r) for r in selectors.overrides_of(mechanic=mechanic)]


@router.post(
    "/mechanic/overrides",
    response={201: OverrideOut, **ERRORS},
    summary="Add special hours or a closed day",
)
def mechanic_override_create(request: HttpRequest, payload: OverrideIn) -> Status:
    user = _user(request)
    return _override_create(user, payload, mechanic=selectors.mechanic_for_user(user))


@router.delete(
    "/mechanic/overrides/{override_id}",
    response={204: None, **ERRORS},
    summary="Remove one of my date overrides",
)
def mechanic_override_delete(request: HttpRequest, override_id: int) -> Status:
    services.date_override_delete(actor=_user(request), override_id=override_id, owner="mechanic")
    return Status(204, None)


@router.get(
    "/workshop/overrides",
    response={200: list[OverrideOut], **ERRORS},
    summary="My workshop's date overrides",
)
def workshop_overrides_list(request: HttpRequest, workshop_id: int | None = None) -> list[dict]:
    workshop = selectors.workshop_for_staff(_user(request), workshop_id)
    return [_override_out(r) for r in selectors.overrides_of(workshop=workshop)]


@router.post(
    "/workshop/overrides",
    response={201: OverrideOut, **ERRORS},
    summary="Add special hours or a closed day for my workshop",
)
def workshop_override_create(
    request: HttpRequest, payload: OverrideIn, workshop_id: int | None = None
) -> Status:
    user = _user(request)
    return _override_create(user, payload, workshop=selectors.workshop_for_staff(user, workshop_id))


@router.delete(
    "/workshop/overrides/{override_id}",
    response={204: None, **ERRORS},
    summary="Remove one of my workshop's date overrides",
)
def workshop_override_delete(request: HttpRequest, override_id: int) -> Status:
    services.date_override_delete(actor=_user(request), override_id=override_id, owner="workshop")
    return Status(204, None)


# ---------------------------------------------------------------- bookable time


class SlotOut(Schema):
    start: datetime = Field(description="UTC")
    end: datetime = Field(description="UTC")
    start_local: str = Field(description="Start in the display zone, ISO 8601 with offset")
    end_local: str
    zone: str = Field(description="The display zone's IANA name")


class SlotsOut(Schema):
    mechanic_id: int
    time_zone: str = Field(description="Display zone of the *_local fields")
    duration_minutes: int
    slots: list[SlotOut]


class FreeOut(Schema):
    start: datetime
    end: datetime
    count: int
    mechanic_ids: list[int]


class EarliestOut(Schema):
    found: bool
    mechanic_id: int | None
    slot: SlotOut | None


def _slot_out(slot: Interval, zone: str) -> dict:
    local = ZoneInfo(zone)
    return {
        "start": slot.start,
        "end": slot.end,
        "start_local": slot.start.astimezone(local).isoformat(),
        "end_local": slot.end.astimezone(local).isoformat(),
        "zone": zone,
    }


def _duration(plan: str | None, duration: int | None) -> timedelta:
    if plan is not None and duration is not None:
        raise InvalidInput(_("Give plan or duration, not both."), field="duration")
    if plan is not None:
        return plan_duration(plan)
    if duration is None:
        raise InvalidInput(
            _("Give plan (%(choices)s) or duration in minutes.")
            % {"choices": ", ".join(PLAN_MINUTES)},
            field="plan",
        )
    if not 5 <= duration <= 480:
        raise InvalidInput(_("Duration must be between 5 and 480 minutes."), field="duration")
    return timedelta(minutes=duration)


def _window(
    start_text: str, end_text: str, zone: str, *, names=("from", "to")
) -> tuple[datetime, datetime]:
    start = parse_instant(start_text, zone=zone, field=names[0])
    end = parse_instant(end_text, zone=zone, field=names[1], end_of_day=True)
    if end <= start:
        raise InvalidInput(
            _("`%(later)s` must be after `%(earlier)s`.")
            % {"later": names[1], "earlier": names[0]},
            field=names[1],
        )
    if end - start > MAX_RANGE:
        raise InvalidInput(_("Ask for at most 62 days at a time."), field=names[1])
    return start, end


@router.get(
    "/mechanics/{mechanic_id}/available-slots",
    response={200: SlotsOut, **ERRORS},
    throttle=READ_LIMIT,
    summary="A mechanic's bookable slots",
    description="Any signed-in user. `from`/`to`: ISO dates (whole local days in `tz`) or "
    "date-times; at most 62 days. Length from `plan` (free, trial, quick, advice, premium, "
    "urgent) or `duration` minutes. Each slot is given in UTC and in `tz` (default: your "
    "zone).",
)
def available_slots(
    request: HttpRequest,
    mechanic_id: int,
    from_: str = Query(
        ...,
        alias="from",
        description="Start: 2026-03-08 or 2026-03-08T09:00-05:00",
        max_length=ISO_TEXT_MAX,
    ),
    to: str = Query(
        ..., description="End (a date means the end of that day)", max_length=ISO_TEXT_MAX
    ),
    plan: str | None = Query(None, max_length=CODE_MAX),
    duration: int | None = Query(None, description="Minutes, instead of plan"),
    tz: str | None = Query(None, description="Display zone (IANA)", max_length=ZONE_MAX),
) -> HttpResponse:
    zone = parse_zone(tz) if tz else _user(request).time_zone
    length = _duration(plan, duration)
    start, end = _window(from_, to, zone)
    if not 0 < mechanic_id < 2**63:  # plain SQL below: no id past a bigint exists
        raise NotFound(_("No such mechanic."))
    # approved_only: the visibility rule of selectors.mechanic_public, in the service's
    # own profile query (NotFound alike), so the mechanic is read once.
    # The JSON is written directly (``availability.wire``), not validated and formatted
    # slot by slot through pydantic and datetime, which cost more than finding the slots;
    # the route still declares SlotsOut, so the OpenAPI schema stays true, and a test
    # validates this body against it.
    body = service.available_slots_json(mechanic_id, start, end, length, zone, approved_only=True)
    return HttpResponse(body, content_type="application/json; charset=utf-8")


@router.get(
    "/mechanics/available",
    response={200: FreeOut, **ERRORS},
    throttle=READ_LIMIT,
    summary="Who is free between two instants",
    description="Mechanic profile ids bookable for the whole of [start, end) under every "
    "rule (hours by type, time off, bookings + buffer, notice, advance).",
)
def mechanics_available(
    request: HttpRequest,
    start: str = Query(..., max_length=ISO_TEXT_MAX),
    end: str = Query(..., max_length=ISO_TEXT_MAX),
) -> dict:
    begin, finish = _window(start, end, _user(request).time_zone, names=("start", "end"))
    if finish - begin > timedelta(days=1):
        raise InvalidInput(_("Ask about at most one day at a time."), field="end")
    ids = sorted(service.mechanics_free_between(begin, finish))
    return {"start": begin, "end": finish, "count": len(ids), "mechanic_ids": ids}


@router.get(
    "/slots/earliest",
    response={200: EarliestOut, **ERRORS},
    throttle=READ_LIMIT,
    summary="The earliest bookable slot with any mechanic",
    description="`found` is false when nobody has a slot within their booking window.",
)
def earliest(
    request: HttpRequest,
    plan: str | None = Query(None, max_length=CODE_MAX),
    duration: int | None = None,
    after: str | None = Query(
        None, description="Not before this instant (default: now)", max_length=ISO_TEXT_MAX
    ),
    tz: str | None = Query(None, max_length=ZONE_MAX),
) -> dict:
    zone = parse_zone(tz) if tz else _user(request).time_zone
    length = _duration(plan, duration)
    after_at = parse_instant(after, zone=zone, field="after") if after else None
    found = service.earliest_slot(length, after=after_at)
    if found is None:
        return {"found": False, "mechanic_id": None, "slot": None}
    return {"found": True, "mechanic_id": found[0], "slot": _slot_out(found[1], zone)}


# ---------------------------------------------------------------- external calendars


class CalendarIn(Schema):
    url: str = Field(
        description="The calendar's private ICS address (https://, http:// or webcal://); "
        "a secret: answers show only its host",
        max_length=external.MAX_URL,
        examples=["webcal://p23-caldav.icloud.com/published/2/…"],
    )
    label: str = Field("", max_length=80, examples=["Family"])


class CalendarOut(Schema):
    id: int
    label: str
    url_hint: str = Field(description="Scheme and host only; the address is never shown")
    created_at: datetime
    last_fetched_at: datetime | None = Field(description="The last attempt, good or bad")
    last_ok_at: datetime | None = Field(description="When it last worked")
    last_error: str = Field(description="Why the last attempt failed; empty if it worked")
    busy_count: int = Field(description="Busy stretches in use (the last good copy)")


def _calendar_out(row) -> dict:
    return {
        "id": row.pk,
        "label": row.label,
        "url_hint": row.url_hint,
        "created_at": row.created_at,
        "last_fetched_at": row.last_fetched_at,
        "last_ok_at": row.last_ok_at,
        "last_error": row.last_error,
        "busy_count": getattr(row, "busy_count", 0),
    }


def _own_calendar_out(mechanic, calendar_id: int) -> dict:
    return _calendar_out(external.external_calendars_of(mechanic).get(pk=calendar_id))


@router.get(
    "/mechanic/calendars",
    response={200: list[CalendarOut], **ERRORS},
    summary="My external calendars",
    description="Calendars whose busy events block bookings, each with when it last "
    "worked and the last error.",
)
def calendars_list(request: HttpRequest) -> list[dict]:
    mechanic = selectors.mechanic_for_user(_user(request))
    return [_calendar_out(row) for row in external.external_calendars_of(mechanic)]


@router.post(
    "/mechanic/calendars",
    response={201: CalendarOut, **ERRORS},
    summary="Connect an external calendar",
    description="Its busy events (not free/transparent, not declined) block bookings once "
    "the worker has fetched it, and it is fetched again every 15 minutes.",
)
def calendar_create(request: HttpRequest, payload: CalendarIn) -> Status:
    mechanic = selectors.mechanic_for_user(_user(request))
    row = external.external_calendar_add(mechanic=mechanic, url=payload.url, label=payload.label)
    return Status(201, _own_calendar_out(mechanic, row.pk))


@router.delete(
    "/mechanic/calendars/{calendar_id}",
    response={204: None, **ERRORS},
    summary="Disconnect an external calendar",
)
def calendar_delete(request: HttpRequest, calendar_id: int) -> Status:
    external.external_calendar_remove(actor=_user(request), calendar_id=calendar_id)
    return Status(204, None)


@router.post(
    "/mechanic/calendars/{calendar_id}/refresh",
    response={202: CalendarOut, **ERRORS},
    summary="Fetch an external calendar now",
    description="Asks the worker to fetch it soon (at most once a minute); the answer is "
    "the calendar as it stands.",
)
def calendar_refresh(request: HttpRequest, calendar_id: int) -> Status:
    user = _user(request)
    row = external.external_calendar_refresh_request(actor=user, calendar_id=calendar_id)
    return Status(202, _own_calendar_out(row.mechanic, row.pk))
