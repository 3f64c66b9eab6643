"""The clock-driven session lifecycle (issue 18, plan §13.1): sessions move on their own.

`sessions_advance` is the periodic job (booking.tasks.sessions_advance). Each run, for
every session due, in its own short transaction holding the session lock and re-checking
what it read, so running it twice, late or beside a person pressing a button never does
a move twice:

- a scheduled (or taken start-now) session both parties joined goes `live` (the room
  normally does this on the second Join; this catches one held back, e.g. by the active
  session check below);
- a live session ends `completed` at its end (start + duration + the mechanic's
  extensions) plus SESSION_END_GRACE_MINUTES;
- a booked session nobody started by START_GRACE after its start is cancelled as a
  no-show of the side that did not join (see `no_show_side`).

The mechanic may extend a live session by EXTENSION (`session_extend`): the
reservation's ends_at / blocked_until move with it, so the database overlap guard
refuses an extension into the mechanic's next booking (ARCHITECTURE invariant 1).
"""

import logging
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from autodoctor.accounts.models import User
from autodoctor.errors import Busy, Conflict, NotAllowed, SlotUnavailable

from .events import session_event_record
from .models import Reservation, ReservationStatus, Session, SessionStatus, status_in_words
from .room import JOINED, joined_parties
from .services import (
    START_GRACE,
    _is_overlap_violation,
    _session_start,
    _system_cancel,
    access_session_for_update,
    active_session_refusal,
    run_booking_transaction,
)
from .state import session_transition

log = logging.getLogger("autodoctor.booking")

EXTENSION = timedelta(minutes=15)
EXTENDED_KEY = "extended_minutes"  # Session.metadata: minutes the mechanic added
BOOKED = (SessionStatus.SCHEDULED, SessionStatus.WAITING)
BATCH = 500


def end_grace() -> timedelta:
    return timedelta(minutes=settings.SESSION_END_GRACE_MINUTES)


def session_ends_at(session: Session) -> datetime | None:
    """When a live session is due to end: its start + duration + extensions."""
    if session.started_at is None:
        return None
    minutes = session.duration_minutes + int(session.metadata.get(EXTENDED_KEY, 0))
    return session.started_at + timedelta(minutes=minutes)


def no_show_side(joined: set[str]) -> str:
    """Who did not show for a session nobody started: the side that did not join. When
    neither joined we cannot tell, and the customer gets the benefit of the doubt (a
    mechanic no-show: full refund) as the cancel page already does (plan §5.3: mechanics
    are never penalised, so this costs the mechanic nothing but the unearned share)."""
    return "customer" if joined == {"mechanic"} else "mechanic"


# --------------------------------------------------------------------------- the job


def sessions_advance(*, now: datetime | None = None) -> dict[str, int]:
    """The periodic job: go live, complete, no-show (see the module docstring). Returns
    how many sessions made each move. Idempotent."""
    now = now or timezone.now()
    moved = {"live": 0, "completed": 0, "no_show": 0}
    steps = (
        ("live", _both_joined_ids(), _go_live),
        ("completed", _overdue_live_ids(now), _complete),
        ("no_show", _unstarted_ids(now), _no_show),
    )
    for name, ids, step in steps:
        for session_id in ids:
            try:
                moved[name] += run_booking_transaction(partial(step, session_id, now=now))
            except Busy:
                log.warning("lifecycle: session %s busy, next run retries", session_id)
    return moved


def _both_joined_ids() -> list[int]:
    joined = Q(events__action=JOINED)
    return list(
        Session.objects.filter(status__in=BOOKED)
        .filter(joined & Q(events__data__party="customer"))
        .filter(joined & Q(events__data__party="mechanic"))
        .order_by("pk")
        .values_list("pk", flat=True)
        .distinct()[:BATCH]
    )


def _overdue_live_ids(now: datetime) -> list[int]:
    # Live sessions are few at any moment: the end (with extensions) is computed here.
    rows = Session.objects.filter(
        status=SessionStatus.LIVE, started_at__lte=now - end_grace()
    ).only("pk", "started_at", "duration_minutes", "metadata")
    return [s.pk for s in rows if _overdue(s, now)][:BATCH]


def _unstarted_ids(now: datetime) -> list[int]:
    cutoff = now - START_GRACE
    taken = Reservation.objects.filter(
        status=ReservationStatus.CONFIRMED, starts_at__lt=cutoff
    ).values("session_id")
    return list(
        Session.objects.filter(status__in=BOOKED)
        .filter(Q(scheduled_for__lt=cutoff) | Q(scheduled_for__isnull=True, pk__in=taken))
        .order_by("pk")
        .values_list("pk", flat=True)[:BATCH]
    )


def _overdue(session: Session, now: datetime) -> bool:
    ends_at = session_ends_at(session)
    return ends_at is not None and now >= ends_at + end_grace()


def _locked(session_id: int) -> Session:
    return Session.objects.select_for_update().get(pk=session_id)


def _go_live(session_id: int, *, now: datetime) -> bool:
    session = _locked(session_id)
    if session.status not in BOOKED or {"customer", "mechanic"} - joined_parties(session):
        return False  # started, cancelled or no-showed meanwhile
    try:
        active_session_refusal(session.customer, exclude=session.pk)
    except Conflict:
        return False  # the customer is still in another session: wait for it to end
    session_transition(
        session,
        SessionStatus.LIVE,
        actor=None,
        action="booking.session.started",
        data={"by": "clock"},
    )
    return True


def _complete(session_id: int, *, now: datetime) -> bool:
    session = _locked(session_id)
    if session.status != SessionStatus.LIVE or not _overdue(session, now):
        return False  # ended by hand, or extended meanwhile
    session_transition(
        session,
        SessionStatus.COMPLETED,
        actor=None,
        action="booking.session.completed",
        data={"by": "clock", "due_at": session_ends_at(session).isoformat()},  # type: ignore[union-attr]
    )
    return True


def _no_show(session_id: int, *, now: datetime) -> bool:
    session = _locked(session_id)
    starts_at = _session_start(session)
    if session.status not in BOOKED or starts_at is None or now <= starts_at + START_GRACE:
        return False
    joined = joined_parties(session)
    if {"customer", "mechanic"} <= joined:
        return False  # both came: it goes live instead
    side = no_show_side(joined)
    _system_cancel(
        session,
        f"The {side} did not join the session.",
        now=now,
        data={
            "no_show": side,
            f"{side}_no_show": True,
            "joined": sorted(joined),
            "grace_minutes": int(START_GRACE.total_seconds() // 60),
            "hours_before_start": round((starts_at - now).total_seconds() / 3600, 2),
        },
    )
    return True


# --------------------------------------------------------------------------- extend


def session_extend(*, session_id: int, user: User, now: datetime | None = None) -> Session:
    """The mechanic adds EXTENSION to a live session, only while their next time is free:
    the reservation's ends_at and blocked_until move by the same amount, and the overlap
    guard refuses (409 `extension_blocked`) when that reaches their next booking."""
    now = now or timezone.now()

    def work() -> Session:
        session, party = access_session_for_update(session_id, user)
        if party != "mechanic":
            raise NotAllowed(_("Only the session's mechanic can extend it."))
        if session.status != SessionStatus.LIVE:
            raise Conflict(
                _("This session is %(status)s; only a live session can be extended.")
                % {"status": status_in_words(session.status)},
                code="invalid_transition",
                current_status=session.status,
            )
        ends_at = session_ends_at(session)
        assert ends_at is not None  # live sessions have started
        if now >= ends_at + end_grace():
            raise Conflict(
                _("This session is over; it can no longer be extended."), code="session_over"
            )
        new_end = ends_at + EXTENSION
        reservation = (
            Reservation.objects.select_for_update()
            .filter(session=session, status=ReservationStatus.CONFIRMED)
            .first()
        )
        if reservation is not None and new_end > reservation.ends_at:
            buffer = reservation.blocked_until - reservation.ends_at
            reservation.ends_at = new_end
            reservation.blocked_until = new_end + buffer
            try:
                with transaction.atomic():
                    reservation.save(update_fields=["ends_at", "blocked_until"])
            except IntegrityError as exc:
                if not _is_overlap_violation(exc):
                    raise
                raise SlotUnavailable(
                    _("Your next booking starts too soon to extend this session."),
                    code="extension_blocked",
                    mechanic_id=session.mechanic_id,
                ) from None
        minutes = int(session.metadata.get(EXTENDED_KEY, 0)) + int(EXTENSION.total_seconds() // 60)
        session.metadata = {**session.metadata, EXTENDED_KEY: minutes}
        session.save(update_fields=["metadata", "updated_at"])
        session_event_record(
            session=session,
            action="booking.session.extended",
            actor=user,
            data={"minutes": int(EXTENSION.total_seconds() // 60), "ends_at": new_end.isoformat()},
        )
        return session

    return run_booking_transaction(work)
