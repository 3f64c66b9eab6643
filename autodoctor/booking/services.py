"""Booking writes: intake, holds, confirmation, offers, start/end, reschedule, cancel.

The guarantee against double booking is the database constraint on Reservation
(migration 0002); the availability checks here exist only for a friendly message.
Every write runs in one transaction; a racing loser gets SlotUnavailable (409)
with the next free slots, never a 500.
"""

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from autodoctor.accounts.models import MechanicProfile, User, Vehicle
from autodoctor.accounts.registration import require_verified_email
from autodoctor.availability.plans import PLAN_MINUTES
from autodoctor.availability.service import SlotCheck
from autodoctor.dates import db_instant, instant_in_range
from autodoctor.errors import (
    Busy,
    Conflict,
    DomainError,
    InvalidInput,
    NotAllowed,
    NotFound,
    SlotUnavailable,
    database_busy,
)

from . import attachments
from .events import session_event_record
from .matching import match_criteria, mechanics_ranked
from .models import (
    ACTIVE_RESERVATION_STATUSES,
    BRAND_MAX,
    CONCERN_MAX,
    VEHICLE_LABEL_MAX,
    Offer,
    OfferKind,
    OfferStatus,
    Plan,
    Reservation,
    ReservationStatus,
    Session,
    SessionStatus,
    SessionType,
    status_in_words,
)
from .selectors import mechanic_buffers, offer_deadline, plain_rows, request_past_deadline
from .state import session_transition

log = logging.getLogger("autodoctor.booking")

OVERLAP_CONSTRAINT = "reservation_no_overlap"
# plan §13.1: both parties may join (and so start) a scheduled session 15 minutes early.
EARLY_START = timedelta(minutes=15)
START_GRACE = timedelta(minutes=15)  # not started this long after its start: a no-show
TARGETED_OFFERS = 3


# --------------------------------------------------------------------------- helpers


def _mechanic_buffer(mechanic: MechanicProfile | int) -> timedelta:
    pk = _mechanic_pk(mechanic)
    return mechanic_buffers([pk])[pk]


def _profile(mechanic: MechanicProfile | int) -> MechanicProfile:
    """The profile (with its user, whose name messages give) of a mechanic given by
    profile or id: the hold path carries the id and fetches the profile only to word a
    refusal."""
    if isinstance(mechanic, MechanicProfile):
        return mechanic
    return MechanicProfile.objects.select_related("user").get(pk=mechanic)


def _mechanic_pk(mechanic: MechanicProfile | int) -> int:
    return mechanic if isinstance(mechanic, int) else mechanic.pk


def _mechanic_fields(mechanic: MechanicProfile | int) -> dict[str, object]:
    """A new row's mechanic: the profile when the caller has it (cached on the row for
    what reads it next), else the id alone."""
    if isinstance(mechanic, int):
        return {"mechanic_id": mechanic}
    return {"mechanic": mechanic}


def _is_overlap_violation(exc: IntegrityError) -> bool:
    return OVERLAP_CONSTRAINT in str(exc)


def run_booking_transaction[T](work: Callable[[], T], *, attempts: int = 3) -> T:
    """Run `work` in a durable transaction, retrying deadlocks / lock timeouts.

    PostgreSQL may report a deadlock (40P01) between racing inserts into the
    exclusion-constrained table; SQLite may stay locked past its busy timeout.
    Both are retried a couple of times, then answered "busy, try again".
    """
    for attempt in range(1, attempts + 1):
        try:
            with transaction.atomic(durable=True):
                return work()
        except OperationalError as exc:
            if not database_busy(exc) or attempt == attempts:
                if database_busy(exc):
                    raise Busy(_("The schedule is busy right now; please try again.")) from exc
                raise
            time.sleep(0.02 * attempt)
    raise AssertionError("unreachable")


def _slot_taken(
    mechanic: MechanicProfile,
    starts_at: datetime,
    minutes: int,
    *,
    now: datetime,
    message: str = "",
    code: str = SlotUnavailable.code,
    status: int | None = None,
) -> SlotUnavailable:
    """SlotUnavailable with the mechanic's next free slots after ``starts_at``."""
    return SlotUnavailable(
        message or _("That slot was just taken. Pick another time."),
        code=code,
        status=status,
        next_free_slots=_next_free_slots(mechanic, starts_at, minutes, now=now),
        mechanic_id=mechanic.pk,
    )


def _next_free_slots(
    mechanic: MechanicProfile, after: datetime, minutes: int, *, now: datetime
) -> list[str]:
    """The mechanic's next five free starts (ISO) within a week after ``after``: the other
    free times a refused or closed booking offers the customer."""
    from autodoctor.availability import service as availability

    after = max(after, now)
    slots = availability.available_slots(
        mechanic, after, after + timedelta(days=7), timedelta(minutes=minutes), now=now
    )
    return [s.start.isoformat() for s in slots[:5]]


def _slot_refusal(
    mechanic: MechanicProfile | int,
    starts_at: datetime,
    minutes: int,
    *,
    now: datetime,
    ignore_busy: frozenset = frozenset(),
    approved_only: bool = False,
) -> SlotCheck:
    """Raise the error that says what is really wrong with ``starts_at`` as a booking
    with ``mechanic``, or return what the check read (the mechanic's booking rules and
    time zone) if it is one of their bookable slots (on their slot grid, in free time,
    inside notice and advance). The friendly pre-check before a hold or a move: one load
    of that interval's rows, no slot list, and the profile fetched only to word a
    refusal; the database guard still decides races. ``approved_only``: NotFound for a
    mechanic the public may not book (in the same load)."""
    from autodoctor.availability import service as availability

    instant_in_range(starts_at, field="start")
    duration = timedelta(minutes=minutes)
    check = availability.slot_offered(
        mechanic, starts_at, duration, now=now, ignore_busy=ignore_busy, approved_only=approved_only
    )
    if check.offered:
        return check
    rules = check.rules
    mechanic = _profile(mechanic)
    if starts_at <= now:
        raise Conflict(_("That time has already passed; pick another time."), code="slot_in_past")
    if starts_at < now + rules.min_notice:
        hours = rules.min_notice / timedelta(hours=1)
        raise _slot_taken(
            mechanic,
            starts_at,
            minutes,
            now=now,
            message=_("%(user)s needs %(hours)s h notice; pick a later time.")
            % {"user": mechanic.user, "hours": format(hours, "g")},
            code="notice_too_short",
        )
    if starts_at > now + rules.max_advance:
        raise InvalidInput(
            _("%(user)s takes bookings at most %(days)s days ahead.")
            % {"user": mechanic.user, "days": rules.max_advance.days},
            field="start",
            code="beyond_booking_window",
        )
    ends_at = starts_at + duration
    if availability.is_available(mechanic, starts_at, ends_at, now=now, ignore_busy=ignore_busy):
        step = rules.slot_step // timedelta(minutes=1)
        raise _slot_taken(
            mechanic,
            starts_at,
            minutes,
            now=now,
            message=_(
                "Slots with %(user)s start every %(step)s minutes; pick one of the listed times."
            )
            % {"user": mechanic.user, "step": step},
            code="off_grid",
            status=422,
        )
    blocked_by_booking = Reservation.objects.filter(
        mechanic=mechanic,
        status__in=ACTIVE_RESERVATION_STATUSES,
        starts_at__lt=ends_at + rules.buffer,
        blocked_until__gt=starts_at - rules.buffer,
    ).exclude(status=ReservationStatus.RESERVED, expires_at__lte=now)
    if ignore_busy:
        blocked_by_booking = blocked_by_booking.exclude(
            pk__in=[key[1] for key in ignore_busy if key[0] == "reservation"]
        )
    if blocked_by_booking.exists():
        raise _slot_taken(mechanic, starts_at, minutes, now=now)
    raise _slot_taken(
        mechanic,
        starts_at,
        minutes,
        now=now,
        message=_("%(user)s is not available then (outside their hours or time off).")
        % {"user": mechanic.user},
        code="not_available",
    )


def _lock_customer(customer: User) -> None:
    """Take the customer's row lock: racing requests of one customer queue here, so
    their counts and inserts are one step. Precondition: inside the booking transaction.
    On SQLite that transaction began IMMEDIATE and already holds the database's one write
    lock, so there is nothing more to take.
    NO KEY UPDATE, not UPDATE: it queues the customer's own requests just the same, but
    does not block the key-share lock a row referencing the customer takes (a hold-expired
    notification written by another transaction that is expiring this customer's hold
    while it waits for a lock this one holds: with FOR UPDATE the two deadlocked)."""
    if connection.vendor == "sqlite":
        return
    plain_rows(
        f"SELECT id FROM {User._meta.db_table} WHERE id = %s FOR NO KEY UPDATE", [customer.pk]
    )


# A customer's live holds, read from the customer's sessions outwards, each session's
# reservations by the session index. Left to the planner, PostgreSQL scanned every live
# hold on the platform for this customer's few whenever its statistics predated a burst
# of holds -- the moment holds are many -- so each hold cost time linear in everyone's
# holds (4.9 ms at 3,200 live holds, and the 8-process bench fell from 139 to 32 holds/s).
# The order is fixed, not left to statistics: on PostgreSQL a LATERAL subquery that
# OFFSET 0 keeps whole (not flattened into a join, no filter pushed into it, so its one
# usable index is session_id); on SQLite CROSS JOIN fixes the outer loop and a unary +
# keeps status and expiry from choosing an index (both documented for that purpose).
# Parameters: customer, status, now, limit.
_CUSTOMER_LIVE_HOLDS = {
    False: (
        f"SELECT r.mechanic_id, r.starts_at FROM {Session._meta.db_table} s"
        f" CROSS JOIN {Reservation._meta.db_table} r ON r.session_id = s.id"
        " WHERE s.customer_id = %s AND +r.status = %s AND +r.expires_at > %s LIMIT %s"
    ),
    True: (
        f"SELECT r.mechanic_id, r.starts_at FROM {Session._meta.db_table} s"
        " CROSS JOIN LATERAL (SELECT mechanic_id, starts_at, status, expires_at"
        f" FROM {Reservation._meta.db_table} WHERE session_id = s.id OFFSET 0) r"
        " WHERE s.customer_id = %s AND r.status = %s AND r.expires_at > %s LIMIT %s"
    ),
}


def _holds_limit(
    customer: User, mechanic_id: int, zone: str, starts_at: datetime, *, now: datetime
) -> None:
    """Refuse a hold past the customer's limits: holds cost nothing, so without a cap one
    script could keep a mechanic's whole week held (HOLDS_PER_CUSTOMER at once, of which
    HOLDS_PER_CUSTOMER_MECHANIC_DAY on one mechanic's local day).
    Precondition: inside the booking transaction; the customer's row lock taken here
    makes the count and the insert one step for racing requests of that customer.
    One lock and one read of the customer's live holds (at most HOLDS_PER_CUSTOMER
    rows: the cap itself keeps it short). ``zone``: the mechanic's time zone (their day)."""
    _lock_customer(customer)
    active = [
        (mechanic_id, db_instant(start))
        for mechanic_id, start in plain_rows(
            _CUSTOMER_LIVE_HOLDS[connection.vendor == "postgresql"],
            [customer.pk, ReservationStatus.RESERVED, now, settings.HOLDS_PER_CUSTOMER],
        )
    ]
    if len(active) >= settings.HOLDS_PER_CUSTOMER:
        raise DomainError(
            _(
                "You are already holding %(holds_per_customer)s slots. Finish or release one (My sessions) before holding another."
            )
            % {"holds_per_customer": settings.HOLDS_PER_CUSTOMER},
            code="hold_limit",
            status=429,
        )
    local = ZoneInfo(zone)
    local_day = starts_at.astimezone(local).date()
    same_day = [
        start
        for held_with, start in active
        if held_with == mechanic_id and start.astimezone(local).date() == local_day
    ]
    if len(same_day) >= settings.HOLDS_PER_CUSTOMER_MECHANIC_DAY:
        raise DomainError(
            _(
                "You are already holding %(count)s slots with %(user)s that day. Release one before holding another."
            )
            % {"count": len(same_day), "user": _profile(mechanic_id).user},
            code="hold_limit",
            status=429,
        )


def _open_start_now_limit(customer: User) -> None:
    """plan §1.3 "active session" check for start-now: a customer with
    START_NOW_WAITING_PER_CUSTOMER (1) requests out to mechanics (paid, waiting) cannot
    send another, and may keep at most START_NOW_UNPAID_PER_CUSTOMER unpaid ones (they
    expire on their own), so nobody can fan out offers and notifications to every mechanic.
    Precondition: inside the booking transaction (locks the customer row, NO KEY UPDATE as
    in _lock_customer)."""
    User.objects.select_for_update(no_key=True).filter(pk=customer.pk).first()
    open_requests = Session.objects.filter(
        customer=customer, scheduled_for__isnull=True, status=SessionStatus.PENDING
    ).order_by("-pk")
    out = list(
        open_requests.filter(offered_at__isnull=False)[: settings.START_NOW_WAITING_PER_CUSTOMER]
    )
    if len(out) >= settings.START_NOW_WAITING_PER_CUSTOMER:
        waiting = out[0]
        raise Conflict(
            _(
                "Your request #%(pk)s is already out to mechanics; wait for one to accept it, or cancel it first."
            )
            % {"pk": waiting.pk},
            code="active_request",
            session_id=waiting.pk,
        )
    if (
        open_requests.filter(offered_at__isnull=True).count()
        >= settings.START_NOW_UNPAID_PER_CUSTOMER
    ):
        raise DomainError(
            _(
                "You have %(start_now_unpaid_per_customer)s unpaid start-now requests; pay for or cancel one of them (My sessions) first."
            )
            % {"start_now_unpaid_per_customer": settings.START_NOW_UNPAID_PER_CUSTOMER},
            code="request_limit",
            status=429,
        )


def active_session_refusal(
    customer: User,
    *,
    exclude: int | None = None,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    customer_locked: bool = False,
) -> None:
    """plan §1.3 "active session" check: one customer, one session at a time. Without a
    range: refuse (409 `active_session`, naming it) while another of the customer's
    sessions is live or waiting (a start-now request a mechanic took). With a range (a
    booking): refuse when another booked session of theirs overlaps it.
    Precondition: inside the booking transaction (locks the customer row, so two starts
    or bookings of one customer cannot both pass; ``customer_locked``: the caller already
    holds that lock in this transaction)."""
    if not customer_locked:
        _lock_customer(customer)
    allowed = settings.ACTIVE_SESSIONS_PER_CUSTOMER
    if starts_at is None or ends_at is None:
        live = (SessionStatus.LIVE, SessionStatus.WAITING)
        condition, params = "status IN (%s, %s)", list(live)
    else:
        # another booked (confirmed) session of theirs overlapping the range, not over
        condition = (
            "status NOT IN (%s, %s) AND id IN (SELECT session_id FROM"
            f" {Reservation._meta.db_table} WHERE status = %s AND starts_at < %s"
            " AND ends_at > %s AND session_id IS NOT NULL)"
        )
        params = [SessionStatus.COMPLETED, SessionStatus.CANCELLED]
        params += [ReservationStatus.CONFIRMED, ends_at, starts_at]
    found = plain_rows(
        f"SELECT id, status FROM {Session._meta.db_table} WHERE customer_id = %s"
        f" AND id <> %s AND {condition} ORDER BY id LIMIT %s",
        [customer.pk, -1 if exclude is None else exclude, *params, allowed],
    )
    if len(found) >= allowed:
        other_pk, other_status = found[0]
        raise Conflict(
            _(
                "You already have session #%(pk)s (%(status)s) at that time; finish or cancel it first."
            )
            % {"pk": other_pk, "status": status_in_words(other_status)},
            code="active_session",
            session_id=other_pk,
            session_status=other_status,
        )


def _expire_stale_holds(
    *, mechanic_id: int, starts_at: datetime, blocked_until: datetime, now: datetime
) -> int:
    """Expire holds past their expiry that overlap the range, inside the caller's
    transaction (invariant 4: an expired hold never blocks, sweeper or not); how many.
    A plain-SQL look first: almost always there is none, and the locking ORM query
    (rows, their sessions, events) is then not built."""
    if not plain_rows(
        f"SELECT 1 FROM {Reservation._meta.db_table} WHERE mechanic_id = %s AND status = %s"
        " AND expires_at <= %s AND starts_at < %s AND blocked_until > %s LIMIT 1",
        [mechanic_id, ReservationStatus.RESERVED, now, blocked_until, starts_at],
    ):
        return 0
    stale = Reservation.objects.filter(
        mechanic_id=mechanic_id,
        status=ReservationStatus.RESERVED,
        expires_at__lte=now,
        starts_at__lt=blocked_until,
        blocked_until__gt=starts_at,
    )
    return holds_expire(stale, now=now)


def _reservation_insert(
    *,
    mechanic: MechanicProfile | int,
    session: Session | None,
    starts_at: datetime,
    ends_at: datetime,
    now: datetime,
    status: str,
    expires_at: datetime | None = None,
    buffer: timedelta | None = None,
    savepoint: bool = True,
) -> Reservation:
    """Pin [starts_at, ends_at + buffer) for the mechanic — the one place reservations
    are inserted. Stale holds in the way are expired first (invariant 4); if the overlap
    guard still refuses, raise _SlotRace so the caller's transaction rolls back.
    ``buffer``: the mechanic's buffer when the caller has just read it (else read here).
    ``savepoint=False``: the caller rolls its whole transaction back on _SlotRace (a
    hold), so the insert needs no savepoint of its own (two statements fewer a hold).
    Expiring before inserting (not after a refusal) matters on PostgreSQL: racers then
    queue on the stale row's lock; inserting first let a racer's retry and another's
    first insert wait on each other (40P01, measured: 4 of 20 ended "busy").
    Precondition: inside the caller's booking transaction."""
    blocked_until = ends_at + (_mechanic_buffer(mechanic) if buffer is None else buffer)
    _expire_stale_holds(
        mechanic_id=_mechanic_pk(mechanic),
        starts_at=starts_at,
        blocked_until=blocked_until,
        now=now,
    )
    try:
        with transaction.atomic(savepoint=savepoint):
            return Reservation.objects.create(
                **_mechanic_fields(mechanic),
                session=session,
                starts_at=starts_at,
                ends_at=ends_at,
                blocked_until=blocked_until,
                status=status,
                expires_at=expires_at,
                confirmed_at=now if status == ReservationStatus.CONFIRMED else None,
            )
    except IntegrityError as exc:
        if _is_overlap_violation(exc):
            raise _SlotRace from exc
        raise


def reservation_pin_for_visit(
    *, mechanic: MechanicProfile, starts_at: datetime, ends_at: datetime, now: datetime
) -> Reservation:
    """Pin an affiliated mechanic's time for a workshop visit they are assigned to (a
    confirmed reservation without a session), through the same overlap guard as remote
    sessions, so neither can be booked over the other. Precondition: inside the caller's
    transaction (workshops.services); SlotUnavailable when the mechanic is booked then."""
    try:
        return _reservation_insert(
            mechanic=mechanic,
            session=None,
            starts_at=starts_at,
            ends_at=ends_at,
            now=now,
            status=ReservationStatus.CONFIRMED,
        )
    except _SlotRace:
        raise SlotUnavailable(
            _("%(mechanic)s already has a session or visit booked at that time.")
            % {"mechanic": mechanic},
            code="mechanic_busy",
            mechanic_id=mechanic.pk,
        ) from None


def reservation_unpin(reservation: Reservation, *, now: datetime) -> None:
    """Free a visit's mechanic time (unassigned, moved, cancelled). Precondition: inside
    the caller's transaction."""
    if reservation.status in ACTIVE_RESERVATION_STATUSES:
        reservation.status = ReservationStatus.RELEASED
        reservation.released_at = now
        reservation.save(update_fields=["status", "released_at"])


def holds_expire(queryset, *, now: datetime) -> int:
    """Mark the given holds expired. Their sessions stay `pending` (an abandoned
    checkout): a payment that still arrives can revive the hold if the slot is free."""
    expired = list(queryset.select_related("session").select_for_update(of=("self",)))
    for reservation in expired:
        reservation.status = ReservationStatus.EXPIRED
        reservation.released_at = now
        reservation.save(update_fields=["status", "released_at"])
        session_event_record(
            session=reservation.session,
            action="booking.session.hold_expired",
            actor=None,
            data={"reservation_id": reservation.pk},
        )
    return len(expired)


def holds_expire_all(*, now: datetime | None = None) -> int:
    """The periodic sweep: tidies holds past expiry (booking never depends on it)."""
    now = now or timezone.now()
    return run_booking_transaction(
        lambda: holds_expire(
            Reservation.objects.filter(status=ReservationStatus.RESERVED, expires_at__lte=now),
            now=now,
        )
    )


# --------------------------------------------------------------------------- intake


def concern_minimum(plan: str) -> int:
    """Shortest concern description accepted (plan §1.2): 5 characters for urgent, else 10."""
    return 5 if plan == "urgent" else 10


@dataclass(frozen=True)
class Intake:
    plan: Plan
    session_type: str
    concern: str
    vehicle: Vehicle | None
    vehicle_label: str
    brand: str
    attachment_ids: tuple[int, ...] = ()  # pending uploads the new session claims

    def session_fields(self) -> dict[str, object]:
        """What a new Session takes from the answers (both flows create one)."""
        return {
            "type": self.session_type,
            "plan": self.plan,
            "concern": self.concern,
            "vehicle": self.vehicle,
            "vehicle_label": self.vehicle_label,
            "requested_brand": self.brand,
            "duration_minutes": self.plan.duration_minutes,
        }


def intake_validate(
    *,
    customer: User,
    plan: str,
    concern: str,
    session_type: str = SessionType.VIDEO,
    vehicle_id: int | None = None,
    vehicle_label: str = "",
    brand: str = "",
    attachment_ids: Sequence[int] = (),
) -> Intake:
    """Check the wizard's answers (plan §1.2): concern ≥ 10 characters (5 for urgent);
    `attachment_ids`: the customer's own pending uploads (booking/attachments.py)."""
    if not customer.is_customer:
        raise NotAllowed(_("Only customers can book sessions."))
    require_verified_email(customer)  # accounts: book only after confirming the address
    plan_row = Plan.objects.filter(code=plan, is_active=True).first()
    if plan_row is None or plan not in PLAN_MINUTES:
        raise InvalidInput(
            _("Unknown plan %(plan)s; choose one of %(choices)s.")
            % {"plan": repr(plan), "choices": ", ".join(PLAN_MINUTES)},
            field="plan",
        )
    if session_type not in SessionType.values:
        raise InvalidInput(
            _("Unknown session type %(session_type)s.") % {"session_type": repr(session_type)},
            field="type",
        )
    concern = (concern or "").strip()
    minimum = concern_minimum(plan)
    if len(concern) < minimum:
        raise InvalidInput(
            _("Describe the problem in at least %(minimum)s characters.") % {"minimum": minimum},
            field="concern",
        )
    if len(concern) > CONCERN_MAX:
        raise InvalidInput(
            _("Keep the description under %(concern_max)s characters.")
            % {"concern_max": CONCERN_MAX},
            field="concern",
        )
    for field, value, limit in (
        ("vehicle_label", vehicle_label, VEHICLE_LABEL_MAX),
        ("brand", brand, BRAND_MAX),
    ):
        if len(value or "") > limit:
            raise InvalidInput(
                _("%(field)s is longer than %(limit)s characters.")
                % {"field": field, "limit": limit},
                field=field,
            )
    vehicle = None
    if vehicle_id is not None:
        vehicle = Vehicle.objects.filter(pk=vehicle_id, customer__user=customer).first()
        if vehicle is None:
            raise InvalidInput(_("That vehicle is not in your garage."), field="vehicle_id")
    label = str(vehicle) if vehicle else vehicle_label.strip()
    ids = tuple(dict.fromkeys(attachment_ids))
    if ids:
        found = attachments.pending_for(customer, ids).count()
        if found != len(ids):
            raise InvalidInput(
                _("Some photos or videos are no longer there; add them again."),
                field="attachment_ids",
            )
        if found > settings.INTAKE_ATTACHMENTS_MAX:
            raise InvalidInput(
                _("At most %(limit)s photos or videos per session.")
                % {"limit": settings.INTAKE_ATTACHMENTS_MAX},
                field="attachment_ids",
            )
    return Intake(
        plan=plan_row,
        session_type=session_type,
        concern=concern,
        vehicle=vehicle,
        vehicle_label=label,
        brand=(brand or (vehicle.make if vehicle else "")).strip(),
        attachment_ids=ids,
    )


def session_create_immediate(
    *, customer: User, intake: Intake, now: datetime | None = None
) -> Session:
    """ "Start now" (the default, plan §1.2), step 1: a pending session that nobody sees
    yet. It goes out to mechanics (`session_publish`) once it is paid for — the
    waiver accepted, the credits debited or the card payment reported (plan §1.2
    payment flows: "assignment after waiver", "after payment confirmed"). An unpaid
    one is cancelled after UNPAID_SESSION_MINUTES (`sessions_unpaid_expire`)."""
    now = now or timezone.now()

    def work() -> Session:
        _open_start_now_limit(customer)
        active_session_refusal(customer)
        session = Session.objects.create(customer=customer, **intake.session_fields())
        attachments.attachments_claim(session=session, ids=intake.attachment_ids)
        session_event_record(
            session=session,
            action="booking.session.created",
            actor=customer,
            data={"mode": "immediate"},
        )
        return session

    return run_booking_transaction(work)


def session_publish(
    *, session_id: int, customer: User, payment_reference: str, now: datetime | None = None
) -> Session:
    """ "Start now", step 2: offer the session to the top 3 matches plus one broadcast
    (the first mechanic to accept gets it). Only the payment flow calls this, with its
    `payment_reference` (waiver, credits or card); the payments listener settles that
    payment inside this transaction and refuses a publication without one, so nobody
    is offered an unpaid session. Publishing twice changes nothing."""
    now = now or timezone.now()
    session = (
        Session.objects.select_related("plan", "customer")
        .filter(pk=session_id, customer=customer, scheduled_for__isnull=True)
        .first()
    )
    if session is None:
        raise NotFound(_("No such session."))
    criteria = match_criteria(
        customer,
        concern=session.concern,
        brand=session.requested_brand,
        at=None,
        minutes=session.duration_minutes,
    )
    # Matching reads many rows; it runs before the write transaction, not inside it.
    matches = mechanics_ranked(criteria, limit=TARGETED_OFFERS, now=now)

    def work() -> Session:
        session = Session.objects.select_for_update().get(pk=session_id)
        if session.offered_at is not None and session.status != SessionStatus.CANCELLED:
            return session  # idempotent: published already (by this or another payment)
        if session.status != SessionStatus.PENDING:
            raise Conflict(
                _("This session is %(status)s; it can no longer go out to mechanics.")
                % {"status": status_in_words(session.status)},
                code="session_closed",
                current_status=session.status,
            )
        session.offered_at = now
        session.metadata = {
            **session.metadata,
            "matching": [{"mechanic_id": m.mechanic_id, "score": m.score} for m in matches],
            "payment_reference": payment_reference,
        }
        session.save(update_fields=["offered_at", "metadata", "updated_at"])
        Offer.objects.bulk_create(
            [
                Offer(
                    session=session,
                    mechanic_id=m.mechanic_id,
                    kind=OfferKind.TARGETED,
                    score=m.score,
                    reasons=m.reasons,
                )
                for m in matches
            ]
            + [
                Offer(
                    session=session,
                    kind=OfferKind.BROADCAST,
                    reasons=[
                        "fallback if no targeted mechanic accepts"
                        if matches
                        else "no matches found"
                    ],
                )
            ]
        )
        session_event_record(
            session=session,
            action="booking.session.requested",
            actor=customer,
            data={"mode": "immediate", "targeted": [m.mechanic_id for m in matches]},
        )
        return session

    return run_booking_transaction(work)


UNPAID_UNTIL_KEY = "unpaid_kept_until"


def session_keep_unpaid_until(*, session_id: int, until: datetime) -> None:
    """A payment for this start-now session is about to open, until `until` (a card
    checkout): the unpaid sweep leaves the session alone until then. Called before the
    checkout is created, so a session the sweep (or the customer) closed first is
    refused here and no checkout opens for it."""

    def work() -> None:
        session = Session.objects.select_for_update().get(pk=session_id)
        if not session.awaiting_payment:
            raise Conflict(
                _("This session is %(status)s; start a new one.")
                % {"status": status_in_words(session.status)},
                code="session_closed",
            )
        kept = session.metadata.get(UNPAID_UNTIL_KEY)
        if kept is None or datetime.fromisoformat(kept) < until:
            session.metadata = {**session.metadata, UNPAID_UNTIL_KEY: until.isoformat()}
            session.save(update_fields=["metadata", "updated_at"])

    run_booking_transaction(work)


def sessions_unpaid_expire(*, now: datetime | None = None) -> int:
    """Cancel "start now" sessions never paid for within UNPAID_SESSION_MINUTES, unless
    a payment is still open for them (they were never offered to anyone, so nobody is
    told). Returns how many."""
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=settings.UNPAID_SESSION_MINUTES)
    stale = list(
        Session.objects.filter(
            status=SessionStatus.PENDING,
            scheduled_for__isnull=True,
            offered_at__isnull=True,
            created_at__lt=cutoff,
        ).values_list("pk", flat=True)[:500]
    )
    expired = 0
    for session_id in stale:

        def work(session_id: int = session_id) -> bool:
            session = Session.objects.select_for_update().get(pk=session_id)
            if session.status != SessionStatus.PENDING or session.offered_at is not None:
                return False  # paid or cancelled meanwhile
            kept = session.metadata.get(UNPAID_UNTIL_KEY)
            if kept and datetime.fromisoformat(kept) > now:
                return False  # a checkout is still open: the customer may be paying
            _system_cancel(
                session, f"Not paid within {settings.UNPAID_SESSION_MINUTES} minutes.", now=now
            )
            return True

        try:
            expired += run_booking_transaction(work)
        except Busy:
            log.warning("unpaid sweep: session %s busy, next run retries", session_id)
    return expired


def sessions_untaken_expire(*, now: datetime | None = None) -> int:
    """Close start-now requests that went out but nobody accepted within
    START_NOW_WAIT_MINUTES: cancelled by the system, so the refund policy gives the
    payment back in full (payments listener) and the customer is told. Returns how many."""
    now = now or timezone.now()
    minutes = settings.START_NOW_WAIT_MINUTES
    stale = list(
        Session.objects.filter(
            status=SessionStatus.PENDING,
            scheduled_for__isnull=True,
            mechanic__isnull=True,
            offered_at__lt=now - timedelta(minutes=minutes),
        ).values_list("pk", flat=True)[:500]
    )
    reason = f"No mechanic was free to take it within {minutes} minutes."
    closed = 0
    for session_id in stale:
        try:
            closed += session_cancel_by_system(session_id=session_id, reason=reason, now=now)
        except Busy:
            log.warning("untaken sweep: session %s busy, next run retries", session_id)
    return closed


def session_cancel_by_system(*, session_id: int, reason: str, now: datetime | None = None) -> bool:
    """Close a start-now request nobody has taken yet, for a reason of the platform's
    (e.g. its payment was refunded at the provider). False when it is no longer open."""
    now = now or timezone.now()

    def work() -> bool:
        session = Session.objects.select_for_update().get(pk=session_id)
        if (
            session.status != SessionStatus.PENDING
            or session.mechanic_id is not None
            or session.scheduled_for is not None
        ):
            return False  # taken, closed, or a scheduled booking: not ours to close
        _system_cancel(session, reason, now=now)
        return True

    return run_booking_transaction(work)


def _system_cancel(
    session: Session, reason: str, *, now: datetime, data: dict | None = None
) -> None:
    """Cancel a pending session on the platform's behalf: offers withdrawn, any held time
    freed; the payments listener refunds in full (cancelled by the system). Precondition:
    in a booking transaction holding the session lock."""
    _release_reservations(session, now=now)
    Offer.objects.filter(session=session, status=OfferStatus.OFFERED).update(
        status=OfferStatus.WITHDRAWN, responded_at=now
    )
    session.cancelled_by = "system"
    session.cancellation_reason = reason
    session.save(update_fields=["cancelled_by", "cancellation_reason", "updated_at"])
    session_transition(
        session,
        SessionStatus.CANCELLED,
        actor=None,
        action="booking.session.cancelled",
        data={"by": "system", "reason": reason, "hours_before_start": None, **(data or {})},
    )


REQUEST_UNANSWERED = "The mechanic did not answer the booking request in time."


def requests_unanswered_expire(*, now: datetime | None = None) -> int:
    """Close booking requests (instant booking off) whose mechanic did not answer by
    their deadline (selectors.request_deadline), the way an untaken start-now request
    closes: cancelled by the system, so the slot is freed, the payment refunded in full
    and the customer told, here with the mechanic's other free times. Idempotent: a
    closed request is skipped. Returns how many were closed."""
    now = now or timezone.now()
    stale = list(
        Offer.objects.filter(
            request_past_deadline(now=now),
            status=OfferStatus.OFFERED,
            session__status=SessionStatus.PENDING,
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:500]
    )
    closed = 0
    for offer_id in stale:
        try:
            closed += run_booking_transaction(partial(_request_expire, offer_id, now=now))
        except Busy:
            log.warning("request sweep: offer %s busy, next run retries", offer_id)
    return closed


def _request_expire(offer_id: int, *, now: datetime) -> bool:
    """Close one unanswered request if it is still open and past its deadline.
    Precondition: inside a booking transaction."""
    _lock_offer_session(offer_id)
    offer = (
        Offer.objects.select_for_update(of=("self",))  # the session is locked already
        .select_related("session", "mechanic")
        .filter(pk=offer_id)
        .first()
    )
    if offer is None or offer.status != OfferStatus.OFFERED or offer.mechanic is None:
        return False  # answered or closed meanwhile
    session = offer.session
    deadline = offer_deadline(offer)
    if session.status != SessionStatus.PENDING or deadline is None or deadline > now:
        return False
    _release_reservations(session, now=now)  # first, so its own time counts as free
    free = _next_free_slots(offer.mechanic, now, session.duration_minutes, now=now)
    _system_cancel(
        session,
        REQUEST_UNANSWERED,
        now=now,
        data={"request_expired": True, "deadline": deadline.isoformat(), "next_free_slots": free},
    )
    return True


# --------------------------------------------------------------------------- holds


def reservation_hold(
    *,
    customer: User,
    intake: Intake,
    mechanic_id: int,
    starts_at: datetime,
    now: datetime | None = None,
) -> Reservation:
    """Hold a slot for 15 minutes during checkout (plan §6.2 ReservationService).

    Creates the pending session and its hold together. The exclusion constraint /
    trigger decides races; the availability check only words the refusal.
    """

    now = now or timezone.now()
    if timezone.is_naive(starts_at):
        raise InvalidInput(
            _("Start time needs a time zone (e.g. 2026-12-01T15:00:00Z)."), field="start"
        )
    minutes = intake.plan.duration_minutes
    # Outside the transaction: the friendly check of this one interval (not the
    # mechanic's slot list), which also tells an unknown or unapproved mechanic (404) and
    # reads their rules and zone, so the profile is fetched only to word a refusal and
    # the write transaction holds its locks only for the customer's limits and three
    # inserts.
    check = _slot_refusal(mechanic_id, starts_at, minutes, now=now, approved_only=True)
    expires_at = now + timedelta(minutes=settings.HOLD_MINUTES)

    def work() -> Reservation:
        _holds_limit(customer, mechanic_id, check.zone, starts_at, now=now)
        return reservation_hold_locked(
            customer=customer,
            intake=intake,
            mechanic=mechanic_id,
            starts_at=starts_at,
            expires_at=expires_at,
            now=now,
            customer_locked=True,
            buffer=check.rules.buffer,
        )

    try:
        return run_booking_transaction(work)
    except _SlotRace:
        raise _slot_taken(_profile(mechanic_id), starts_at, minutes, now=now) from None


def reservation_hold_locked(
    *,
    customer: User,
    intake: Intake,
    mechanic: MechanicProfile | int,
    starts_at: datetime,
    expires_at: datetime,
    now: datetime,
    action: str = "booking.session.held",
    metadata: dict | None = None,
    customer_locked: bool = False,
    buffer: timedelta | None = None,
) -> Reservation:
    """Create the pending session and its hold until `expires_at` — the hold path that
    checkout (reservation_hold) and a waitlist claim (booking.waitlist) share, through the
    one overlap guard. Precondition: inside the caller's booking transaction; raises
    SlotRace (roll back) when the guard refuses. ``mechanic``: the profile, or its id
    (checkout, which has not fetched it); ``customer_locked``: the caller holds the
    customer's row lock already; ``buffer``: the mechanic's buffer just read."""
    ends_at = starts_at + timedelta(minutes=intake.plan.duration_minutes)
    active_session_refusal(
        customer, starts_at=starts_at, ends_at=ends_at, customer_locked=customer_locked
    )
    session = Session.objects.create(
        customer=customer,
        scheduled_for=starts_at,
        metadata=metadata or {},
        **_mechanic_fields(mechanic),
        **intake.session_fields(),
    )
    attachments.attachments_claim(session=session, ids=intake.attachment_ids)
    reservation = _reservation_insert(
        mechanic=mechanic,
        session=session,
        starts_at=starts_at,
        ends_at=ends_at,
        now=now,
        status=ReservationStatus.RESERVED,
        expires_at=expires_at,
        buffer=buffer,
        savepoint=False,  # SlotRace ends the caller's transaction (see the docstring)
    )
    session_event_record(
        session=session,
        action=action,
        actor=customer,
        data={
            "reservation_id": reservation.pk,
            "starts_at": starts_at.isoformat(),
            "expires_at": expires_at.isoformat(),
        },
    )
    return reservation


class _SlotRace(Exception):
    """Internal: the overlap constraint refused our row; rolls the transaction back."""


SlotRace = _SlotRace  # what reservation_hold_locked's callers catch (booking.waitlist)


def _access_reservation(reservation_id: int, customer: User) -> Reservation:
    reservation = (
        Reservation.objects.select_for_update()
        .select_related("session", "mechanic")
        .filter(pk=reservation_id, session__customer=customer)
        .first()
    )
    if reservation is None:
        raise NotFound(_("No such reservation."))
    return reservation


def reservation_confirm(
    *, reservation_id: int, customer: User, payment_reference: str = "", now: datetime | None = None
) -> Reservation:
    """Turn a hold into a booking. Paid plans reach this only through the payment
    flow. A hold that expired is revived if the slot is still free; if someone took it
    meanwhile the constraint refuses and the caller gets SlotUnavailable.

    If the mechanic reviews requests (allow_instant_booking off, plan §5.3: no
    auto-assignment without consent) the slot stays held as confirmed and the session
    waits in `pending` with a request offer until the mechanic accepts or declines.
    """
    from autodoctor.availability import service as availability

    now = now or timezone.now()

    def work() -> Reservation:
        reservation = _access_reservation(reservation_id, customer)
        session = Session.objects.select_for_update().get(pk=reservation.session_id)
        if reservation.status == ReservationStatus.CONFIRMED:
            return reservation  # idempotent: a replayed confirmation changes nothing
        if (
            reservation.status == ReservationStatus.RELEASED
            or session.status != SessionStatus.PENDING
        ):
            raise Conflict(_("This hold was released; pick a slot again."), code="hold_released")
        if reservation.starts_at <= now:
            raise Conflict(
                _("This slot has already started; pick another time."), code="slot_in_past"
            )
        reservation.status = ReservationStatus.CONFIRMED
        reservation.expires_at = None
        reservation.confirmed_at = now
        try:
            with transaction.atomic():
                reservation.save(update_fields=["status", "expires_at", "confirmed_at"])
        except IntegrityError as exc:
            if _is_overlap_violation(exc):
                raise _SlotRace from exc
            raise
        if payment_reference:
            session.metadata = {**session.metadata, "payment_reference": payment_reference}
            session.save(update_fields=["metadata", "updated_at"])
        if not availability.booking_rules(reservation.mechanic_id).allow_instant_booking:
            Offer.objects.create(
                session=session,
                mechanic_id=reservation.mechanic_id,
                kind=OfferKind.REQUEST,
                reasons=["customer picked you for this time"],
            )
            session_event_record(
                session=session,
                action="booking.session.requested",
                actor=customer,
                data={"mode": "scheduled_request", "reservation_id": reservation.pk},
            )
        else:
            session_transition(
                session,
                SessionStatus.SCHEDULED,
                actor=customer,
                action="booking.session.confirmed",
                data={
                    "reservation_id": reservation.pk,
                    "scheduled_for": reservation.starts_at.isoformat(),
                },
            )
        return reservation

    reservation = (
        Reservation.objects.filter(pk=reservation_id).select_related("mechanic", "session").first()
    )
    try:
        return run_booking_transaction(work)
    except _SlotRace:
        assert reservation is not None
        raise _slot_taken(
            reservation.mechanic,
            reservation.starts_at,
            reservation.session.duration_minutes,
            now=now,
        ) from None


def reservation_release(
    *, reservation_id: int, customer: User, now: datetime | None = None
) -> Reservation:
    """The customer abandons checkout: the hold is released at once."""
    now = now or timezone.now()

    def work() -> Reservation:
        reservation = _access_reservation(reservation_id, customer)
        if reservation.status != ReservationStatus.RESERVED:
            raise Conflict(
                _("Only a hold can be released; this reservation is %(status)s.")
                % {"status": reservation.status},
                code="not_a_hold",
                current_status=reservation.status,
            )
        reservation.status = ReservationStatus.RELEASED
        reservation.released_at = now
        reservation.save(update_fields=["status", "released_at"])
        session = Session.objects.select_for_update().get(pk=reservation.session_id)
        if session.status == SessionStatus.PENDING:
            session_transition(
                session,
                SessionStatus.CANCELLED,
                actor=customer,
                action="booking.session.hold_released",
                data={"reservation_id": reservation.pk},
            )
        return reservation

    return run_booking_transaction(work)


# --------------------------------------------------------------------------- offers


def _lock_offer_session(offer_id: int) -> None:
    """Lock the offer's session before the offer itself: every path that changes both
    (cancel, the sweeps) locks the session first, so PostgreSQL never sees the two
    orders at once (a deadlock)."""
    session_id = Offer.objects.filter(pk=offer_id).values_list("session_id", flat=True).first()
    if session_id is not None:
        list(Session.objects.select_for_update().filter(pk=session_id).values_list("pk"))


def _access_offer(offer_id: int, mechanic: MechanicProfile) -> Offer:
    """An offer this mechanic is (or was) entitled to act on, locked. Closed offers are
    returned too, so the caller can answer "already taken" instead of "not found"."""
    from .selectors import offers_visible_to

    offer = (
        Offer.objects.select_for_update()
        .filter(pk=offer_id)
        .filter(Q(mechanic=mechanic) | Q(kind=OfferKind.BROADCAST))
        .first()
    )
    if offer is None:
        raise NotFound(_("No such offer."))
    still_open = offer.status == OfferStatus.OFFERED
    if (
        offer.kind == OfferKind.BROADCAST
        and still_open
        and not offers_visible_to(mechanic).filter(pk=offer.pk).exists()
    ):
        if (
            Session.objects.filter(pk=offer.session_id)
            .exclude(status=SessionStatus.PENDING)
            .exists()
        ):
            return offer  # closed meanwhile: the caller answers "already taken"
        raise NotFound(_("No such offer."))
    return offer


def offer_accept(
    *, offer_id: int, mechanic: MechanicProfile, now: datetime | None = None
) -> Session:
    """Claim a session. Exactly one mechanic wins: the claim is a conditional UPDATE
    (session still unassigned/pending) plus a unique "one accepted offer" constraint,
    and the mechanic's time is pinned by a confirmed reservation so an immediate
    session cannot overlap a booked one."""
    now = now or timezone.now()
    taken = Conflict(_("Another mechanic already took this session."), code="already_taken")

    def work() -> Session:
        _lock_offer_session(offer_id)
        offer = _access_offer(offer_id, mechanic)
        if offer.kind == OfferKind.REQUEST and offer.status in (
            OfferStatus.OFFERED,
            OfferStatus.WITHDRAWN,
        ):
            _request_answerable(offer, mechanic, now=now)
        if offer.status != OfferStatus.OFFERED:
            raise (
                taken
                if offer.status == OfferStatus.TAKEN
                else Conflict(
                    _("This offer is %(status)s.") % {"status": offer.status},
                    code="offer_closed",
                    current_status=offer.status,
                )
            )
        session = Session.objects.select_for_update().get(pk=offer.session_id)
        if session.status != SessionStatus.PENDING:
            raise taken
        if offer.kind == OfferKind.REQUEST:
            claimed = Session.objects.filter(
                pk=session.pk, status=SessionStatus.PENDING, mechanic=mechanic
            ).exists()
        else:
            claimed = (
                Session.objects.filter(
                    pk=session.pk, status=SessionStatus.PENDING, mechanic__isnull=True
                ).update(mechanic=mechanic)
                == 1
            )
        if not claimed:
            raise taken
        session.mechanic = mechanic
        if offer.kind != OfferKind.REQUEST:
            # Pin the mechanic's time for the immediate session.
            try:
                _reservation_insert(
                    mechanic=mechanic,
                    session=session,
                    starts_at=now,
                    ends_at=now + timedelta(minutes=session.duration_minutes),
                    now=now,
                    status=ReservationStatus.CONFIRMED,
                )
            except _SlotRace:
                raise Conflict(
                    _("You have a booked session at this time; this one would overlap it."),
                    code="overlaps_your_booking",
                ) from None
        Offer.objects.filter(pk=offer.pk).update(
            status=OfferStatus.ACCEPTED, responded_at=now, accepted_by=mechanic
        )
        Offer.objects.filter(session=session, status=OfferStatus.OFFERED).exclude(
            pk=offer.pk
        ).update(status=OfferStatus.TAKEN, responded_at=now)
        to = SessionStatus.SCHEDULED if offer.kind == OfferKind.REQUEST else SessionStatus.WAITING
        session_transition(
            session,
            to,
            actor=mechanic.user,
            action="booking.offer.accepted",
            data={"offer_id": offer.pk, "kind": offer.kind},
        )
        return session

    return run_booking_transaction(work)


def _request_answerable(offer: Offer, mechanic: MechanicProfile, *, now: datetime) -> None:
    """Refuse (409 request_expired) answering a booking request at or past its deadline,
    which also covers after its start: the deadline is never later than the start."""
    from .templatetags.booking_tags import when

    deadline = offer_deadline(offer)
    if deadline is not None and now >= deadline:
        raise Conflict(
            _("The time to answer this booking request ended %(when)s; it is closed.")
            % {"when": when(deadline, mechanic.user)},
            code="request_expired",
            deadline=deadline.isoformat(),
        )


def offer_decline(
    *, offer_id: int, mechanic: MechanicProfile, now: datetime | None = None
) -> Offer:
    """plan §5.3: declining is free — no counter, no penalty, nothing recorded about
    the mechanic beyond this offer's own status. Declining a scheduled request frees
    the slot and cancels the request so the customer can pick someone else."""
    now = now or timezone.now()

    def work() -> Offer:
        _lock_offer_session(offer_id)
        offer = _access_offer(offer_id, mechanic)
        if offer.kind == OfferKind.BROADCAST:
            # A broadcast is shared: "declining" just hides it for this mechanic.
            from .models import OfferDismissal

            OfferDismissal.objects.get_or_create(offer=offer, mechanic=mechanic)
            return offer
        if offer.status != OfferStatus.OFFERED:
            raise Conflict(
                _("This offer is %(status)s.") % {"status": offer.status},
                code="offer_closed",
                current_status=offer.status,
            )
        offer.status = OfferStatus.DECLINED
        offer.responded_at = now
        offer.save(update_fields=["status", "responded_at"])
        if offer.kind == OfferKind.REQUEST:
            session = Session.objects.select_for_update().get(pk=offer.session_id)
            _release_reservations(session, now=now)
            session_transition(
                session,
                SessionStatus.CANCELLED,
                actor=mechanic.user,
                action="booking.session.request_declined",
                data={"offer_id": offer.pk},
            )
            Session.objects.filter(pk=session.pk).update(
                cancelled_by="mechanic",
                cancellation_reason="The mechanic is not available for this request.",
            )
        return offer

    return run_booking_transaction(work)


# --------------------------------------------------------------------------- lifecycle


def _release_reservations(session: Session, *, now: datetime) -> int:
    return Reservation.objects.filter(
        session=session, status__in=ACTIVE_RESERVATION_STATUSES
    ).update(status=ReservationStatus.RELEASED, released_at=now)


def _party(session: Session, user: User) -> str:
    if session.customer_id == user.pk:
        return "customer"
    if (
        session.mechanic_id
        and getattr(user, "mechanic_profile", None)
        and user.mechanic_profile.pk == session.mechanic_id
    ):
        return "mechanic"
    if user.is_platform_admin:
        return "admin"
    raise NotFound(_("No such session."))


def access_session_for_update(session_id: int, user: User) -> tuple[Session, str]:
    """Lock a session the user is a party to; 404 for strangers (no probing)."""
    session = Session.objects.select_for_update().filter(pk=session_id).first()
    if session is None:
        raise NotFound(_("No such session."))
    return session, _party(session, user)


def session_start(*, session_id: int, user: User, now: datetime | None = None) -> Session:
    now = now or timezone.now()

    def work() -> Session:
        session, _who = access_session_for_update(session_id, user)
        if (
            session.status == SessionStatus.SCHEDULED
            and session.scheduled_for
            and now < session.scheduled_for - EARLY_START
        ):
            opens = session.scheduled_for - EARLY_START
            raise Conflict(
                _("This session can be started from %(opens)s (15 minutes before its time).")
                % {"opens": opens.isoformat()},
                code="too_early",
                opens_at=opens.isoformat(),
            )
        if session.status != SessionStatus.LIVE:
            active_session_refusal(session.customer, exclude=session.pk)
        return session_transition(
            session, SessionStatus.LIVE, actor=user, action="booking.session.started"
        )

    return run_booking_transaction(work)


def session_complete_locked(session: Session, *, user: User) -> Session:
    """The one way a session becomes completed (live → completed, recorded as
    `booking.session.completed`, which sends the completion email): the room's End
    button (session_end) and a diagnosis saved with complete=True (diagnosis.diagnosis_save).
    Precondition: the caller's transaction holds the session row lock."""
    return session_transition(
        session, SessionStatus.COMPLETED, actor=user, action="booking.session.completed"
    )


def session_end(*, session_id: int, user: User, now: datetime | None = None) -> Session:
    def work() -> Session:
        session, _who = access_session_for_update(session_id, user)
        return session_complete_locked(session, user=user)

    return run_booking_transaction(work)


def _session_start(session: Session) -> datetime | None:
    """When the session starts: its booked time, or for a start-now session a mechanic
    took, when they took it (its pinned reservation); None while nobody has it."""
    if session.scheduled_for is not None:
        return session.scheduled_for
    if session.mechanic_id is None:
        return None
    return (
        Reservation.objects.filter(session=session, status=ReservationStatus.CONFIRMED)
        .values_list("starts_at", flat=True)
        .first()
    )


def cancellation_terms(session: Session, *, now: datetime) -> tuple[float | None, bool]:
    """(hours before the start, mechanic no-show) of cancelling `session` at `now`: the
    facts the refund policy decides on. The cancel page previews the refund from these,
    and session_cancel records them. Read before the session's reservations are released."""
    starts_at = _session_start(session)
    hours_before = round((starts_at - now).total_seconds() / 3600, 2) if starts_at else None
    # Booked, past its start plus the grace, and never started: the mechanic did not
    # show up, so the customer is not the one cancelling late (plan §5.3).
    no_show = (
        starts_at is not None
        and session.status in (SessionStatus.SCHEDULED, SessionStatus.WAITING)
        and now > starts_at + START_GRACE
    )
    return hours_before, no_show


def session_party(session: Session, user: User) -> str:
    """ "customer", "mechanic" or "admin"; NotFound for anyone else."""
    return _party(session, user)


def session_cancel(
    *, session_id: int, user: User, reason: str = "", now: datetime | None = None
) -> Session:
    """Customer or mechanic cancels (with a reason); the slot is free at once.
    Refunds follow the payments policy (listeners on booking.session.cancelled)."""
    now = now or timezone.now()
    reason = (reason or "").strip()[:300]

    def work() -> Session:
        session, party = access_session_for_update(session_id, user)
        if party == "mechanic" and not reason:
            raise InvalidInput(_("Tell the customer why you cancel."), field="reason")
        hours_before, no_show = cancellation_terms(session, now=now)
        _release_reservations(session, now=now)
        Offer.objects.filter(session=session, status=OfferStatus.OFFERED).update(
            status=OfferStatus.WITHDRAWN, responded_at=now
        )
        session.cancelled_by = party
        session.cancellation_reason = reason
        session.save(update_fields=["cancelled_by", "cancellation_reason", "updated_at"])
        return session_transition(
            session,
            SessionStatus.CANCELLED,
            actor=user,
            action="booking.session.cancelled",
            data={
                "by": party,
                "reason": reason,
                "hours_before_start": hours_before,
                "mechanic_no_show": no_show,
            },
        )

    return run_booking_transaction(work)


def session_reschedule(
    *, session_id: int, user: User, new_start: datetime, now: datetime | None = None
) -> Session:
    """Move a scheduled session to a new time with the same mechanic: the new slot is
    taken and the old one released in ONE transaction (if the new one is refused the
    old booking stays). Refused inside the cut-off before the current start."""

    now = now or timezone.now()
    if timezone.is_naive(new_start):
        raise InvalidInput(_("New start needs a time zone."), field="start")
    cutoff = timedelta(minutes=settings.RESCHEDULE_CUTOFF_MINUTES)
    session = Session.objects.filter(pk=session_id).select_related("mechanic").first()
    if session is None:
        raise NotFound(_("No such session."))
    _party(session, user)
    if (
        session.status != SessionStatus.SCHEDULED
        or session.mechanic is None
        or session.scheduled_for is None
    ):
        raise Conflict(
            _("Only a scheduled session can be rescheduled; this one is %(status)s.")
            % {"status": status_in_words(session.status)},
            code="invalid_transition",
            current_status=session.status,
        )
    if session.scheduled_for - now < cutoff:
        raise Conflict(
            _("Too close to the start to reschedule (less than %(value)s h); cancel instead.")
            % {"value": format(cutoff.total_seconds() / 3600, "g")},
            code="reschedule_cutoff",
        )
    mechanic = session.mechanic
    new_end = new_start + timedelta(minutes=session.duration_minutes)
    current = Reservation.objects.filter(
        session=session, status=ReservationStatus.CONFIRMED
    ).first()
    ignore = frozenset({("reservation", current.pk)} if current else ())
    _slot_refusal(mechanic, new_start, session.duration_minutes, now=now, ignore_busy=ignore)

    def work() -> Session:
        locked, party = access_session_for_update(session_id, user)
        if locked.status != SessionStatus.SCHEDULED:
            raise Conflict(
                _("This session is %(status)s; it cannot be rescheduled.")
                % {"status": status_in_words(locked.status)},
                code="invalid_transition",
                current_status=locked.status,
            )
        old_start = locked.scheduled_for
        _release_reservations(locked, now=now)
        _reservation_insert(
            mechanic=mechanic,
            session=locked,
            starts_at=new_start,
            ends_at=new_end,
            now=now,
            status=ReservationStatus.CONFIRMED,
        )
        locked.scheduled_for = new_start
        locked.reschedule_count += 1
        locked.save(update_fields=["scheduled_for", "reschedule_count", "updated_at"])
        session_event_record(
            session=locked,
            action="booking.session.rescheduled",
            actor=user,
            data={
                "by": party,
                "from": old_start.isoformat() if old_start else None,
                "to": new_start.isoformat(),
                "count": locked.reschedule_count,
            },
        )
        return locked

    try:
        return run_booking_transaction(work)
    except _SlotRace:
        raise _slot_taken(mechanic, new_start, session.duration_minutes, now=now) from None


def reservation_hold_for_request(
    *,
    customer: User,
    intake: Intake,
    mechanic_id: int | None,
    starts_at: datetime | None,
    earliest: bool = False,
    now: datetime | None = None,
) -> Reservation:
    """A scheduled request: a chosen mechanic and start, or the earliest slot with any
    mechanic (from `starts_at` when given, else from now)."""
    from autodoctor.availability import service as availability

    now = now or timezone.now()
    if starts_at is not None:
        instant_in_range(starts_at, field="start")
    if earliest:
        found = availability.earliest_slot(
            timedelta(minutes=intake.plan.duration_minutes), after=starts_at, now=now
        )
        if found is None:
            raise SlotUnavailable(
                _("No mechanic has a free slot in the booking window."), next_free_slots=[]
            )
        mechanic_id, slot = found
        starts_at = slot.start
    if mechanic_id is None:
        raise InvalidInput(
            _("Choose a mechanic (or ask for the earliest slot)."), field="mechanic_id"
        )
    if starts_at is None:
        raise InvalidInput(_("Choose a start time."), field="start")
    return reservation_hold(
        customer=customer, intake=intake, mechanic_id=mechanic_id, starts_at=starts_at, now=now
    )


def reservation_confirm_checked(
    *,
    reservation_id: int,
    customer: User,
    waiver_accepted: bool = False,
    use_credits: bool = False,
    now: datetime | None = None,
) -> Reservation:
    """Confirmation asked for directly (API). It goes through payments: free/trial plans
    need the waiver accepted, paid plans pay with credits (use_credits) or get a 402
    carrying a card checkout URL; the booking then confirms when the payment arrives.
    See autodoctor/payments/services/checkout.py."""
    from autodoctor.payments.services.checkout import reservation_pay_and_confirm

    reservation_pay_and_confirm(
        reservation_id=reservation_id,
        customer=customer,
        waiver_accepted=waiver_accepted,
        use_credits=use_credits,
        now=now,
    )
    return Reservation.objects.get(pk=reservation_id)
