"""Workshop visits API (plan Phase 3: `POST /api/workshop/appointments/from-session`,
`PUT /api/workshop/appointments/{id}/confirm`, and the rest of the workflow).

Handlers parse, call one service, return a schema; errors are DomainErrors rendered by
autodoctor/api.py. Who may act is decided in the services and selectors: the visit's
customer, its workshop's staff, the mechanic assigned to it; anyone else gets 404.
"""

from datetime import datetime, timedelta
from typing import Literal

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from autodoctor.accounts.models import User, Workshop
from autodoctor.availability import service as availability
from autodoctor.availability.api import _slot_out, _window
from autodoctor.availability.engine import Interval, daily_counts
from autodoctor.availability.forms import parse_zone
from autodoctor.booking.models import Session
from autodoctor.errors import InvalidInput, NotFound
from autodoctor.ratelimit import READ, ApiRateLimit
from autodoctor.schemas import ISO_TEXT_MAX, ZONE_MAX, ErrorOut

from . import selectors, services
from .models import NOTES_MAX, REASON_MAX, Visit, VisitMode

router = Router(tags=["workshops"])
READ_LIMIT = [ApiRateLimit(READ)]
ERRORS = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
POSTAL_MAX = 10
CITY_MAX = 100


def _user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined,return-value]


# ------------------------------------------------------------------------- schemas


class WorkshopOut(Schema):
    id: int
    name: str
    address: str
    city: str
    postal_code: str
    time_zone: str
    bays: int
    basis: str = Field(description="How near: same area (FSA), same city, same province")
    mechanic_works_here: bool = Field(
        description="The mechanic of `session_id` works at this workshop"
    )


class VisitOut(Schema):
    id: int
    workshop_id: int
    workshop_name: str
    time_zone: str = Field(description="The workshop's zone: visit times are its wall clock")
    customer_id: int
    session_id: int | None
    status: str
    service_type: str
    duration_minutes: int
    starts_at: datetime
    ends_at: datetime
    starts_at_local: str = Field(description="Start in the workshop's zone, ISO 8601")
    expires_at: datetime | None = Field(description="Waiting visits: the answer is due")
    requested_starts_at: datetime | None = Field(
        description="Other time offered: the customer's original time"
    )
    bay: int
    mode: str
    vehicle: str
    concern: str
    customer_notes: str
    workshop_notes: str
    decline_reason: str
    counter_reason: str
    assigned_mechanic_id: int | None
    assigned_mechanic_name: str | None
    sequence: int
    cancelled_by: str

    @staticmethod
    def resolve_workshop_name(obj: Visit) -> str:
        return obj.workshop.name

    @staticmethod
    def resolve_time_zone(obj: Visit) -> str:
        return obj.workshop.time_zone

    @staticmethod
    def resolve_starts_at_local(obj: Visit) -> str:
        return _slot_out(Interval(obj.starts_at, obj.ends_at), obj.workshop.time_zone)[
            "start_local"
        ]

    @staticmethod
    def resolve_vehicle(obj: Visit) -> str:
        return obj.vehicle_label

    @staticmethod
    def resolve_assigned_mechanic_name(obj: Visit) -> str | None:
        return str(obj.assigned_mechanic.user) if obj.assigned_mechanic_id else None


class TimesOut(Schema):
    workshop_id: int
    time_zone: str = Field(description="Zone of the *_local fields (default: the workshop's)")
    duration_minutes: int
    slots: list[dict]
    daily_counts: dict[str, int] = Field(description="Local date -> number of free times")


class FromSessionIn(Schema):
    session_id: int
    workshop_id: int
    start: datetime = Field(description="A free time from available-times, ISO 8601 with offset")
    mode: Literal["drop_off", "wait"] = VisitMode.DROP_OFF
    notes: str = Field("", max_length=NOTES_MAX)


class ConfirmIn(Schema):
    mechanic_id: int | None = Field(None, description="One of the workshop's own mechanics")
    bay: int | None = Field(None, description="1..bays; default: the bay already held")


class AssignIn(Schema):
    mechanic_id: int | None = Field(description="null unassigns")
    bay: int | None = None


class TimeIn(Schema):
    start: datetime
    reason: str = Field("", max_length=REASON_MAX)


class ReasonIn(Schema):
    reason: str = Field("", max_length=REASON_MAX)


class NotesIn(Schema):
    notes: str = Field("", max_length=NOTES_MAX)


def _visit(visit: Visit) -> Visit:
    return Visit.objects.select_related("workshop", "assigned_mechanic__user").get(pk=visit.pk)


# ------------------------------------------------------------------------- finding


@router.get(
    "/workshops",
    response={200: list[WorkshopOut], 401: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Workshops, nearest first",
    description="`near`: a postal code (default: yours); `city` breaks ties. Nearness is "
    "the same forward sortation area (first 3 characters), then city, then province. "
    "`session_id`: flags the workshop where that session's mechanic works.",
)
def workshops_list(
    request: HttpRequest,
    near: str | None = Query(None, max_length=POSTAL_MAX),
    city: str | None = Query(None, max_length=CITY_MAX),
    session_id: int | None = None,
) -> list[dict]:
    user = _user(request)
    profile = getattr(user, "customer_profile", None)
    mechanic_workshop = None
    if session_id is not None:
        session = Session.objects.filter(pk=session_id, customer=user).select_related("mechanic")
        found = session.first()
        if found is None:
            raise NotFound(_("No such session."))
        mechanic_workshop = found.mechanic.workshop_id if found.mechanic_id else None
    nearby = selectors.workshops_near(
        postal_code=near if near is not None else getattr(profile, "postal_code", ""),
        city=city if city is not None else getattr(profile, "city", ""),
        mechanic_workshop_id=mechanic_workshop,
    )
    return [
        {
            "id": n.workshop.pk,
            "name": n.workshop.name,
            "address": n.workshop.address,
            "city": n.workshop.city,
            "postal_code": n.workshop.postal_code,
            "time_zone": n.workshop.time_zone,
            "bays": n.workshop.max_concurrent_appointments,
            "basis": n.basis,
            "mechanic_works_here": n.mechanic_works_here,
        }
        for n in nearby
    ]


@router.get(
    "/workshops/{workshop_id}/available-times",
    response={200: TimesOut, 401: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    throttle=READ_LIMIT,
    summary="A workshop's free visit times",
    description="Times with a bay free for the whole visit, inside opening hours and the "
    "workshop's notice and advance rules. Length: the visit a completed session "
    "`session_id` needs (its diagnosis), or `duration` minutes. `from`/`to`: ISO dates "
    "(whole days in the workshop's zone) or date-times; at most 62 days.",
)
def available_times(
    request: HttpRequest,
    workshop_id: int,
    from_: str = Query(..., alias="from", max_length=ISO_TEXT_MAX),
    to: str = Query(..., max_length=ISO_TEXT_MAX),
    session_id: int | None = None,
    duration: int | None = Query(None, description="Minutes, instead of session_id"),
    tz: str | None = Query(None, description="Display zone (IANA)", max_length=ZONE_MAX),
) -> dict:
    workshop = Workshop.objects.filter(pk=workshop_id).first()
    if workshop is None:
        raise NotFound(_("No such workshop."))
    zone = parse_zone(tz) if tz else workshop.time_zone
    if (session_id is None) == (duration is None):
        raise InvalidInput(_("Give session_id or duration (minutes)."), field="duration")
    if session_id is not None:
        session = Session.objects.filter(pk=session_id, customer=_user(request)).first()
        if session is None:
            raise NotFound(_("No such session."))
        minutes = services.visit_plan_for_session(session, workshop.pk)[1]
    else:
        if not 15 <= duration <= 1440:  # type: ignore[operator]
            raise InvalidInput(_("Duration must be between 15 and 1440 minutes."), field="duration")
        minutes = duration  # type: ignore[assignment]
    start, end = _window(from_, to, workshop.time_zone)
    slots = availability.visit_slots(workshop, start, end, timedelta(minutes=minutes))
    counts = daily_counts(slots, zone)
    return {
        "workshop_id": workshop.pk,
        "time_zone": zone,
        "duration_minutes": minutes,
        "slots": [_slot_out(s, zone) for s in slots],
        "daily_counts": {day.isoformat(): n for day, n in counts.items()},
    }


# ------------------------------------------------------------------------- customer


@router.post(
    "/workshop/appointments/from-session",
    response={201: VisitOut, **ERRORS},
    summary="Ask a workshop for an in-person visit after a completed session",
    description="Vehicle, concern and the diagnosis (service type, labour time) come from "
    "the session. The time is held for the workshop's response window (default 24 h) or "
    "until the start; 409 `slot_unavailable` carries `next_free_slots`.",
)
def visit_from_session(request: HttpRequest, payload: FromSessionIn) -> Status:
    visit = services.visit_request_from_session(
        customer=_user(request),
        session_id=payload.session_id,
        request=services.VisitRequest(
            workshop_id=payload.workshop_id,
            starts_at=payload.start,
            mode=payload.mode,
            notes=payload.notes,
        ),
    )
    return Status(201, _visit(visit))


@router.get(
    "/visits",
    response={200: list[VisitOut], 401: ErrorOut},
    summary="My visits: as the customer, or assigned to me as a mechanic",
)
def visits_mine(request: HttpRequest) -> list[Visit]:
    user = _user(request)
    qs = (
        selectors.visits_for_mechanic(user)
        if user.is_mechanic
        else selectors.visits_for_customer(user)
    )
    return list(qs.select_related("workshop", "assigned_mechanic__user"))


@router.put(
    "/workshop/appointments/{visit_id}/counter/accept",
    response={200: VisitOut, **ERRORS},
    summary="Customer: take the other time the workshop offered",
)
def counter_accept(request: HttpRequest, visit_id: int) -> Visit:
    return _visit(services.visit_counter_accept(customer=_user(request), visit_id=visit_id))


@router.put(
    "/workshop/appointments/{visit_id}/counter/decline",
    response={200: VisitOut, **ERRORS},
    summary="Customer: refuse the other time (the visit is cancelled)",
)
def counter_decline(request: HttpRequest, visit_id: int) -> Visit:
    return _visit(services.visit_counter_decline(customer=_user(request), visit_id=visit_id))


# ------------------------------------------------------------------------- either side


@router.get(
    "/workshop/appointments/{visit_id}",
    response={200: VisitOut, 401: ErrorOut, 404: ErrorOut},
    summary="One visit (its customer, its workshop's staff, its assigned mechanic)",
)
def visit_get(request: HttpRequest, visit_id: int) -> Visit:
    return selectors.access_visit(_user(request), visit_id)


@router.put(
    "/workshop/appointments/{visit_id}/cancel",
    response={200: VisitOut, **ERRORS},
    summary="Cancel a visit that has not started (customer or workshop)",
)
def visit_cancel(request: HttpRequest, visit_id: int, payload: ReasonIn) -> Visit:
    return _visit(
        services.visit_cancel(user=_user(request), visit_id=visit_id, reason=payload.reason)
    )


@router.put(
    "/workshop/appointments/{visit_id}/reschedule",
    response={200: VisitOut, **ERRORS},
    summary="Move a visit",
    description="The workshop moves a confirmed visit (it stays confirmed). The customer "
    "moves a request or asks to move a confirmed visit: it becomes a request at the new "
    "time, for the workshop to answer.",
)
def visit_reschedule(request: HttpRequest, visit_id: int, payload: TimeIn) -> Visit:
    return _visit(
        services.visit_reschedule(user=_user(request), visit_id=visit_id, starts_at=payload.start)
    )


# ------------------------------------------------------------------------- workshop


@router.get(
    "/workshop/appointments",
    response={200: list[VisitOut], 401: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="A workshop's visits by tab (its staff)",
)
def workshop_appointments(
    request: HttpRequest,
    workshop_id: int | None = Query(None, description="Default: your (first) workshop"),
    tab: Literal["pending", "confirmed", "completed", "closed"] = "pending",
) -> list[Visit]:
    mine = selectors.staff_workshop_ids(_user(request))
    if workshop_id is None and mine:
        workshop_id = mine[0]
    if workshop_id not in mine:
        raise NotFound(_("No such workshop."))
    return list(selectors.workshop_visits(workshop_id, tab).select_related("workshop"))


@router.put(
    "/workshop/appointments/{visit_id}/confirm",
    response={200: VisitOut, **ERRORS},
    summary="Workshop: accept a request, optionally assigning a mechanic and a bay",
)
def visit_confirm(request: HttpRequest, visit_id: int, payload: ConfirmIn) -> Visit:
    return _visit(
        services.visit_confirm(
            user=_user(request), visit_id=visit_id, mechanic_id=payload.mechanic_id, bay=payload.bay
        )
    )


@router.put(
    "/workshop/appointments/{visit_id}/counter",
    response={200: VisitOut, **ERRORS},
    summary="Workshop: offer another time for a request",
)
def visit_counter(request: HttpRequest, visit_id: int, payload: TimeIn) -> Visit:
    return _visit(
        services.visit_counter(
            user=_user(request), visit_id=visit_id, starts_at=payload.start, reason=payload.reason
        )
    )


@router.put(
    "/workshop/appointments/{visit_id}/decline",
    response={200: VisitOut, **ERRORS},
    summary="Workshop: decline a request, saying why",
)
def visit_decline(request: HttpRequest, visit_id: int, payload: ReasonIn) -> Visit:
    return _visit(
        services.visit_decline(user=_user(request), visit_id=visit_id, reason=payload.reason)
    )


@router.put(
    "/workshop/appointments/{visit_id}/assign",
    response={200: VisitOut, **ERRORS},
    summary="Workshop: assign (or unassign) one of its mechanics, optionally a bay",
)
def visit_assign(request: HttpRequest, visit_id: int, payload: AssignIn) -> Visit:
    return _visit(
        services.visit_assign(
            user=_user(request), visit_id=visit_id, mechanic_id=payload.mechanic_id, bay=payload.bay
        )
    )


@router.put(
    "/workshop/appointments/{visit_id}/check-in",
    response={200: VisitOut, **ERRORS},
    summary="Workshop: the car arrived",
)
def visit_check_in(request: HttpRequest, visit_id: int) -> Visit:
    return _visit(services.visit_check_in(user=_user(request), visit_id=visit_id))


@router.put(
    "/workshop/appointments/{visit_id}/complete",
    response={200: VisitOut, **ERRORS},
    summary="Workshop: the work is done (final notes for the customer)",
)
def visit_complete(request: HttpRequest, visit_id: int, payload: NotesIn) -> Visit:
    return _visit(
        services.visit_complete(user=_user(request), visit_id=visit_id, notes=payload.notes)
    )


@router.put(
    "/workshop/appointments/{visit_id}/no-show",
    response={200: VisitOut, **ERRORS},
    summary="Workshop: the customer did not come (from 15 minutes after the start)",
)
def visit_no_show(request: HttpRequest, visit_id: int) -> Visit:
    return _visit(services.visit_no_show(user=_user(request), visit_id=visit_id))
