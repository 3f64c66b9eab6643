"""Which booking event sends which message to whom: the ACTIONS table.

`on_session_event` is registered with booking.events in NotificationsConfig.ready() and
runs INSIDE the transaction of every booking change, so the messages (and their outbox
rows) commit or roll back with the change itself (ARCHITECTURE invariant 7). It only
takes a snapshot of the facts and inserts rows; rendering and sending happen in the
worker, so nothing here can fail a booking for a template's sake.

To notify on a new event (payments, workshop decisions) add one line to ACTIONS and, if
it is a new kind of message, one to catalog.KINDS plus its template.

Workshop visits work the same way: `on_visit_event` is registered with
workshops.events and reads the VISIT_ACTIONS table (who gets which `visit_*` kind, as
which role). Their Notification has no session; the visit id is in the facts.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from autodoctor.accounts.models import MechanicProfile, User
from autodoctor.booking.models import Offer, OfferKind, OfferStatus, SessionEvent, SessionStatus
from autodoctor.workshops.models import VisitEvent, VisitStatus

from .facts import diagnosis_facts, role_of, session_facts, visit_facts
from .services import notification_create

Audience = Callable[[SessionEvent], list[User]]
Condition = Callable[[SessionEvent], bool]


def customer(event: SessionEvent) -> list[User]:
    return [event.session.customer]


def mechanic(event: SessionEvent) -> list[User]:
    session = event.session
    return [session.mechanic.user] if session.mechanic_id else []  # type: ignore[union-attr]


def both_parties(event: SessionEvent) -> list[User]:
    return customer(event) + mechanic(event)


def offered_mechanics(event: SessionEvent) -> list[User]:
    """Mechanics named by an open targeted offer or booking request (not broadcasts:
    those go to everyone and are browsed in the offers inbox)."""
    offers = Offer.objects.filter(
        session=event.session,
        kind__in=[OfferKind.TARGETED, OfferKind.REQUEST],
        status=OfferStatus.OFFERED,
    ).select_related("mechanic__user")
    return [offer.mechanic.user for offer in offers if offer.mechanic]


def outrun_mechanics(event: SessionEvent) -> list[User]:
    """Targeted mechanics whose offer another mechanic just took."""
    offers = Offer.objects.filter(
        session=event.session, kind=OfferKind.TARGETED, status=OfferStatus.TAKEN
    ).select_related("mechanic__user")
    return [offer.mechanic.user for offer in offers if offer.mechanic]


def is_request(event: SessionEvent) -> bool:
    return event.data.get("kind") == OfferKind.REQUEST


def is_not_request(event: SessionEvent) -> bool:
    return not is_request(event)


def was_booked(event: SessionEvent) -> bool:
    """Cancelled after a mechanic had it (an abandoned request or checkout is not news)."""
    return event.data.get("from") in {
        SessionStatus.SCHEDULED,
        SessionStatus.WAITING,
        SessionStatus.LIVE,
    }


def is_scheduled_request(event: SessionEvent) -> bool:
    return event.data.get("mode") == "scheduled_request"


def is_expired_request(event: SessionEvent) -> bool:
    """A booking request closed because its mechanic did not answer by the deadline."""
    return bool(event.data.get("request_expired"))


def is_no_show(event: SessionEvent) -> bool:
    """Closed by the clock because a side never joined (booking.lifecycle)."""
    return bool(event.data.get("no_show"))


def was_booked_not_no_show(event: SessionEvent) -> bool:
    return was_booked(event) and not is_no_show(event)


def by_the_clock(event: SessionEvent) -> bool:
    """Moved by the lifecycle job, not by a person in the room (booking.lifecycle)."""
    return event.data.get("by") == "clock"


def is_not_waitlist_claim(event: SessionEvent) -> bool:
    """Not the hold of a waitlist claim (booking.waitlist): an untaken claim passes to the
    next customer quietly; My waitlist says so."""
    return "waitlist_entry_id" not in (event.session.metadata or {})


def refund_is_news(event: SessionEvent) -> bool:
    """Money went back, or a trial can be used again (a free session's $0 is not news)."""
    return bool(event.data.get("amount_cents")) or bool(event.data.get("trial_restored"))


def diagnosed_after_completion(event: SessionEvent) -> bool:
    """A first diagnosis written once the completion email had gone without one (a
    correction, or one saved while completing, is not news: the page shows it)."""
    return (
        bool(event.data.get("first"))
        and not event.data.get("completes")
        and event.session.status == SessionStatus.COMPLETED
    )


@dataclass(frozen=True)
class Send:
    kind: str
    to: Audience
    when: Condition | None = None


ACTIONS: dict[str, tuple[Send, ...]] = {
    "booking.session.confirmed": (Send("confirmation", both_parties),),
    "booking.offer.accepted": (
        Send("confirmation", both_parties, when=is_request),  # a scheduled request accepted
        Send("offer_taken", customer, when=is_not_request),  # "start now": join link
        Send("offer_closed", outrun_mechanics, when=is_not_request),
    ),
    "booking.session.rescheduled": (Send("rescheduled", both_parties),),
    "booking.session.cancelled": (
        Send("cancelled", both_parties, when=was_booked_not_no_show),
        Send("no_show", both_parties, when=is_no_show),
        Send("request_expired", customer, when=is_expired_request),
    ),
    "booking.session.requested": (
        Send("offer_made", offered_mechanics),
        Send("request_received", customer, when=is_scheduled_request),
    ),
    "booking.session.request_declined": (Send("request_declined", customer),),
    "booking.session.hold_expired": (Send("hold_expired", customer, when=is_not_waitlist_claim),),
    "booking.session.waitlist_offered": (Send("waitlist_claim", customer),),
    # Recorded by payments.services.refunds.refund_issue in the refunding transaction.
    "payments.payment.refunded": (Send("payment_refunded", customer, when=refund_is_news),),
    "booking.session.completed": (
        Send("completed", customer),
        Send("session_ended", mechanic, when=by_the_clock),
    ),
    # The clock-driven lifecycle (booking.lifecycle): live when both joined, extensions.
    "booking.session.started": (Send("session_live", both_parties, when=by_the_clock),),
    "booking.session.extended": (Send("session_extended", both_parties),),
    "booking.session.diagnosed": (
        Send("diagnosis_ready", customer, when=diagnosed_after_completion),
    ),
    # Later: workshop appointment decisions.
}


def on_session_event(event: SessionEvent) -> None:
    sends = [
        send for send in ACTIONS.get(event.action, ()) if send.when is None or send.when(event)
    ]
    if not sends:
        return
    session = event.session
    now = timezone.now()
    facts = session_facts(session)
    facts["stamp"] = (event.created_at or now).isoformat()
    facts["event"] = event.action
    if event.action == "booking.session.rescheduled":
        facts["previous_starts_at"] = event.data.get("from")
        facts["by"] = event.data.get("by", "")
    if event.action == "booking.session.cancelled":
        facts["cancelled_by"] = event.data.get("by", "")
        facts["reason"] = event.data.get("reason", "")
        facts["next_free_slots"] = event.data.get("next_free_slots") or []
    if is_no_show(event):
        facts["no_show"] = event.data["no_show"]
        facts["grace_minutes"] = event.data.get("grace_minutes")
    if event.action == "booking.session.extended":
        facts["extension_minutes"] = event.data.get("minutes")
        facts["extended_until"] = event.data.get("ends_at")

    if event.action == "booking.session.waitlist_offered":
        facts["claim_minutes"] = settings.WAITLIST_CLAIM_MINUTES
    if event.action in ("booking.session.completed", "booking.session.diagnosed"):
        facts["diagnosis"] = diagnosis_facts(session)
    if event.action == "payments.payment.refunded":
        facts["cancellation_reason"] = session.cancellation_reason
        facts["refund"] = {
            key: event.data.get(key)
            for key in (
                "amount_cents",
                "currency",
                "destination",
                "reason",
                "next_free_slots",
                "trial_restored",
            )
        }
    for send in sends:
        for recipient in send.to(event):
            notification_create(
                recipient=recipient,
                kind=send.kind,
                session=session,
                context={**facts, "role": role_of(session, recipient.pk)},
                dedupe_key=f"{send.kind}:{session.pk}:{recipient.pk}:e{event.pk}",
                now=now,
            )


# --------------------------------------------------------------------------- visits

BOOKED_VISIT = (VisitStatus.CONFIRMED, VisitStatus.CHECKED_IN)
VisitAudience = Callable[[VisitEvent], list[User]]
VisitCondition = Callable[[VisitEvent], bool]


def visit_customer(event: VisitEvent) -> list[User]:
    return [event.visit.customer]


def visit_mechanic(event: VisitEvent) -> list[User]:
    """The mechanic assigned to the visit now."""
    mechanic = event.visit.assigned_mechanic
    return [mechanic.user] if mechanic else []


def workshop_people(event: VisitEvent) -> list[User]:
    """The workshop's owner and staff, each once."""
    workshop = event.visit.workshop
    people = {workshop.owner_id: workshop.owner}
    people.update((user.pk, user) for user in workshop.staff.filter(is_active=True))
    return [user for user in people.values() if user.is_active]


def dropped_mechanic(event: VisitEvent) -> list[User]:
    """A mechanic this event took the visit away from: the one replaced by an
    assignment, or the one the visit had when the customer moved it (the move makes it
    a request again, unassigned). They get a CANCEL for their calendar."""
    if event.action == "workshops.visit.assigned":
        if event.visit.status not in BOOKED_VISIT:
            return []  # a request's assignee never got a calendar entry
        previous = event.data.get("previous_mechanic_id")
        mechanic_id = previous if previous != event.data.get("mechanic_id") else None
    else:
        last = (
            VisitEvent.objects.filter(
                visit=event.visit,
                pk__lt=event.pk,
                action__in=["workshops.visit.confirmed", "workshops.visit.assigned"],
            )
            .order_by("-pk")
            .values_list("data", flat=True)
            .first()
        )
        mechanic_id = (last or {}).get("mechanic_id")
    if not mechanic_id or mechanic_id == event.visit.assigned_mechanic_id:
        return []
    profile = MechanicProfile.objects.filter(pk=mechanic_id).select_related("user").first()
    return [profile.user] if profile else []


def newly_assigned(event: VisitEvent) -> list[User]:
    """The mechanic an assignment gave a booked visit to (a request's assignee hears of
    it when the workshop confirms)."""
    if event.data.get("mechanic_id") == event.data.get("previous_mechanic_id"):
        return []
    if event.visit.status not in BOOKED_VISIT:
        return []
    return visit_mechanic(event)


def by_customer(event: VisitEvent) -> bool:
    return event.data.get("by") == "customer"


def by_workshop(event: VisitEvent) -> bool:
    return event.data.get("by") != "customer"


def was_booked_visit(event: VisitEvent) -> bool:
    """The visit was confirmed before this event (so it was in calendars: a request or
    an offered time never is)."""
    return event.data.get("from") in BOOKED_VISIT


def customer_moved_booked(event: VisitEvent) -> bool:
    return by_customer(event) and was_booked_visit(event)


@dataclass(frozen=True)
class VisitSend:
    kind: str
    to: VisitAudience
    role: str  # "customer", "workshop" or "mechanic": how the message is worded
    when: VisitCondition | None = None


VISIT_ACTIONS: dict[str, tuple[VisitSend, ...]] = {
    "workshops.visit.requested": (
        VisitSend("visit_new_request", workshop_people, "workshop"),
        VisitSend("visit_requested", visit_customer, "customer"),
    ),
    "workshops.visit.confirmed": (
        VisitSend("visit_confirmed", visit_customer, "customer"),
        VisitSend("visit_confirmed", visit_mechanic, "mechanic"),
    ),
    "workshops.visit.countered": (VisitSend("visit_countered", visit_customer, "customer"),),
    "workshops.visit.counter_accepted": (
        VisitSend("visit_confirmed", visit_customer, "customer"),
        VisitSend("visit_confirmed", visit_mechanic, "mechanic"),
        VisitSend("visit_answered", workshop_people, "workshop"),
    ),
    "workshops.visit.counter_declined": (VisitSend("visit_answered", workshop_people, "workshop"),),
    "workshops.visit.declined": (VisitSend("visit_declined", visit_customer, "customer"),),
    "workshops.visit.expired": (
        VisitSend("visit_expired", visit_customer, "customer"),
        VisitSend("visit_lapsed", workshop_people, "workshop"),
    ),
    "workshops.visit.cancelled": (
        VisitSend("visit_cancelled", visit_customer, "customer", when=by_workshop),
        VisitSend("visit_customer_cancelled", workshop_people, "workshop", when=by_customer),
        VisitSend("visit_unassigned", visit_mechanic, "mechanic", when=was_booked_visit),
    ),
    "workshops.visit.rescheduled": (
        # The workshop moved a confirmed visit: it stays confirmed at the new time.
        VisitSend("visit_rescheduled", visit_customer, "customer", when=by_workshop),
        VisitSend("visit_rescheduled", visit_mechanic, "mechanic", when=by_workshop),
        # The customer asked for another time: a request again, for the workshop to answer.
        VisitSend("visit_new_request", workshop_people, "workshop", when=by_customer),
        VisitSend("visit_requested", visit_customer, "customer", when=by_customer),
        VisitSend("visit_unassigned", dropped_mechanic, "mechanic", when=customer_moved_booked),
    ),
    "workshops.visit.assigned": (
        VisitSend("visit_assigned", newly_assigned, "mechanic"),
        VisitSend("visit_unassigned", dropped_mechanic, "mechanic"),
    ),
    "workshops.visit.completed": (VisitSend("visit_completed", visit_customer, "customer"),),
    "workshops.visit.no_show": (VisitSend("visit_no_show", visit_customer, "customer"),),
    # checked_in: nobody needs a message (the customer is at the counter).
}


def visit_event_facts(event: VisitEvent, *, now) -> dict:
    """The visit's facts plus what this event says (who acted, why, the earlier time)."""
    facts = visit_facts(event.visit)
    facts["stamp"] = (event.created_at or now).isoformat()
    facts["event"] = event.action.removeprefix("workshops.visit.")
    facts["by"] = event.data.get("by", "")
    if "reason" in event.data:
        facts["reason"] = event.data["reason"]
    if from_time := event.data.get("from_time"):
        facts["previous_starts_at"] = from_time
    facts["was_confirmed"] = event.data.get("from") == VisitStatus.CONFIRMED
    facts["was"] = event.data.get("was", "")  # an expiry: "requested" or "countered"
    return facts


def on_visit_event(event: VisitEvent) -> None:
    sends = [
        send
        for send in VISIT_ACTIONS.get(event.action, ())
        if send.when is None or send.when(event)
    ]
    if not sends:
        return
    visit = event.visit
    now = timezone.now()
    facts = visit_event_facts(event, now=now)
    for send in sends:
        for recipient in send.to(event):
            notification_create(
                recipient=recipient,
                kind=send.kind,
                session=None,
                context={**facts, "role": send.role},
                dedupe_key=f"{send.kind}:v{visit.pk}:{recipient.pk}:e{event.pk}",
                now=now,
            )
