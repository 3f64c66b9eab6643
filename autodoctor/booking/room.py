"""The session room: where customer and mechanic meet for a session (plan §13.1).

Both parties open the same page (from the confirmation, reminders and the calendar
entry). "Join" opens from EARLY_START (15 minutes) before a scheduled start, or as soon as
a mechanic took a start-now request. The session goes `live` through the state machine
when both have joined, or when either presses Start (services.session_start); a scheduled
session nobody starts is a no-show of the side that did not join (lifecycle.py, the
periodic job, which also brings a both-joined session live if the room could not). The video or
chat itself is a link built from SESSION_ROOM_URL_TEMPLATE, or our placeholder page.
"""

import hashlib
import hmac
from datetime import datetime

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from autodoctor.accounts.models import User
from autodoctor.errors import Conflict, NotAllowed

from .events import session_event_record
from .models import Session, SessionStatus, status_in_words
from .services import (
    EARLY_START,
    access_session_for_update,
    active_session_refusal,
    run_booking_transaction,
)
from .state import session_transition

JOINED = "booking.session.joined"
JOINABLE = (SessionStatus.WAITING, SessionStatus.SCHEDULED, SessionStatus.LIVE)


def join_opens_at(session: Session) -> datetime | None:
    """When Join opens: EARLY_START before a scheduled start; None = open now (a start-now
    session a mechanic took) or never (not joinable)."""
    if session.status == SessionStatus.SCHEDULED and session.scheduled_for is not None:
        return session.scheduled_for - EARLY_START
    return None


def can_join(session: Session, *, now: datetime) -> bool:
    if session.status not in JOINABLE or session.mechanic_id is None:
        return False
    opens = join_opens_at(session)
    return opens is None or now >= opens


def joined_parties(session: Session) -> set[str]:
    """Who has joined the room so far ("customer", "mechanic")."""
    return {
        data.get("party")
        for data in session.events.filter(action=JOINED).values_list("data", flat=True)
    } - {None}


def room_key(session_id: int) -> str:
    """An unguessable room name for the video link (same for both parties)."""
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"session-room:{session_id}".encode(), hashlib.sha256
    ).hexdigest()[:20]
    return f"autodoctor-{session_id}-{digest}"


def call_url(session: Session) -> str:
    """The video/chat link: SESSION_ROOM_URL_TEMPLATE with {room} and {session_id} filled
    in, or the built-in placeholder room page when the template is empty."""
    template = settings.SESSION_ROOM_URL_TEMPLATE
    if template:
        return template.format(room=room_key(session.pk), session_id=session.pk)
    return reverse("booking:room_call", args=[session.pk])


def session_join(*, session_id: int, user: User, now: datetime | None = None) -> Session:
    """A party enters the room: recorded once per party; when both are in, the session
    goes live. Refused before Join opens (409 too_early) and for anyone but the two."""
    now = now or timezone.now()

    def work() -> Session:
        session, party = access_session_for_update(session_id, user)
        if party not in ("customer", "mechanic"):
            raise NotAllowed(_("Only the customer and the mechanic join a session."))
        if session.status not in JOINABLE or session.mechanic_id is None:
            raise Conflict(
                _("This session is %(status)s; there is nothing to join.")
                % {"status": status_in_words(session.status)},
                code="not_joinable",
                current_status=session.status,
            )
        opens = join_opens_at(session)
        if opens is not None and now < opens:
            raise Conflict(
                _("The room opens 15 minutes before the start."),
                code="too_early",
                opens_at=opens.isoformat(),
            )
        if party == "customer":
            # plan §1.3: the customer is in one session at a time (409 naming the other).
            active_session_refusal(session.customer, exclude=session.pk)
        joined = joined_parties(session)
        if party not in joined:
            session_event_record(session=session, action=JOINED, actor=user, data={"party": party})
            joined.add(party)
        if session.status != SessionStatus.LIVE and {"customer", "mechanic"} <= joined:
            session_transition(
                session,
                SessionStatus.LIVE,
                actor=user,
                action="booking.session.started",
                data={"by": "both_joined"},
            )
        return session

    return run_booking_transaction(work)
