"""Which booking event sends which message to whom: the ACTIONS table.

`on_session_event` is registered with booking.events in NotificationsConfig.ready() and
runs INSIDE the transaction of every booking change, so the messages (and their outbox
rows) commit or roll back with the change itself (ARCHITECTURE invariant 7). It only
takes a snapshot of the facts and inserts rows; rendering and sending happen in the
worker, so nothing here can fail a booking for a template's sake.

To notify on a new event (payments, workshop decisions) add one line to ACTIONS and, if
it is a new kind of message, one to catalog.KINDS plus its template.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.utils import timezone

from autodoctor.accounts.models import User
from autodoctor.booking.models import Offer, OfferKind, OfferStatus, SessionEvent, SessionStatus

from .facts import diagnosis_facts, role_of, session_facts
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
    "booking.session.hold_expired": (Send("hold_expired", customer),),
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
