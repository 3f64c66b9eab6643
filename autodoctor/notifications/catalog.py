"""Every kind of message we send, in one table.

A kind names its template (`templates/notifications/messages/<code>.txt`, with the
partials `subject`, `body` and, for SMS-capable kinds, `sms`), the channels that may
carry it (the recipient's preferences narrow this further), the iTIP method of the
calendar file an email of this kind carries, and for reminders when they are due.
Which booking event produces which kind is the table in events.py. Kinds about an
in-person workshop visit (`about="visit"`, codes `visit_*`) come from workshop events
(events.VISIT_ACTIONS); their `while_status` names visit statuses and their `link` a key
of links.visit_links.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.utils.translation import gettext_lazy as _

from autodoctor.booking.models import SessionStatus
from autodoctor.workshops.models import VisitStatus

from .models import Channel

EMAIL, SMS = Channel.EMAIL.value, Channel.SMS.value
PENDING, SCHEDULED = SessionStatus.PENDING.value, SessionStatus.SCHEDULED.value
V_REQUESTED, V_COUNTERED, V_CONFIRMED = (
    VisitStatus.REQUESTED.value,
    VisitStatus.COUNTERED.value,
    VisitStatus.CONFIRMED.value,
)


@dataclass(frozen=True)
class Reminder:
    """Due at `start - lead`; sent only while now is in [due, due + grace] (and before the
    start). A reminder whose moment passed longer ago than `grace` (worker down) is
    skipped, never sent late. `preference` is the NotificationPreference flag for it."""

    lead: timedelta
    grace: timedelta
    preference: str


@dataclass(frozen=True)
class MessageKind:
    code: str
    label: str  # lazy: shown in the reader's language
    channels: tuple[str, ...]  # empty: shown in the notification centre only
    calendar: str | None = None  # "REQUEST" / "CANCEL": the email carries appointment.ics
    reminder: Reminder | None = None
    # Sent only while the session is in one of these statuses (checked again just before
    # sending); empty = always. E.g. an offer alert is pointless once someone took it.
    while_status: tuple[str, ...] = ()
    link: str = "join"  # the key of links.session_links the notification centre links to
    # Account and security mail (verification, password reset, invitations, approval):
    # emailed whatever the preferences say, since turning them off would lock people out.
    essential: bool = False
    about: str = "session"  # or "visit": the facts are facts.visit_facts

    @property
    def template(self) -> str:
        return f"notifications/messages/{self.code}.txt"


def _visit_kinds() -> list[MessageKind]:
    def visit(code: str, label: str, channels: tuple[str, ...], **extra) -> MessageKind:
        return MessageKind(code, label, channels, about="visit", link="visit", **extra)

    return [
        visit("visit_requested", _("Visit request sent"), (EMAIL,), while_status=(V_REQUESTED,)),
        visit("visit_confirmed", _("Visit confirmed"), (EMAIL, SMS), calendar="REQUEST"),
        visit(
            "visit_countered",
            _("The workshop offered another time"),
            (EMAIL, SMS),
            while_status=(V_COUNTERED,),
        ),
        visit("visit_declined", _("Visit request declined"), (EMAIL,)),
        visit("visit_expired", _("Visit request lapsed"), (EMAIL,)),
        visit("visit_cancelled", _("Visit cancelled"), (EMAIL, SMS), calendar="CANCEL"),
        visit("visit_rescheduled", _("Visit moved"), (EMAIL, SMS), calendar="REQUEST"),
        visit("visit_assigned", _("Visit assigned to you"), (EMAIL,), calendar="REQUEST"),
        visit("visit_unassigned", _("Visit no longer yours"), (EMAIL,), calendar="CANCEL"),
        visit("visit_completed", _("Visit completed"), (EMAIL,)),
        visit("visit_no_show", _("Visit missed"), (EMAIL,)),
        visit(
            "visit_reminder_24h",
            _("Reminder: workshop visit tomorrow"),
            (EMAIL, SMS),
            reminder=Reminder(timedelta(hours=24), timedelta(hours=2), "remind_24h"),
            while_status=(V_CONFIRMED,),
        ),
        visit(
            "visit_reminder_1h",
            _("Reminder: workshop visit in 1 hour"),
            (EMAIL, SMS),
            reminder=Reminder(timedelta(hours=1), timedelta(minutes=20), "remind_1h"),
            while_status=(V_CONFIRMED,),
        ),
        # To the workshop's owner and staff (no calendar file: their board is the agenda).
        visit("visit_new_request", _("New visit request"), (EMAIL,), while_status=(V_REQUESTED,)),
        visit("visit_answered", _("The customer answered your offered time"), (EMAIL,)),
        visit("visit_customer_cancelled", _("A customer cancelled a visit"), (EMAIL,)),
        visit("visit_lapsed", _("A visit request lapsed"), (EMAIL,)),
    ]


KINDS: dict[str, MessageKind] = {
    kind.code: kind
    for kind in [
        MessageKind("confirmation", _("Session confirmed"), (EMAIL,), calendar="REQUEST"),
        MessageKind("rescheduled", _("Session moved"), (EMAIL, SMS), calendar="REQUEST"),
        MessageKind("cancelled", _("Session cancelled"), (EMAIL, SMS), calendar="CANCEL"),
        MessageKind(
            "offer_made", _("New session offer"), (EMAIL,), while_status=(PENDING,), link="offers"
        ),
        MessageKind("offer_taken", _("A mechanic accepted your session"), (EMAIL, SMS)),
        MessageKind("offer_closed", _("Offer taken by another mechanic"), (), link="offers"),
        MessageKind(
            "request_received", _("Booking request sent"), (EMAIL,), while_status=(PENDING,)
        ),
        MessageKind("request_declined", _("Booking request declined"), (EMAIL,), link="book"),
        MessageKind("request_expired", _("Booking request not answered"), (EMAIL,), link="book"),
        MessageKind(
            "hold_expired", _("Slot hold expired"), (EMAIL,), while_status=(PENDING,), link="book"
        ),
        MessageKind("payment_refunded", _("Payment refunded"), (EMAIL,), link="payments"),
        # The waitlist (booking.waitlist): freed time held for the first waiting customer.
        MessageKind(
            "waitlist_claim",
            _("A time opened up for you"),
            (EMAIL,),
            while_status=(PENDING,),
            link="claim",
        ),
        # The mechanic's diagnosis (booking.diagnosis) rides on the completion email; one
        # written after the session was completed gets its own first (and only) email.
        MessageKind("completed", _("Session completed"), (EMAIL,), link="session"),
        MessageKind("diagnosis_ready", _("Diagnosis ready"), (EMAIL,), link="session"),
        # The clock-driven lifecycle (booking.lifecycle). Both parties are in the room
        # when it goes live or is extended: the notification centre is enough.
        MessageKind("session_live", _("Session live"), ()),
        MessageKind("session_extended", _("Session extended"), ()),
        MessageKind("session_ended", _("Session ended at its time"), (EMAIL,), link="session"),
        MessageKind(
            "no_show", _("Session missed"), (EMAIL, SMS), calendar="CANCEL", link="session"
        ),
        MessageKind(
            "reminder_24h",
            _("Reminder: session tomorrow"),
            (EMAIL, SMS),
            reminder=Reminder(timedelta(hours=24), timedelta(hours=2), "remind_24h"),
            while_status=(SCHEDULED,),
        ),
        MessageKind(
            "reminder_1h",
            _("Reminder: session in 1 hour"),
            (EMAIL, SMS),
            reminder=Reminder(timedelta(hours=1), timedelta(minutes=20), "remind_1h"),
            while_status=(SCHEDULED,),
        ),
        # plan §13.1: 15 minutes before, when the room opens. Follows the "shortly
        # before" preference (remind_1h), so no new setting to find.
        MessageKind(
            "reminder_15m",
            _("Reminder: session in 15 minutes, join now"),
            (EMAIL, SMS),
            reminder=Reminder(timedelta(minutes=15), timedelta(minutes=10), "remind_1h"),
            while_status=(SCHEDULED,),
        ),
        # Accounts (autodoctor/accounts): the links carry single-use secrets built when
        # the message is rendered (accounts.tokens.message_link), never stored in clear.
        MessageKind("email_verify", _("Confirm your email address"), (EMAIL,), essential=True),
        MessageKind("account_exists", _("Sign-up with your address"), (EMAIL,), essential=True),
        MessageKind("password_reset", _("Password reset"), (EMAIL,), essential=True),
        MessageKind("password_changed", _("Password changed"), (EMAIL,), essential=True),
        MessageKind("invitation", _("Workshop invitation"), (EMAIL,), essential=True),
        MessageKind("invitation_answered", _("Invitation answered"), (EMAIL,)),
        MessageKind(
            "mechanic_reviewed", _("Mechanic application reviewed"), (EMAIL,), essential=True
        ),
        MessageKind("affiliation_ended", _("A mechanic left the workshop"), (EMAIL,)),
        # Integrations: an endpoint turned off after repeated failed deliveries.
        MessageKind("webhook_disabled", _("Webhook endpoint turned off"), (EMAIL,), essential=True),
        MessageKind("hours_review", _("Review your hours"), (EMAIL,)),
        # Workshop visits (issue 11). To the customer (and the assigned mechanic):
        *_visit_kinds(),
    ]
}

REMINDER_KINDS: tuple[MessageKind, ...] = tuple(
    k for k in KINDS.values() if k.reminder and k.about == "session"
)
VISIT_REMINDER_KINDS: tuple[MessageKind, ...] = tuple(
    k for k in KINDS.values() if k.reminder and k.about == "visit"
)
