"""Visit history, and the hook other apps use to react to it in the same transaction.

`visit_event_record` writes a VisitEvent (`workshops.visit.<verb>`) and calls every
registered listener inside the caller's transaction, so a notification's outbox row
commits or rolls back with the change itself (ARCHITECTURE invariant 7), exactly like
booking.events for sessions.
"""

from collections.abc import Callable

from autodoctor.accounts.models import User

from .models import Visit, VisitEvent

VisitListener = Callable[[VisitEvent], None]
_LISTENERS: list[VisitListener] = []


def register_visit_listener(listener: VisitListener) -> None:
    if listener not in _LISTENERS:
        _LISTENERS.append(listener)


def visit_event_record(
    *, visit: Visit, action: str, actor: User | None, data: dict | None = None
) -> VisitEvent:
    event = VisitEvent.objects.create(visit=visit, action=action, actor=actor, data=data or {})
    for listener in list(_LISTENERS):
        listener(event)
    return event
