"""Which change becomes which webhook event, who may hear of it, and its payload.

`on_session_event` and `on_visit_event` are registered with booking.events and
workshops.events (IntegrationsConfig.ready) and run INSIDE the transaction of every
change: they write one Delivery row per endpoint that subscribed to the event and whose
owner may see the resource, so a change that rolls back delivers nothing (ARCHITECTURE
invariant 7). Sending happens in the worker (delivery.py), after commit.

Who hears of what (the same people the API shows the resource to):
- a session: its customer and its assigned mechanic;
- a payment: its customer;
- a visit: its customer, its workshop's owner and staff, and its assigned mechanic;
- platform admins: everything.
"""

import uuid
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from autodoctor.accounts.models import Role
from autodoctor.booking.models import Session, SessionEvent
from autodoctor.workshops.models import Visit, VisitEvent

from .models import Delivery, Endpoint

API_VERSION = "2026-12-01"

# Recorded action -> the event type integrators subscribe to.
SESSION_EVENTS = {
    "booking.session.confirmed": "session.booked",
    "booking.session.rescheduled": "session.rescheduled",
    "booking.session.cancelled": "session.cancelled",
    "booking.session.started": "session.started",
    "booking.session.completed": "session.completed",
    "booking.offer.accepted": "offer.accepted",
}
PAYMENT_EVENTS = {
    "payments.payment.succeeded": "payment.succeeded",
    "payments.payment.refunded": "payment.refunded",
}
VISIT_EVENTS = {
    "workshops.visit.requested": "visit.requested",
    "workshops.visit.confirmed": "visit.confirmed",
    "workshops.visit.counter_accepted": "visit.confirmed",  # the customer took the new time
    "workshops.visit.countered": "visit.countered",
    "workshops.visit.declined": "visit.declined",
    "workshops.visit.counter_declined": "visit.cancelled",  # it ends the visit
    "workshops.visit.cancelled": "visit.cancelled",
    "workshops.visit.rescheduled": "visit.rescheduled",
    "workshops.visit.completed": "visit.completed",
}
EVENT_TYPES: tuple[str, ...] = tuple(
    dict.fromkeys([*SESSION_EVENTS.values(), *PAYMENT_EVENTS.values(), *VISIT_EVENTS.values()])
)


def session_viewers(session: Session) -> set[int]:
    viewers = {session.customer_id}
    if session.mechanic_id:
        viewers.add(session.mechanic.user_id)  # type: ignore[union-attr]
    return viewers


def visit_viewers(visit: Visit) -> set[int]:
    workshop = visit.workshop
    viewers = {visit.customer_id, workshop.owner_id}
    viewers.update(workshop.staff.values_list("pk", flat=True))
    if visit.assigned_mechanic_id:
        viewers.add(visit.assigned_mechanic.user_id)  # type: ignore[union-attr]
    return viewers


def session_data(session: Session) -> dict:
    from autodoctor.booking.api import SessionOut

    return SessionOut.from_orm(session).model_dump(mode="json")


def payment_data(payment_id: int) -> dict:
    from autodoctor.payments.api import PaymentOut
    from autodoctor.payments.models import Payment

    payment = Payment.objects.select_related("plan").get(pk=payment_id)
    return PaymentOut.from_orm(payment).model_dump(mode="json")


def visit_data(visit: Visit) -> dict:
    from autodoctor.workshops.api import VisitOut

    return VisitOut.from_orm(visit).model_dump(mode="json")


def on_session_event(event: SessionEvent) -> None:
    session = event.session
    if event_type := SESSION_EVENTS.get(event.action):
        viewers = session_viewers(session)
        deliveries_write(
            event_type=event_type,
            resource=f"session:{session.pk}",
            viewers=viewers,
            created=event.created_at,
            data=lambda: session_data(session),
        )
    elif event_type := PAYMENT_EVENTS.get(event.action):
        payment_id = event.data["payment_id"]
        deliveries_write(
            event_type=event_type,
            resource=f"payment:{payment_id}",
            viewers={session.customer_id},
            created=event.created_at,
            data=lambda: payment_data(payment_id),
        )


def on_visit_event(event: VisitEvent) -> None:
    if event_type := VISIT_EVENTS.get(event.action):
        visit = event.visit
        deliveries_write(
            event_type=event_type,
            resource=f"visit:{visit.pk}",
            viewers=visit_viewers(visit),
            created=event.created_at,
            data=lambda: visit_data(visit),
        )


def deliveries_write(
    *, event_type: str, resource: str, viewers: set[int], created: datetime | None, data
) -> list[Delivery]:
    """One Delivery per active endpoint subscribed to `event_type` whose owner is one of
    `viewers` or a platform admin. `data` is called only when someone listens (so a
    change nobody subscribed to costs one query). Runs in the caller's transaction."""
    endpoints = [
        endpoint
        for endpoint in Endpoint.objects.filter(active=True, owner__is_active=True)
        .filter(Q(owner_id__in=viewers) | Q(owner__role=Role.ADMIN) | Q(owner__is_superuser=True))
        .only("pk", "event_types")
        if event_type in endpoint.event_types
    ]
    if not endpoints:
        return []
    now = timezone.now()
    payload = {
        "id": f"evt_{uuid.uuid4().hex}",
        "type": event_type,
        "api_version": API_VERSION,
        "created": (created or now).isoformat(),
        "data": data(),
    }
    rows = Delivery.objects.bulk_create(
        Delivery(
            endpoint=endpoint,
            event_id=payload["id"],
            event_type=event_type,
            resource=resource,
            payload=payload,
            next_attempt_at=now,
        )
        for endpoint in endpoints
    )
    wake_sender_after_commit()
    return rows


def wake_sender_after_commit() -> None:
    """Ask a worker to send soon after commit, once per transaction (the periodic run is
    the safety net). Robust: a task backend hiccup must not fail a committed change."""
    connection = transaction.get_connection()
    if any(entry[1] is _enqueue_sender for entry in connection.run_on_commit):
        return
    transaction.on_commit(_enqueue_sender, robust=True)


def _enqueue_sender() -> None:
    from .tasks import webhooks_send

    webhooks_send.enqueue()
