"""Turn a Notification (kind + facts snapshot) into the words and files a person gets.

Rendered when sent (and when shown in the notification centre), for the recipient as
they are now: every time in *their* zone with the zone's name. Message templates are
plain text, so they render with autoescape off (an apostrophe in a name must not become
`&#x27;` in an email or SMS).

A message about a workshop visit (facts with "visit_id") is the exception: its times
are shown in the WORKSHOP's zone, named, since the customer has to be there then; its
links lead to the visit page and its calendar file is ics.visit_entry.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from django.conf import settings
from django.template import Context, Engine

from autodoctor.booking.templatetags.booking_tags import when

from . import ics
from .catalog import KINDS, SMS
from .facts import parse_time, workshop_location
from .links import session_links, visit_links
from .models import Notification


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    sms: str
    calendar: tuple[str, bytes] | None  # (iTIP method, .ics bytes) for the email


def when_label(moment: datetime, zone_name: str) -> str:
    """'Tue 1 Dec 2026, 10:00 EST (America/Toronto)': the pages' format plus the zone's
    full name, since a message is read away from the site (and EST is ambiguous)."""
    return f"{when(moment, zone_name)} ({zone_name})"


def message_context(notification: Notification) -> dict[str, Any]:
    facts = notification.context
    if "visit_id" in facts:
        return visit_message_context(notification)
    user = notification.recipient
    zone = user.time_zone if user else settings.DEFAULT_DISPLAY_ZONE
    role = facts.get("role", "customer")
    mechanic = facts.get("mechanic") or {}
    customer = facts.get("customer") or {}
    context: dict[str, Any] = {
        **facts,
        "recipient_name": (user.full_name or user.email) if user else notification.address,
        "zone": zone,
        "is_mechanic": role == "mechanic",
        "counterpart": customer.get("name") if role == "mechanic" else mechanic.get("name"),
        "links": session_links(facts.get("session_id", 0)),
    }
    for key in ("starts_at", "previous_starts_at"):
        moment = parse_time(facts.get(key))
        context[key.replace("starts_at", "when")] = when_label(moment, zone) if moment else ""
    if moment := parse_time(facts.get("extended_until")):  # a live session's new end
        context["ends_when"] = when_label(moment, zone)
    if link := facts.get("account_link"):
        from autodoctor.accounts.tokens import message_link

        context["account_url"] = message_link(link, user)
        for key in ("changed_at", "expires_at", "ended_at"):  # accounts' moments
            if moment := parse_time(facts.get(key)):
                context[f"when_{key.removesuffix('_at')}"] = when_label(moment, zone)
    # Other free times with the same mechanic: a refunded late payment's, or a closed request's.
    free = facts.get("next_free_slots") or []
    if refund := facts.get("refund"):
        cents = int(refund.get("amount_cents") or 0)
        context["refund_amount"] = f"${cents / 100:,.2f} {refund.get('currency') or 'CAD'}"
        free = refund.get("next_free_slots") or free
    context["alternatives"] = [
        when_label(moment, zone) for value in free if (moment := parse_time(value))
    ]
    return context


# The times a visit message names, as the templates call them.
VISIT_MOMENTS = {
    "starts_at": "when",
    "previous_starts_at": "previous_when",  # before a move
    "requested_starts_at": "requested_when",  # the customer's time, before another was offered
    "expires_at": "answer_by",  # a request or an offered time lapses then
}


def visit_message_context(notification: Notification) -> dict[str, Any]:
    facts = notification.context
    user = notification.recipient
    shop = facts["workshop"]
    zone = shop["zone"]
    role = facts.get("role", "customer")
    customer = facts.get("customer") or {}
    mechanic = facts.get("mechanic") or {}
    context: dict[str, Any] = {
        **facts,
        "recipient_name": (user.full_name or user.email) if user else notification.address,
        "zone": zone,
        "is_customer": role == "customer",
        "is_mechanic": role == "mechanic",
        "is_workshop": role == "workshop",
        "workshop_name": shop["name"],
        "location": workshop_location(facts),
        "customer_name": customer.get("name", ""),
        "mechanic_name": mechanic.get("name", ""),
        "links": visit_links(facts["visit_id"]),
    }
    for key, name in VISIT_MOMENTS.items():
        moment = parse_time(facts.get(key))
        context[name] = when_label(moment, zone) if moment else ""
    return context


def message_render(notification: Notification, *, with_calendar: bool = True) -> Rendered:
    kind = KINDS[notification.kind]
    context = Context(message_context(notification), autoescape=False)

    def part(name: str) -> str:
        return _tidy(_engine().get_template(f"{kind.template}#{name}").render(context))

    calendar = None
    if with_calendar and kind.calendar and notification.context.get("starts_at"):
        build = ics.visit_entry if "visit_id" in notification.context else ics.session_entry
        entry = build(
            notification.context,
            role=notification.context.get("role", "customer"),
            stamp=parse_time(notification.context["stamp"]) or notification.created_at,
            cancelled=kind.calendar == "CANCEL",
        )
        calendar = (kind.calendar, ics.calendar_bytes([entry], method=kind.calendar))
    return Rendered(
        subject=" ".join(part("subject").split()),
        body=part("body") + "\n",
        sms=part("sms") if SMS in kind.channels else "",
        calendar=calendar,
    )


@cache
def _engine() -> Engine:
    return Engine(app_dirs=True)


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
