"""The facts a message about a session is made of, as a JSON-safe snapshot.

Taken inside the booking transaction when the event happens (so a message describes
the session as it was then, e.g. the SEQUENCE of its calendar file), stored on the
Notification, and read back by rendering and ics. The same function describes a live
session for the calendar API and the feeds, so every calendar file has one source.
Times are UTC ISO 8601 strings. Choice labels are stored in English whoever acted and in
whatever language (translation.override(None)); rendering translates them for each
recipient. `visit_facts` does the same for an in-person workshop
visit (workshops.Visit): its times are shown in the WORKSHOP's zone (`workshop.zone`),
since that is where the customer has to be.
"""

import functools
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.utils import translation

from autodoctor.booking.diagnosis import diagnosis_of, labour_words
from autodoctor.booking.models import ServiceType, Session
from autodoctor.workshops.models import Visit


def _in_english[**P, R](build: Callable[P, R]) -> Callable[P, R]:
    """Snapshot choice labels in English (their msgids): rendering translates them for
    each recipient, so the actor's language never leaks into someone else's message."""

    @functools.wraps(build)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with translation.override(None):
            return build(*args, **kwargs)

    return wrapper


@_in_english
def session_facts(session: Session) -> dict[str, Any]:
    mechanic_user = session.mechanic.user if session.mechanic_id else None  # type: ignore[union-attr]
    start = session.scheduled_for
    end = start + timedelta(minutes=session.duration_minutes) if start else None
    return {
        "session_id": session.pk,
        "type": session.get_type_display(),
        "plan": session.plan.name,
        "vehicle": session.vehicle_label,
        "concern": session.concern[:300],
        "status": session.status,
        "starts_at": _iso(start),
        "ends_at": _iso(end),
        "duration_minutes": session.duration_minutes,
        "sequence": session.reschedule_count,
        "customer": _person(session.customer),
        "mechanic": _person(mechanic_user) if mechanic_user else None,
    }


@_in_english
def diagnosis_facts(session: Session) -> dict[str, Any] | None:
    """The mechanic's diagnosis as the completion email tells it; None while unwritten."""
    diagnosis = diagnosis_of(session)
    if diagnosis is None:
        return None
    return {
        "findings": diagnosis.findings,
        "service_type": diagnosis.get_service_type_display(),
        "labour": labour_words(diagnosis.estimated_labour_minutes),
        "parts": diagnosis.parts,
        "urgency": diagnosis.urgency,
        "urgency_label": diagnosis.get_urgency_display(),
    }


@_in_english
def visit_facts(visit: Visit) -> dict[str, Any]:
    """A visit as the messages about it describe it. `role` is added per recipient:
    "customer", "workshop" (owner or staff) or "mechanic" (the assigned one)."""
    workshop = visit.workshop
    mechanic = visit.assigned_mechanic
    return {
        "visit_id": visit.pk,
        "workshop": {
            "id": workshop.pk,
            "name": workshop.name,
            "address": workshop.address,
            "city": workshop.city,
            "postal_code": workshop.postal_code,
            "zone": workshop.time_zone,
        },
        "service": ServiceType(visit.service_type).label,
        "vehicle": visit.vehicle_label,
        "concern": visit.concern[:300],
        "mode": visit.get_mode_display(),
        "status": visit.status,
        "starts_at": _iso(visit.starts_at),
        "ends_at": _iso(visit.ends_at),
        "duration_minutes": visit.duration_minutes,
        "expires_at": _iso(visit.expires_at),
        "requested_starts_at": _iso(visit.requested_starts_at),
        "reason": visit.decline_reason or visit.counter_reason,
        "workshop_notes": visit.workshop_notes,
        "sequence": visit.sequence,
        "customer": _person(visit.customer),
        "mechanic": _person(mechanic.user) if mechanic else None,
    }


def workshop_location(facts: dict[str, Any]) -> str:
    """'12 King St W, Toronto, M5H 1A1': where the visit happens (blank parts left out)."""
    shop = facts["workshop"]
    return ", ".join(
        " ".join(str(shop.get(key) or "").split())
        for key in ("address", "city", "postal_code")
        if (shop.get(key) or "").strip()
    )


def role_of(session: Session, user_id: int) -> str:
    if session.customer_id == user_id:
        return "customer"
    return "mechanic"


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _person(user: Any) -> dict[str, Any]:
    return {"id": user.pk, "name": str(user), "email": user.email}
