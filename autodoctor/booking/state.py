"""The session state machine: the only place a session's status changes.

Allowed moves (plan §1.1 statuses). Anything else is InvalidTransition (409)
naming the current state.
"""

from django.utils import timezone
from django.utils.translation import gettext as _

from autodoctor.accounts.models import User
from autodoctor.errors import InvalidTransition

from .events import session_event_record
from .models import Session, SessionStatus, status_in_words

S = SessionStatus
ALLOWED: dict[str, set[str]] = {
    S.PENDING: {S.WAITING, S.SCHEDULED, S.CANCELLED},
    S.WAITING: {S.LIVE, S.CANCELLED},
    S.SCHEDULED: {S.LIVE, S.CANCELLED},
    S.LIVE: {S.COMPLETED},
    S.COMPLETED: set(),
    S.CANCELLED: set(),
}


def session_transition(
    session: Session, to: str, *, actor: User | None, action: str, data: dict | None = None
) -> Session:
    """Move `session` to status `to` and record `action` in its history.

    Precondition: the caller runs inside a transaction and holds the session row lock
    (select_for_update), so the check and the write cannot interleave with another move.
    """
    if to not in ALLOWED[session.status]:
        raise InvalidTransition(
            _("This session is %(status)s; it cannot become %(to)s.")
            % {"status": status_in_words(session.status), "to": status_in_words(to)},
            current_status=session.status,
            requested_status=to,
        )
    previous = session.status
    session.status = to
    fields = ["status", "updated_at"]
    now = timezone.now()
    if to == S.LIVE and session.started_at is None:
        session.started_at = now
        fields.append("started_at")
    if to in (S.COMPLETED, S.CANCELLED) and session.ended_at is None:
        session.ended_at = now
        fields.append("ended_at")
    session.save(update_fields=fields)
    session_event_record(
        session=session,
        action=action,
        actor=actor,
        data={"from": previous, "to": to, **(data or {})},
    )
    return session
