"""The reminder job: 24 h, 1 h and 15 minutes before each scheduled session, to both
parties (the 15-minute one when the session room opens, with its Join link).

Run it as often as you like (periodic every 2 minutes): each reminder is a Notification
whose dedupe key is (kind, session, recipient, start time, reschedule count), so

- running the job three times writes one reminder;
- a reschedule changes the start time, which re-arms both reminders for the new time;
- a cancelled session is no longer `scheduled`, so it gets none (and a reminder already
  queued is skipped at send time);
- a reminder is written only while now is in [due, due + grace] (catalog.Reminder:
  24 h → 2 h grace, 1 h → 20 min grace, 15 min → 10 min grace) and before the start. If the worker was down past
  the window the reminder is skipped, never sent late;
- a reminder whose moment passed before the session was booked or moved is not sent
  (booked 5 hours ahead: the confirmation says it all, no "24 hours" reminder).

Confirmed workshop visits get the same 24 h and 1 h reminders (`visit_reminder_*`, same
preferences, windows and rules), to the customer and the assigned mechanic; the key is
(kind, visit, recipient, start, sequence), and the arming events are the visit's
confirmation, accepted offered time and move.
"""

from datetime import datetime

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from autodoctor.booking.models import Session, SessionEvent, SessionStatus
from autodoctor.workshops.models import Visit, VisitEvent, VisitStatus

from .catalog import REMINDER_KINDS, VISIT_REMINDER_KINDS, MessageKind
from .facts import role_of, session_facts, visit_facts
from .selectors import preference_for
from .services import notification_create

# Events after which a session's current start time is known to both parties.
ARMING_ACTIONS = (
    "booking.session.confirmed",
    "booking.offer.accepted",
    "booking.session.rescheduled",
)
VISIT_ARMING_ACTIONS = (
    "workshops.visit.confirmed",
    "workshops.visit.counter_accepted",
    "workshops.visit.rescheduled",
)


def reminder_key(kind: str, session: Session, recipient_id: int) -> str:
    assert session.scheduled_for is not None
    start = session.scheduled_for.strftime("%Y%m%dT%H%M%SZ")
    return f"{kind}:{session.pk}:{recipient_id}:{start}:s{session.reschedule_count}"


def reminders_enqueue(*, now: datetime | None = None) -> int:
    """Write the reminders that are due now. Returns how many messages were written."""
    now = now or timezone.now()
    armed_at = Subquery(
        SessionEvent.objects.filter(session=OuterRef("pk"), action__in=ARMING_ACTIONS)
        .order_by("-created_at", "-pk")
        .values("created_at")[:1]
    )
    written = 0
    with transaction.atomic(durable=True):
        for kind in REMINDER_KINDS:
            rule = kind.reminder
            assert rule is not None
            # due = start - lead and due <= now <= due + grace, and now < start
            sessions = (
                Session.objects.filter(
                    status=SessionStatus.SCHEDULED,
                    scheduled_for__gt=now,
                    scheduled_for__lte=now + rule.lead,
                    scheduled_for__gte=now + rule.lead - rule.grace,
                )
                .select_related("plan", "customer", "mechanic__user")
                .annotate(armed_at=armed_at)
            )
            for session in sessions:
                assert session.scheduled_for is not None
                due = session.scheduled_for - rule.lead
                if session.armed_at is not None and session.armed_at > due:
                    continue
                facts = {**session_facts(session), "stamp": now.isoformat()}
                recipients = [session.customer]
                if session.mechanic_id:
                    recipients.append(session.mechanic.user)  # type: ignore[union-attr]
                for recipient in recipients:
                    if not getattr(preference_for(recipient), rule.preference):
                        continue  # this person turned this reminder off
                    created = notification_create(
                        recipient=recipient,
                        kind=kind.code,
                        session=session,
                        context={**facts, "role": role_of(session, recipient.pk)},
                        dedupe_key=reminder_key(kind.code, session, recipient.pk),
                        now=now,
                    )
                    written += created is not None
        for kind in VISIT_REMINDER_KINDS:
            written += _visit_reminders(kind, now=now)
    return written


def visit_reminder_key(kind: str, visit: Visit, recipient_id: int) -> str:
    start = visit.starts_at.strftime("%Y%m%dT%H%M%SZ")
    return f"{kind}:v{visit.pk}:{recipient_id}:{start}:s{visit.sequence}"


def _visit_reminders(kind: MessageKind, *, now: datetime) -> int:
    rule = kind.reminder
    assert rule is not None
    armed_at = Subquery(
        VisitEvent.objects.filter(visit=OuterRef("pk"), action__in=VISIT_ARMING_ACTIONS)
        .order_by("-created_at", "-pk")
        .values("created_at")[:1]
    )
    visits = (
        Visit.objects.filter(
            status=VisitStatus.CONFIRMED,
            starts_at__gt=now,
            starts_at__lte=now + rule.lead,
            starts_at__gte=now + rule.lead - rule.grace,
        )
        .select_related("workshop", "customer", "assigned_mechanic__user")
        .annotate(armed_at=armed_at)
    )
    written = 0
    for visit in visits:
        if visit.armed_at is not None and visit.armed_at > visit.starts_at - rule.lead:
            continue
        facts = {**visit_facts(visit), "stamp": now.isoformat(), "event": "reminder"}
        recipients = [(visit.customer, "customer")]
        if visit.assigned_mechanic:
            recipients.append((visit.assigned_mechanic.user, "mechanic"))
        for recipient, role in recipients:
            if not getattr(preference_for(recipient), rule.preference):
                continue
            created = notification_create(
                recipient=recipient,
                kind=kind.code,
                session=None,
                context={**facts, "role": role},
                dedupe_key=visit_reminder_key(kind.code, visit, recipient.pk),
                now=now,
            )
            written += created is not None
    return written
