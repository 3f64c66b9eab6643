"""Writes of the workshops app: an in-person visit from the customer's request to its
completion (plan Phase 3, issue 11).

A visit's status changes only through `_transition`, which checks ALLOWED. Every
change records a VisitEvent (`workshops.visit.<verb>`); the notifications app turns
those into messages in the same transaction.

Capacity: a visit that holds time occupies one bay; `_place` picks the lowest bay free
for the whole visit and lets the database guard (migration 0002) decide races, retrying
the next bay when another transaction took this one first. Every visit write also takes
a share lock on the workshop row (PostgreSQL), so a bay-count change (`workshop_bays_
change`, which holds the row's update lock) never interleaves with a booking.

Who may do what: the visit's customer requests, accepts or declines another time,
cancels and asks to reschedule; the workshop's owner and staff (and platform admins)
confirm, offer another time, decline, assign, check in, complete, mark no-shows, cancel
and reschedule (plan §5.4: the workshop, not the platform, assigns its mechanics).
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from autodoctor.accounts.models import MechanicProfile, User, Workshop
from autodoctor.availability import service as availability
from autodoctor.booking.diagnosis import diagnosis_of
from autodoctor.booking.models import ServiceType, Session, SessionStatus
from autodoctor.booking.services import (
    reservation_pin_for_visit,
    reservation_unpin,
    run_booking_transaction,
)
from autodoctor.dates import instant_in_range
from autodoctor.errors import (
    Conflict,
    InvalidInput,
    InvalidTransition,
    NotAllowed,
    NotFound,
    SlotUnavailable,
)

from .events import visit_event_record
from .models import (
    HOLDING_STATUSES,
    NOTES_MAX,
    REASON_MAX,
    WAITING_STATUSES,
    Visit,
    VisitMode,
    VisitStatus,
)
from .selectors import staff_workshop_ids, visits_visible_to

log = logging.getLogger("autodoctor.workshops")

BAY_GUARD = "visit_bay_no_overlap"
V = VisitStatus
ALLOWED: dict[str, set[str]] = {
    # REQUESTED -> REQUESTED: the customer moves the request to another time.
    V.REQUESTED: {V.REQUESTED, V.CONFIRMED, V.COUNTERED, V.DECLINED, V.EXPIRED, V.CANCELLED},
    V.COUNTERED: {V.CONFIRMED, V.CANCELLED, V.EXPIRED},
    # CONFIRMED -> REQUESTED: the customer asks for another time; the workshop answers.
    V.CONFIRMED: {V.CONFIRMED, V.REQUESTED, V.CHECKED_IN, V.NO_SHOW, V.CANCELLED},
    V.CHECKED_IN: {V.COMPLETED},
    V.COMPLETED: set(),
    V.DECLINED: set(),
    V.EXPIRED: set(),
    V.CANCELLED: set(),
    V.NO_SHOW: set(),
}
# A no-show can be marked from this long after the start.
NO_SHOW_AFTER = timedelta(minutes=15)


# --------------------------------------------------------------------------- helpers


def _transition(
    visit: Visit, to: str, *, actor: User | None, action: str, data: dict | None = None
) -> None:
    """Move `visit` to `to` and record `action`. Precondition: inside the transaction,
    the visit row locked. The caller saves the visit's other fields first."""
    if to not in ALLOWED[visit.status]:
        raise InvalidTransition(
            _(
                "This visit is %(visit_get_status_display_lower)s; it cannot become %(visitstatus_to_label_lower)s."
            )
            % {
                "visit_get_status_display_lower": visit.get_status_display().lower(),
                "visitstatus_to_label_lower": VisitStatus(to).label.lower(),
            },
            current_status=visit.status,
            requested_status=to,
        )
    previous = visit.status
    visit.status = to
    if to not in WAITING_STATUSES:
        visit.expires_at = None
    visit.save()
    visit_event_record(
        visit=visit, action=action, actor=actor, data={"from": previous, "to": to, **(data or {})}
    )


def _share_lock_workshop(workshop_id: int) -> None:
    """Hold the workshop row against a bay-count change for the rest of the transaction
    (PostgreSQL FOR SHARE: bookings do not block each other). SQLite needs nothing: its
    writers are serialized from BEGIN (transaction_mode=IMMEDIATE)."""
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(Workshop._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR SHARE", [workshop_id])


def _visible(visit_id: int, user: User, *, as_role: str, lock: bool = False) -> Visit:
    """The visit if `user` may act on it as `as_role`: "customer", "workshop" (its staff,
    owner, admins) or "any" (either side). NotFound if they cannot see it; NotAllowed if
    they can but it is not theirs to do (the assigned mechanic asking to confirm)."""
    qs = Visit.objects.select_for_update(of=("self",)) if lock else Visit.objects
    visit = (
        qs.filter(pk=visit_id, pk__in=visits_visible_to(user).values("pk"))
        .select_related("workshop", "customer")
        .first()
    )
    if visit is None:
        raise NotFound(_("No such visit."))
    is_staff = user.is_platform_admin or visit.workshop_id in staff_workshop_ids(user)
    if as_role == "customer" and visit.customer_id != user.pk:
        raise NotAllowed(_("Only the customer who asked for this visit can do that."))
    if as_role == "workshop" and not is_staff:
        raise NotAllowed(_("Only the workshop's staff can do that."))
    if as_role == "any" and not (is_staff or visit.customer_id == user.pk):
        raise NotAllowed(_("Only the customer or the workshop can do that."))
    return visit


def _lock(visit_id: int, user: User, *, as_role: str) -> Visit:
    """`_visible`, row-locked, with the workshop share-locked, inside the transaction."""
    visit = _visible(visit_id, user, as_role=as_role, lock=True)
    _share_lock_workshop(visit.workshop_id)
    return visit


def _answer_by(now: datetime, starts_at: datetime, window: timedelta) -> datetime:
    """When an open request or offered time lapses: after the workshop's response window,
    or at the visit's start if that comes first."""
    return min(now + window, starts_at)


def _lapsed_expire(queryset, *, now: datetime) -> int:
    """Expire waiting visits past their answer time (inside the caller's transaction)."""
    lapsed = list(
        queryset.filter(status__in=WAITING_STATUSES, expires_at__lte=now).select_for_update(
            of=("self",)
        )
    )
    for visit in lapsed:
        _unassign(visit, now=now)
        _transition(
            visit,
            V.EXPIRED,
            actor=None,
            action="workshops.visit.expired",
            data={"was": visit.status, "starts_at": visit.starts_at.isoformat()},
        )
    return len(lapsed)


def _next_times(
    visit_or_workshop_id: int, duration: timedelta, after: datetime, *, now: datetime, ignore=()
) -> list[str]:
    slots = availability.visit_slots(
        visit_or_workshop_id, after, after + timedelta(days=14), duration, now=now, ignore=ignore
    )
    return [s.start.isoformat() for s in slots[:5]]


def _time_refusal(
    workshop_id: int, starts_at: datetime, duration: timedelta, *, now: datetime, ignore=()
) -> None:
    """The friendly pre-check: raise what is wrong with `starts_at` as a visit time (past,
    too soon, too far, closed, full) with the next free times; the bay guard decides races."""
    instant_in_range(starts_at, field="start")
    if availability.visit_bookable(workshop_id, starts_at, duration, now=now, ignore=ignore):
        return
    rules = availability.visit_rules(workshop_id)
    nxt = _next_times(workshop_id, duration, max(starts_at, now), now=now, ignore=ignore)
    if starts_at <= now:
        raise Conflict(
            _("That time has already passed; pick another time."),
            code="slot_in_past",
            next_free_slots=nxt,
        )
    if starts_at < now + rules.min_notice:
        hours = rules.min_notice / timedelta(hours=1)
        raise SlotUnavailable(
            _("This workshop needs %(hours)s hours' notice; pick a later time.")
            % {"hours": format(hours, "g")},
            code="too_soon",
            next_free_slots=nxt,
        )
    if starts_at > now + rules.max_advance:
        raise SlotUnavailable(
            _("This workshop takes bookings up to %(rules_max_advance_days)s days ahead.")
            % {"rules_max_advance_days": rules.max_advance.days},
            code="too_far_ahead",
            next_free_slots=nxt,
        )
    raise SlotUnavailable(
        _(
            "The workshop has no free bay for the whole visit at that time (or is closed). Pick one of the listed times."
        ),
        next_free_slots=nxt,
    )


def _free_bays(visit: Visit, *, now: datetime) -> list[int]:
    used = set(
        Visit.objects.filter(
            workshop_id=visit.workshop_id,
            status__in=HOLDING_STATUSES,
            starts_at__lt=visit.ends_at,
            ends_at__gt=visit.starts_at,
        )
        .exclude(pk=visit.pk)
        .values_list("bay", flat=True)
    )
    bays = visit.workshop.max_concurrent_appointments
    return [bay for bay in range(1, bays + 1) if bay not in used]


class _BayRace(Exception):
    """Internal: the bay guard refused; rolls the transaction back."""


def _place(visit: Visit, *, now: datetime, bay: int | None = None) -> None:
    """Save `visit` in a bay free for all of [starts_at, ends_at): `bay` if given (the
    workshop's choice), else the lowest free one. Lapsed requests in the way expire
    first. If a concurrent transaction took the bay (the guard refuses), try the next
    free bay; none left -> _BayRace. Precondition: inside the transaction, workshop
    share-locked."""
    _lapsed_expire(
        Visit.objects.filter(
            workshop_id=visit.workshop_id, starts_at__lt=visit.ends_at, ends_at__gt=visit.starts_at
        ).exclude(pk=visit.pk),
        now=now,
    )
    bays = visit.workshop.max_concurrent_appointments
    if bay is not None and not 1 <= bay <= bays:
        raise InvalidInput(_("This workshop has bays 1 to %(bays)s.") % {"bays": bays}, field="bay")
    for _attempt in range(bays):
        free = _free_bays(visit, now=now)
        if bay is not None:
            if bay not in free:
                raise SlotUnavailable(
                    _("Bay %(bay)s is taken at that time.") % {"bay": bay},
                    code="bay_taken",
                    free_bays=free,
                )
            choice = bay
        elif not free:
            raise _BayRace
        else:
            choice = free[0]
        visit.bay = choice
        try:
            with transaction.atomic():
                visit.save()
            return
        except IntegrityError as exc:
            if BAY_GUARD not in str(exc):
                raise
            if bay is not None:
                raise SlotUnavailable(
                    _("Bay %(bay)s was just taken.") % {"bay": bay}, code="bay_taken"
                ) from exc
    raise _BayRace


def _unassign(visit: Visit, *, now: datetime) -> None:
    if visit.mechanic_reservation_id:
        reservation_unpin(visit.mechanic_reservation, now=now)
        visit.mechanic_reservation = None


def _assign(visit: Visit, mechanic_id: int | None, *, now: datetime) -> None:
    """Give the visit to one of the workshop's own approved mechanics (or nobody): their
    time is pinned through the per-mechanic overlap guard, and must be free in their own
    availability (workshop hours, time off, other bookings)."""
    _unassign(visit, now=now)
    if mechanic_id is None:
        visit.assigned_mechanic = None
        return
    mechanic = (
        MechanicProfile.objects.approved()
        .filter(pk=mechanic_id, workshop_id=visit.workshop_id)
        .select_related("user")
        .first()
    )
    if mechanic is None:
        raise InvalidInput(_("Choose one of this workshop's own mechanics."), field="mechanic_id")
    free = availability.free_intervals(mechanic, visit.starts_at, visit.ends_at, now=now)
    if not any(iv.start <= visit.starts_at and visit.ends_at <= iv.end for iv in free):
        raise SlotUnavailable(
            _(
                "%(mechanic)s is not free for all of this visit (hours, time off or another booking)."
            )
            % {"mechanic": mechanic},
            code="mechanic_busy",
            mechanic_id=mechanic.pk,
        )
    visit.assigned_mechanic = mechanic
    visit.mechanic_reservation = reservation_pin_for_visit(
        mechanic=mechanic, starts_at=visit.starts_at, ends_at=visit.ends_at, now=now
    )


def _run(work: Callable[[], Visit], *, full: Callable[[], SlotUnavailable]) -> Visit:
    try:
        return run_booking_transaction(work)
    except _BayRace:
        raise full() from None


def _full(workshop_id: int, duration: timedelta, starts_at: datetime, now: datetime, ignore=()):
    return lambda: SlotUnavailable(
        _("That time was just taken: every bay is booked then. Pick another time."),
        next_free_slots=_next_times(
            workshop_id, duration, max(starts_at, now), now=now, ignore=ignore
        ),
    )


def _text(value: str, *, field: str, label: str, limit: int) -> str:
    text = (value or "").strip()
    if len(text) > limit:
        raise InvalidInput(
            _("The %(label)s is longer than %(limit)s characters.")
            % {"label": label, "limit": limit},
            field=field,
        )
    return text


def _aware(value: datetime, field: str = "start") -> datetime:
    if timezone.is_naive(value):
        raise InvalidInput(
            _("The time needs a time zone (e.g. 2026-12-01T15:00:00Z)."), field=field
        )
    return value


# --------------------------------------------------------------------------- customer


@dataclass(frozen=True)
class VisitRequest:
    workshop_id: int
    starts_at: datetime
    mode: str = VisitMode.DROP_OFF
    notes: str = ""


def visit_plan_for_session(session: Session, workshop_id: int) -> tuple[str, int]:
    """(service type, minutes) a visit following `session` is booked for at the workshop:
    the diagnosis's recommended work and labour estimate when there is one."""
    diagnosis = diagnosis_of(session)
    service_type = getattr(diagnosis, "service_type", "") or ServiceType.DIAGNOSTIC
    estimate = getattr(diagnosis, "estimated_labour_minutes", None)
    rules = availability.visit_rules(workshop_id)
    return service_type, rules.minutes_for(service_type, estimate)


def visit_request_from_session(
    *, customer: User, session_id: int, request: VisitRequest, now: datetime | None = None
) -> Visit:
    """The customer asks a workshop for an in-person visit after a completed session
    (plan Phase 3 `POST /api/workshop/appointments/from-session`). Vehicle, concern and
    the diagnosis come from the session. The visit holds a bay until the workshop answers
    (its response window, default 24 h) or the start, whichever is first."""
    now = now or timezone.now()
    starts_at = _aware(request.starts_at)
    if request.mode not in VisitMode.values:
        raise InvalidInput(_("Choose drop-off or wait on site."), field="mode")
    notes = _text(request.notes, field="notes", label=_("note"), limit=NOTES_MAX)
    session = Session.objects.filter(pk=session_id, customer=customer).first()
    if session is None:
        raise NotFound(_("No such session."))
    if session.status != SessionStatus.COMPLETED:
        raise Conflict(
            _("An in-person visit can be booked once the remote session is completed."),
            code="session_not_completed",
            current_status=session.status,
        )
    workshop = Workshop.objects.filter(pk=request.workshop_id).first()
    if workshop is None:
        raise NotFound(_("No such workshop."))
    service_type, minutes = visit_plan_for_session(session, workshop.pk)
    duration = timedelta(minutes=minutes)
    _time_refusal(workshop.pk, starts_at, duration, now=now)
    rules = availability.visit_rules(workshop.pk)

    def work() -> Visit:
        _share_lock_workshop(workshop.pk)
        if Visit.objects.filter(session=session, status__in=HOLDING_STATUSES).exists():
            raise Conflict(
                _("You already have an open visit for this session; change or cancel it instead."),
                code="visit_exists",
            )
        visit = Visit(
            workshop=workshop,
            customer=customer,
            session=session,
            vehicle_id=session.vehicle_id,
            vehicle_label=session.vehicle_label,
            concern=session.concern[:NOTES_MAX],
            service_type=service_type,
            duration_minutes=minutes,
            starts_at=starts_at,
            ends_at=starts_at + duration,
            bay=1,
            status=V.REQUESTED,
            expires_at=_answer_by(now, starts_at, rules.response_window),
            mode=request.mode,
            customer_notes=notes,
        )
        _place(visit, now=now)
        visit_event_record(
            visit=visit,
            action="workshops.visit.requested",
            actor=customer,
            data={"starts_at": starts_at.isoformat(), "expires_at": visit.expires_at.isoformat()},
        )
        return visit

    try:
        visit = _run(work, full=_full(workshop.pk, duration, starts_at, now))
    except IntegrityError as exc:
        if "visit_one_open_per_session" in str(exc):
            raise Conflict(
                _("You already have an open visit for this session; change or cancel it instead."),
                code="visit_exists",
            ) from exc
        raise
    log.info("workshops.visit.requested visit=%s workshop=%s", visit.pk, workshop.pk)
    return visit


def visit_counter_accept(*, customer: User, visit_id: int, now: datetime | None = None) -> Visit:
    """The customer takes the other time the workshop offered: the visit is confirmed."""
    now = now or timezone.now()

    def work() -> Visit:
        visit = _lock(visit_id, customer, as_role="customer")
        _still_open(visit, V.COUNTERED, now=now, who="offer")
        visit.confirmed_at = now
        _transition(visit, V.CONFIRMED, actor=customer, action="workshops.visit.counter_accepted")
        return visit

    return run_booking_transaction(work)


def visit_counter_decline(*, customer: User, visit_id: int, now: datetime | None = None) -> Visit:
    now = now or timezone.now()

    def work() -> Visit:
        visit = _lock(visit_id, customer, as_role="customer")
        if visit.status != V.COUNTERED:
            raise _not_now(visit, _("decline an offered time"))
        visit.cancelled_by = "customer"
        _unassign(visit, now=now)
        _transition(visit, V.CANCELLED, actor=customer, action="workshops.visit.counter_declined")
        return visit

    return run_booking_transaction(work)


def _still_open(visit: Visit, status: str, *, now: datetime, who: str) -> None:
    """Precondition for answering a waiting visit: in `status` and not lapsed."""
    if visit.status != status:
        raise _not_now(visit, _("answer it"))
    if visit.expires_at is not None and visit.expires_at <= now:
        when = visit.expires_at.isoformat()
        raise InvalidTransition(
            (
                _("This offer lapsed at %(when)s and the time was freed.")
                if who == "offer"
                else _("This request lapsed at %(when)s and the time was freed.")
            )
            % {"when": when},
            code="visit_lapsed",
            current_status=V.EXPIRED,
            expired_at=when,
        )


def _not_now(visit: Visit, what: str) -> InvalidTransition:
    return InvalidTransition(
        _("This visit is %(visit_get_status_display_lower)s; you cannot %(what)s now.")
        % {"visit_get_status_display_lower": visit.get_status_display().lower(), "what": what},
        current_status=visit.status,
    )


# --------------------------------------------------------------------------- both sides


def visit_cancel(
    *, user: User, visit_id: int, reason: str = "", now: datetime | None = None
) -> Visit:
    """The customer or the workshop cancels a visit that has not started. No money moves:
    in-person work is paid at the workshop (docs/workshops.md)."""
    now = now or timezone.now()
    reason = _text(reason, field="reason", label=_("reason"), limit=REASON_MAX)

    def work() -> Visit:
        visit = _lock(visit_id, user, as_role="any")
        role = "customer" if visit.customer_id == user.pk else "workshop"
        if visit.status == V.CONFIRMED and visit.starts_at <= now:
            raise InvalidTransition(
                _("This visit has started; the workshop marks it checked in or a no-show."),
                current_status=visit.status,
            )
        visit.cancelled_by = role
        visit.decline_reason = reason
        _unassign(visit, now=now)
        _transition(
            visit,
            V.CANCELLED,
            actor=user,
            action="workshops.visit.cancelled",
            data={"by": role, "reason": reason},
        )
        return visit

    return run_booking_transaction(work)


def visit_reschedule(
    *, user: User, visit_id: int, starts_at: datetime, now: datetime | None = None
) -> Visit:
    """Move a visit. The workshop moves a confirmed visit and it stays confirmed (the
    customer is told; its calendar SEQUENCE rises). The customer moves a request, or asks
    to move a confirmed visit: either way it becomes a request at the new time, waiting
    for the workshop, and the old time is freed."""
    now = now or timezone.now()
    starts_at = _aware(starts_at)
    visit = _visible(visit_id, user, as_role="any")
    duration = timedelta(minutes=visit.duration_minutes)
    _time_refusal(visit.workshop_id, starts_at, duration, now=now, ignore={visit.pk})

    def work() -> Visit:
        visit = _lock(visit_id, user, as_role="any")
        by_customer = visit.customer_id == user.pk
        allowed = (V.REQUESTED, V.CONFIRMED) if by_customer else (V.CONFIRMED,)
        if visit.status not in allowed:
            raise _not_now(visit, _("move it"))
        previous = visit.starts_at
        visit.starts_at, visit.ends_at = starts_at, starts_at + duration
        visit.sequence += 1
        _place(visit, now=now)
        mechanic_id = visit.assigned_mechanic_id
        if by_customer:
            _assign(visit, None, now=now)
            rules = availability.visit_rules(visit.workshop_id)
            visit.expires_at = _answer_by(now, starts_at, rules.response_window)
            to = V.REQUESTED
        else:
            _assign(visit, mechanic_id, now=now)
            to = V.CONFIRMED
        _transition(
            visit,
            to,
            actor=user,
            action="workshops.visit.rescheduled",
            data={
                "from_time": previous.isoformat(),
                "starts_at": starts_at.isoformat(),
                "by": "customer" if by_customer else "workshop",
            },
        )
        return visit

    return _run(work, full=_full(visit.workshop_id, duration, starts_at, now, ignore={visit.pk}))


# --------------------------------------------------------------------------- workshop


def visit_confirm(
    *,
    user: User,
    visit_id: int,
    mechanic_id: int | None = None,
    bay: int | None = None,
    now: datetime | None = None,
) -> Visit:
    """The workshop accepts a request (plan `PUT /api/workshop/appointments/{id}/
    confirm`), optionally assigning one of its mechanics and a bay."""
    now = now or timezone.now()

    def work() -> Visit:
        visit = _lock(visit_id, user, as_role="workshop")
        _still_open(visit, V.REQUESTED, now=now, who="request")
        if bay is not None and bay != visit.bay:
            _place(visit, now=now, bay=bay)
        if mechanic_id is not None:
            _assign(visit, mechanic_id, now=now)
        visit.confirmed_at = now
        _transition(
            visit,
            V.CONFIRMED,
            actor=user,
            action="workshops.visit.confirmed",
            data={"mechanic_id": visit.assigned_mechanic_id, "bay": visit.bay},
        )
        return visit

    return run_booking_transaction(work)


def visit_counter(
    *,
    user: User,
    visit_id: int,
    starts_at: datetime,
    reason: str = "",
    now: datetime | None = None,
) -> Visit:
    """The workshop offers another time for a request. The visit moves there (holding a
    bay) and waits for the customer, who accepts or declines within the response window."""
    now = now or timezone.now()
    starts_at = _aware(starts_at)
    reason = _text(reason, field="reason", label=_("reason"), limit=REASON_MAX)
    visit = _visible(visit_id, user, as_role="workshop")
    duration = timedelta(minutes=visit.duration_minutes)
    _time_refusal(visit.workshop_id, starts_at, duration, now=now, ignore={visit.pk})

    def work() -> Visit:
        visit = _lock(visit_id, user, as_role="workshop")
        _still_open(visit, V.REQUESTED, now=now, who="request")
        rules = availability.visit_rules(visit.workshop_id)
        visit.requested_starts_at = visit.starts_at
        visit.starts_at, visit.ends_at = starts_at, starts_at + duration
        visit.counter_reason = reason
        visit.expires_at = _answer_by(now, starts_at, rules.response_window)
        visit.sequence += 1
        _place(visit, now=now)
        _transition(
            visit,
            V.COUNTERED,
            actor=user,
            action="workshops.visit.countered",
            data={
                "from_time": visit.requested_starts_at.isoformat(),
                "starts_at": starts_at.isoformat(),
                "reason": reason,
            },
        )
        return visit

    return _run(work, full=_full(visit.workshop_id, duration, starts_at, now, ignore={visit.pk}))


def visit_decline(*, user: User, visit_id: int, reason: str, now: datetime | None = None) -> Visit:
    now = now or timezone.now()
    reason = _text(reason, field="reason", label=_("reason"), limit=REASON_MAX)
    if not reason:
        raise InvalidInput(
            _("Say why you decline, so the customer knows what to do."), field="reason"
        )

    def work() -> Visit:
        visit = _lock(visit_id, user, as_role="workshop")
        if visit.status != V.REQUESTED:
            raise _not_now(visit, _("decline it"))
        visit.decline_reason = reason
        _transition(
            visit,
            V.DECLINED,
            actor=user,
            action="workshops.visit.declined",
            data={"reason": reason},
        )
        return visit

    return run_booking_transaction(work)


def visit_assign(
    *,
    user: User,
    visit_id: int,
    mechanic_id: int | None,
    bay: int | None = None,
    now: datetime | None = None,
) -> Visit:
    """Change who works on a confirmed visit, and optionally its bay."""
    now = now or timezone.now()

    def work() -> Visit:
        visit = _lock(visit_id, user, as_role="workshop")
        if visit.status not in (V.REQUESTED, V.CONFIRMED, V.CHECKED_IN):
            raise _not_now(visit, _("assign it"))
        if bay is not None and bay != visit.bay:
            _place(visit, now=now, bay=bay)
        previous = visit.assigned_mechanic_id
        _assign(visit, mechanic_id, now=now)
        visit.save()
        visit_event_record(
            visit=visit,
            action="workshops.visit.assigned",
            actor=user,
            data={"mechanic_id": mechanic_id, "previous_mechanic_id": previous, "bay": visit.bay},
        )
        return visit

    return run_booking_transaction(work)


def visit_check_in(*, user: User, visit_id: int, now: datetime | None = None) -> Visit:
    now = now or timezone.now()

    def work() -> Visit:
        visit = _lock(visit_id, user, as_role="workshop")
        if visit.status == V.CONFIRMED and now < visit.starts_at - timedelta(hours=12):
            raise InvalidTransition(
                _("Check in on the day of the visit."), current_status=visit.status
            )
        _transition(visit, V.CHECKED_IN, actor=user, action="workshops.visit.checked_in")
        return visit

    return run_booking_transaction(work)


def visit_complete(
    *, user: User, visit_id: int, notes: str = "", now: datetime | None = None
) -> Visit:
    now = now or timezone.now()
    notes = _text(notes, field="notes", label=_("final notes"), limit=NOTES_MAX)

    def work() -> Visit:
        visit = _lock(visit_id, user, as_role="workshop")
        visit.workshop_notes = notes
        visit.completed_at = now
        _transition(visit, V.COMPLETED, actor=user, action="workshops.visit.completed")
        return visit

    return run_booking_transaction(work)


def visit_no_show(*, user: User, visit_id: int, now: datetime | None = None) -> Visit:
    now = now or timezone.now()

    def work() -> Visit:
        visit = _lock(visit_id, user, as_role="workshop")
        if visit.status == V.CONFIRMED and now < visit.starts_at + NO_SHOW_AFTER:
            raise InvalidTransition(
                _("A visit can be marked a no-show 15 minutes after its start."),
                current_status=visit.status,
            )
        _unassign(visit, now=now)
        _transition(visit, V.NO_SHOW, actor=user, action="workshops.visit.no_show")
        return visit

    return run_booking_transaction(work)


# --------------------------------------------------------------------------- system


def visits_expire(*, now: datetime | None = None) -> int:
    """The periodic job: requests and offered times nobody answered in time lapse, their
    bays free and the customer is told. Idempotent; booking never depends on it (a
    lapsed visit stops holding its bay at expires_at by itself)."""
    now = now or timezone.now()
    return run_booking_transaction(
        lambda: _lapsed_expire(
            Visit.objects.filter(status__in=WAITING_STATUSES, expires_at__lte=now), now=now
        )
    )


def workshop_bays_change(*, workshop: Workshop, bays: int, now: datetime) -> None:
    """Refuse fewer bays than visits booked at once: visits in the bays that would go are
    moved to a free lower bay where one is free for their whole time; if any cannot be,
    nothing changes and the error names them. Precondition: inside the transaction, the
    workshop row locked for update (accounts.workshops.workshop_update)."""
    current = workshop.max_concurrent_appointments
    if bays >= current:
        return
    from .selectors import holding_visits

    upcoming = list(
        holding_visits(now=now)
        .filter(workshop=workshop, ends_at__gt=now)
        .select_for_update(of=("self",))
        .order_by("starts_at", "pk")
    )
    stuck = []
    for visit in (v for v in upcoming if v.bay > bays):
        taken = {
            other.bay
            for other in upcoming
            if other.pk != visit.pk
            and other.starts_at < visit.ends_at
            and visit.starts_at < other.ends_at
        }
        free = [bay for bay in range(1, bays + 1) if bay not in taken]
        if not free:
            stuck.append(visit)
            continue
        visit.bay = free[0]
        visit.save(update_fields=["bay", "updated_at"])
    if stuck:
        names = ", ".join(f"#{v.pk} ({v.starts_at:%Y-%m-%d %H:%M} UTC)" for v in stuck[:5])
        raise Conflict(
            _(
                "%(len_stuck)s booked visit(s) need more than %(bays)s bays at once: %(names)s. Move or cancel them first."
            )
            % {"len_stuck": len(stuck), "bays": bays, "names": names},
            code="bays_in_use",
            field="bays",
            visits=[v.pk for v in stuck],
        )
