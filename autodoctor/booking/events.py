"""Session history, and the hook other apps use to react to it in the same transaction.

`session_event_record` writes a SessionEvent and calls every registered listener
inside the caller's transaction (so e.g. a notification outbox row is written or
rolled back together with the booking change, ARCHITECTURE invariant 7).
"""

from collections.abc import Callable

from autodoctor.accounts.models import User

from .models import Session, SessionEvent

EventListener = Callable[[SessionEvent], None]
_LISTENERS: list[EventListener] = []


def register_event_listener(listener: EventListener) -> None:
    if listener not in _LISTENERS:
        _LISTENERS.append(listener)


def unregister_event_listener(listener: EventListener) -> None:
    if listener in _LISTENERS:
        _LISTENERS.remove(listener)


def session_event_record(
    *, session: Session, action: str, actor: User | None, data: dict | None = None
) -> SessionEvent:
    event = SessionEvent.objects.create(
        session=session, action=action, actor=actor, data=data or {}
    )
    for listener in list(_LISTENERS):
        listener(event)
    return event
