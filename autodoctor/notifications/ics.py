"""Calendar files (RFC 5545 / iTIP RFC 5546), built with `icalendar`, never by hand.

One session is one VEVENT with a stable UID (`session-<id>@autodoctor`) for its whole
life, so calendars update or remove the event instead of duplicating it:
- the confirmation email carries METHOD:REQUEST with SEQUENCE = number of reschedules;
- each reschedule sends REQUEST again with the higher SEQUENCE;
- a cancellation sends METHOD:CANCEL, STATUS:CANCELLED, SEQUENCE one above the last.
The download (`/api/sessions/<id>/calendar.ics`) is METHOD:PUBLISH and the private
feeds carry no METHOD (they are subscriptions, not invitations).
DTSTART/DTEND are always written in UTC; calendars show them in the viewer's zone.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import parseaddr
from typing import Any

from django.conf import settings
from icalendar import Alarm, Calendar, Event, vCalAddress

from .facts import parse_time
from .links import session_links

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


def session_uid(session_id: int) -> str:
    return f"session-{session_id}@{UID_DOMAIN}"


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
    other = customer["name"] if role == "mechanic" else mechanic.get("name") or "your mechanic"
    summary = f"Auto Doctor {facts['type'].lower()} session with {other}"
    if role == "mechanic" and facts["vehicle"]:
        summary += f" ({facts['vehicle']})"
    description = "\n".join(
        line
        for line in [
            f"{facts['plan']} · {facts['duration_minutes']} minutes",
            f"Vehicle: {facts['vehicle']}" if facts["vehicle"] else "",
            f"Concern: {facts['concern']}",
            f"Join: {links['join']}",
            f"Reschedule: {links['reschedule']}",
            f"Cancel: {links['cancel']}",
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
    for entry in entries:
        calendar.add_component(_event(entry))
    return calendar.to_ical()


def _event(entry: CalendarEntry) -> Event:
    event = Event.new(
        uid=entry.uid,
        start=_utc(entry.start),
        end=_utc(entry.end),
        stamp=_utc(entry.stamp),
        summary=entry.summary,
        description=entry.description or None,
        sequence=entry.sequence,
        status="CANCELLED" if entry.cancelled else "CONFIRMED",
        location=entry.url,
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
            Alarm.new_display(description=f"In 15 minutes: {entry.summary}", trigger=-ALARM_BEFORE)
        )
    return event


def _utc[T: (datetime, date)](value: T) -> T:
    """Datetimes are written in UTC (…Z); plain dates (all-day time off) stay dates."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return value
