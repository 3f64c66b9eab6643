"""Turn a Notification (kind + facts snapshot) into the words and files a person gets.

Rendered when sent (and when shown in the notification centre), for the recipient as
they are now: every time in *their* zone with the zone's name. Message templates are
plain text, so they render with autoescape off (an apostrophe in a name must not become
`&#x27;` in an email or SMS).

Every message is rendered in the RECIPIENT's language (User.language; the site's default
for an address without an account), whoever caused it and whatever the sending request or
worker had active: message_render is the one place, for email, SMS, the calendar file
and the notification centre. Dates name their month and day in that language (Django's
formats). The labels a facts snapshot carries (session type, service, mode, urgency) are
stored in English (facts.py) and translated here.

A message about a workshop visit (facts with "visit_id") is the exception: its times
are shown in the WORKSHOP's zone, named, since the customer has to be there then; its
links lead to the visit page and its calendar file is ics.visit_entry.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.template import Context, Engine
from django.utils import dateformat, translation

from autodoctor.payments.models import money_label

from . import ics
from .catalog import KINDS, SMS
from .facts import parse_time, workshop_location
from .ics import label
from .links import session_links, visit_links
from .models import Notification


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    sms: str
    calendar: tuple[str, bytes] | None  # (iTIP method, .ics bytes) for the email


# A moment as messages write it, per language (Django's dateformat: localized day and
# month names; T is the zone's abbreviation). English: "Tue 1 Dec 2026, 10:00 EST".
WHEN_FORMATS = {"en": "D j M Y, H:i T", "fr": "D j b Y, H:i T"}


def when_label(moment: datetime, zone_name: str) -> str:
    """'Tue 1 Dec 2026, 10:00 EST (America/Toronto)' ('mar 1 déc 2026, 10:00 EST
    (America/Toronto)' in French): the pages' format plus the zone's full name, since a
    message is read away from the site (and EST is ambiguous)."""
    language = (translation.get_language() or settings.LANGUAGE_CODE).split("-")[0]
    local = moment.astimezone(ZoneInfo(zone_name or settings.DEFAULT_DISPLAY_ZONE))
    shown = dateformat.format(local, WHEN_FORMATS.get(language, WHEN_FORMATS["en"]))
    return f"{shown} ({zone_name})"


def localized_labels(facts: dict[str, Any]) -> dict[str, Any]:
    """The snapshot's English labels in the active language (their catalogues hold them)."""
    out = {key: label(facts[key]) for key in LABEL_FACTS if facts.get(key)}
    if diagnosis := facts.get("diagnosis"):
        out["diagnosis"] = {
            **diagnosis,
            **{key: label(diagnosis[key]) for key in LABEL_FACTS if diagnosis.get(key)},
        }
    return out


# Facts that hold a choice label (facts.py snapshots them in English).
LABEL_FACTS = ("type", "service", "mode", "service_type", "urgency_label")


def recipient_language(notification: Notification) -> str:
    user = notification.recipient
    return (user.language if user else "") or settings.LANGUAGE_CODE


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
        **localized_labels(facts),
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
        context["refund_amount"] = money_label(cents, refund.get("currency") or "CAD")
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
        **localized_labels(facts),
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
    """The message in its recipient's language (recipient_language), whatever is active."""
    with translation.override(recipient_language(notification)):
        return _render(notification, with_calendar=with_calendar)


def _render(notification: Notification, *, with_calendar: bool) -> Rendered:
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
    return Engine(app_dirs=True, libraries={"i18n": "django.templatetags.i18n"})


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
