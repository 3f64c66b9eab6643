"""Calendar files (RFC 5545 / iTIP RFC 5546), built with `icalendar`, never by hand.

One session is one VEVENT with a stable UID (`session-<id>@autodoctor`) for its whole
life, so calendars update or remove the event instead of duplicating it:
- the confirmation email carries METHOD:REQUEST with SEQUENCE = number of reschedules;
- each reschedule sends REQUEST again with the higher SEQUENCE;
- a cancellation sends METHOD:CANCEL, STATUS:CANCELLED, SEQUENCE one above the last.
The download (`/api/sessions/<id>/calendar.ics`) is METHOD:PUBLISH and the private
feeds carry no METHOD (they are subscriptions, not invitations).
DTSTART/DTEND of a session are written in UTC; calendars show them in the viewer's zone.

An in-person workshop visit is the same kind of VEVENT (`visit-<id>@autodoctor`, SEQUENCE
from Visit.sequence, which each move raises, +1 on CANCEL) with two differences: its
LOCATION is the workshop's street address, and its times are written in the WORKSHOP's
zone (TZID=America/Toronto...) with the matching VTIMEZONE, since the appointment is
fixed to that place (`calendar.add_missing_timezones()`).
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import parseaddr
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from icalendar import Alarm, Calendar, Event, vCalAddress

from .facts import parse_time, workshop_location
from .links import session_links, visit_links

PRODID = "-//Auto Doctor//Scheduling//EN"
UID_DOMAIN = "autodoctor"
ALARM_BEFORE = timedelta(minutes=15)


@dataclass(frozen=True)
class Person:
    name: str
    email: str


@dataclass(frozen=True)
class CalendarEntry:
    uid: str
    start: datetime | date
    end: datetime | date
    summary: str
    stamp: datetime
    description: str = ""
    url: str | None = None
    sequence: int = 0
    cancelled: bool = False
    organizer: Person | None = None
    attendees: tuple[Person, ...] = field(default=())
    alarm: bool = True
    alarm_before: timedelta = ALARM_BEFORE
    location: str | None = None  # default: the url (a session happens at its room)
    zone: str | None = None  # write the times in this zone (with VTIMEZONE); None: UTC


def label(english: str) -> str:
    """A choice label the facts hold in English (facts.py), in the reader's language.
    (gettext("") would be the catalogue's header, hence the guard.)"""
    return _(english) if english else english


def session_uid(session_id: int) -> str:
    return f"session-{session_id}@{UID_DOMAIN}"


def visit_uid(visit_id: int) -> str:
    return f"visit-{visit_id}@{UID_DOMAIN}"


def organizer() -> Person:
    name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return Person(name or "Auto Doctor", address)


def session_entry(
    facts: dict[str, Any],
    *,
    role: str,
    stamp: datetime,
    cancelled: bool = False,
) -> CalendarEntry:
    """The VEVENT of a session described by `facts` (facts.session_facts), worded for
    the party `role` ("customer" or "mechanic"). A cancellation's SEQUENCE is one above
    the last REQUEST so calendars accept it as newer."""
    start, end = parse_time(facts["starts_at"]), parse_time(facts["ends_at"])
    if start is None or end is None:
        raise ValueError("only a session with a start time has a calendar entry")
    links = session_links(facts["session_id"])
    mechanic = facts.get("mechanic") or {}
    customer = facts["customer"]
    other = customer["name"] if role == "mechanic" else mechanic.get("name") or _("your mechanic")
    # facts["type"] is the English label (facts.py): translated for the reader here.
    summary = _("Auto Doctor %(type)s session with %(other)s") % {
        "type": label(facts["type"]).lower(),
        "other": other,
    }
    if role == "mechanic" and facts["vehicle"]:
        summary += f" ({facts['vehicle']})"
    description = "\n".join(
        line
        for line in [
            _("%(plan)s · %(minutes)s minutes")
            % {"plan": facts["plan"], "minutes": facts["duration_minutes"]},
            _("Vehicle: %(vehicle)s") % {"vehicle": facts["vehicle"]} if facts["vehicle"] else "",
            _("Concern: %(concern)s") % {"concern": facts["concern"]},
            _("Join: %(link)s") % {"link": links["join"]},
            _("Reschedule: %(link)s") % {"link": links["reschedule"]},
            _("Cancel: %(link)s") % {"link": links["cancel"]},
        ]
        if line
    )
    attendees = tuple(Person(p["name"], p["email"]) for p in (customer, facts.get("mechanic")) if p)
    return CalendarEntry(
        uid=session_uid(facts["session_id"]),
        start=start,
        end=end,
        summary=summary,
        stamp=stamp,
        description=description,
        url=links["join"],
        sequence=facts["sequence"] + (1 if cancelled else 0),
        cancelled=cancelled,
        organizer=organizer(),
        attendees=attendees,
        alarm=not cancelled,
    )


def visit_entry(
    facts: dict[str, Any],
    *,
    role: str,
    stamp: datetime,
    cancelled: bool = False,
) -> CalendarEntry:
    """The VEVENT of a workshop visit described by `facts` (facts.visit_facts), worded
    for `role` ("customer" or "mechanic"): at the workshop's address, in its zone."""
    start, end = parse_time(facts["starts_at"]), parse_time(facts["ends_at"])
    if start is None or end is None:
        raise ValueError("only a visit with a time has a calendar entry")
    shop = facts["workshop"]
    link = visit_links(facts["visit_id"])["visit"]
    customer, mechanic = facts["customer"], facts.get("mechanic")
    location = workshop_location(facts)
    service = label(facts["service"])  # English labels in the facts (facts.py)
    if role == "mechanic":
        summary = _("Workshop visit: %(service)s for %(customer)s") % {
            "service": service,
            "customer": customer["name"],
        }
        if facts["vehicle"]:
            summary += f" ({facts['vehicle']})"
    else:
        summary = _("Auto Doctor visit at %(workshop)s: %(service)s") % {
            "workshop": shop["name"],
            "service": service,
        }
    description = "\n".join(
        line
        for line in [
            _("%(service)s · %(minutes)s minutes · %(mode)s")
            % {
                "service": service,
                "minutes": facts["duration_minutes"],
                "mode": label(facts["mode"]),
            },
            _("Workshop: %(workshop)s") % {"workshop": shop["name"]},
            _("Address: %(address)s") % {"address": location} if location else "",
            _("Vehicle: %(vehicle)s") % {"vehicle": facts["vehicle"]} if facts["vehicle"] else "",
            _("Concern: %(concern)s") % {"concern": facts["concern"]} if facts["concern"] else "",
            _("Details, reschedule or cancel: %(link)s") % {"link": link},
        ]
        if line
    )
    return CalendarEntry(
        uid=visit_uid(facts["visit_id"]),
        start=start,
        end=end,
        summary=summary,
        stamp=stamp,
        description=description,
        url=link,
        sequence=facts["sequence"] + (1 if cancelled else 0),
        cancelled=cancelled,
        organizer=organizer(),
        attendees=tuple(Person(p["name"], p["email"]) for p in (customer, mechanic) if p),
        alarm=not cancelled,
        alarm_before=timedelta(hours=1),  # time to drive there
        location=location or shop["name"],
        zone=shop["zone"],
    )


def calendar_bytes(
    entries: Iterable[CalendarEntry], *, method: str | None, name: str | None = None
) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    if method:
        calendar.add("method", method)
    if name:
        calendar.calendar_name = name  # NAME and X-WR-CALNAME
        calendar.refresh_interval = timedelta(hours=1)
    zoned = []
    for entry in entries:
        calendar.add_component(_event(entry))
        if entry.zone and isinstance(entry.start, datetime):
            zoned.append(entry.start.date())
    if zoned:  # a VTIMEZONE per TZID used (RFC 5545 3.2.19), covering the events' years
        calendar.add_missing_timezones(
            first_date=min(zoned) - timedelta(days=366), last_date=max(zoned) + timedelta(days=731)
        )
    return calendar.to_ical()


def _event(entry: CalendarEntry) -> Event:
    event = Event.new(
        uid=entry.uid,
        start=_in_zone(entry.start, entry.zone),
        end=_in_zone(entry.end, entry.zone),
        stamp=_utc(entry.stamp),
        summary=entry.summary,
        description=entry.description or None,
        sequence=entry.sequence,
        status="CANCELLED" if entry.cancelled else "CONFIRMED",
        location=entry.location or entry.url,
        url=entry.url,
        organizer=(
            vCalAddress.new(entry.organizer.email, cn=entry.organizer.name)
            if entry.organizer
            else None
        ),
        attendees=[
            vCalAddress.new(
                person.email,
                cn=person.name,
                role="REQ-PARTICIPANT",
                partstat="ACCEPTED",
                rsvp=False,
            )
            for person in entry.attendees
        ]
        or None,
        transparency="OPAQUE",
    )
    if entry.alarm:
        event.add_component(
            Alarm.new_display(
                description=_("In %(duration)s: %(summary)s")
                % {"duration": _duration_words(entry.alarm_before), "summary": entry.summary},
                trigger=-entry.alarm_before,
            )
        )
    return event


def _in_zone[T: (datetime, date)](value: T, zone: str | None) -> T:
    if zone and isinstance(value, datetime):
        return value.astimezone(ZoneInfo(zone))
    return _utc(value)


def _duration_words(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes % 60 == 0:
        hours = minutes // 60
        return ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours}
    return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}


def _utc[T: (datetime, date)](value: T) -> T:
    """Datetimes are written in UTC (…Z); plain dates (all-day time off) stay dates."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return value
