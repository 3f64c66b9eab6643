"""Show instants in the viewer's own zone, always with the zone's name (invariant 3).

Every filter takes the viewer (a User) or an IANA zone name as its argument:
``{{ session.scheduled_for|when:user }}`` → "Tue 1 Dec 2026, 10:00 EST"
(in French « mar 1 déc. 2026, 10:00 EST »). Day and month names come from Django's
translated calendar (availability_tags.dated), never from strftime (English only).
"""

from datetime import date, datetime
from zoneinfo import ZoneInfo

from django import template
from django.conf import settings
from django.utils.translation import gettext_lazy

from autodoctor.availability.templatetags.availability_tags import dated

register = template.Library()


def zone_of(who: object) -> ZoneInfo:
    name = who if isinstance(who, str) else getattr(who, "time_zone", "")
    return ZoneInfo(name or settings.DEFAULT_DISPLAY_ZONE)


def _local(value: datetime, who: object) -> datetime:
    return value.astimezone(zone_of(who))


def _clock(local: datetime) -> str:
    return f"{local:%H:%M} {local.tzname()}"


@register.filter
def when(value: datetime | None, who: object) -> str:
    """Date and time with the zone abbreviation: "Tue 1 Dec 2026, 10:00 EST"."""
    if value is None:
        return ""
    local = _local(value, who)
    return f"{dated(local, 'D j M Y')}, {_clock(local)}"


@register.filter
def clock(value: datetime | None, who: object) -> str:
    """Time of day with the zone abbreviation: "10:00 EST"."""
    if value is None:
        return ""
    return _clock(_local(value, who))


@register.filter
def local_day(value: datetime | date | None, who: object = None) -> str:
    """The local date: "Tuesday 1 December 2026"."""
    if value is None:
        return ""
    day = _local(value, who).date() if isinstance(value, datetime) else value
    return dated(day, "l j F Y")


@register.filter
def zone_label(who: object, at: datetime | None = None) -> str:
    """The viewer's zone with its current abbreviation: "America/Toronto (EST)"."""
    zone = zone_of(who)
    moment = at or datetime.now(zone)
    return f"{zone.key} ({moment.astimezone(zone).tzname()})"


@register.filter
def iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


STATUS_BADGES = {
    "scheduled": "ok",
    "waiting": "ok",
    "live": "ok",
    "pending": "warn",
    "cancelled": "err",
    "reserved": "warn",
    "confirmed": "ok",
    "released": "err",
    "expired": "err",
}


@register.filter
def badge(status: str) -> str:
    """CSS class of the badge for a session or reservation status."""
    return STATUS_BADGES.get(status, "")


EVENT_WORDS = {
    "booking.session.requested": gettext_lazy("Requested"),
    "booking.session.held": gettext_lazy("Time held for checkout"),
    "booking.session.waitlist_offered": gettext_lazy("Time held for you from the waitlist"),
    "booking.session.hold_expired": gettext_lazy("Hold expired"),
    "booking.session.hold_released": gettext_lazy("Hold released"),
    "booking.session.confirmed": gettext_lazy("Booking confirmed"),
    "booking.offer.accepted": gettext_lazy("Mechanic accepted"),
    "booking.session.request_declined": gettext_lazy("Mechanic declined the request"),
    "booking.session.started": gettext_lazy("Session started"),
    "booking.session.completed": gettext_lazy("Session completed"),
    "booking.session.cancelled": gettext_lazy("Cancelled"),
    "booking.session.rescheduled": gettext_lazy("Rescheduled"),
    "booking.session.diagnosed": gettext_lazy("Diagnosis written"),
}


@register.filter
def event_words(action: str) -> str:
    """A history entry's action code in plain words."""
    words = EVENT_WORDS.get(action)
    return str(words) if words else action.rsplit(".", 1)[-1].replace("_", " ").capitalize()


@register.filter
def reasons_text(reasons: list[str] | None) -> str:
    """Matching reasons as one plain sentence: "Online now · knows brakes"."""
    if not reasons:
        return ""
    text = " · ".join(reasons)
    return text[:1].upper() + text[1:]


@register.filter
def from_iso(value: str | None) -> datetime | None:
    """An ISO 8601 string (as stored in history data) back to a datetime."""
    try:
        return datetime.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None


# A status in the words each party needs (the stored values stay the plan's names).
STATUS_WORDS = {
    "pending": gettext_lazy("Pending"),
    "waiting": gettext_lazy("Accepted · ready to join"),
    "scheduled": gettext_lazy("Booked"),
    "live": gettext_lazy("Live now"),
    "completed": gettext_lazy("Completed"),
    "cancelled": gettext_lazy("Cancelled"),
}


@register.filter
def status_words(status: str) -> str:
    """ "waiting" reads as "Accepted · ready to join", not as if still waiting."""
    words = STATUS_WORDS.get(status)
    return str(words) if words else str(status).capitalize()


@register.filter
def hhmm(value: datetime | None, who: object) -> str:
    """Time of day without the zone, for lists that state the zone once: "10:00"."""
    if value is None:
        return ""
    return f"{_local(value, who):%H:%M}"


# The hour grid's scale: 48 px an hour (a 15-minute session is 12 px, 44 px to tap
# through its padding-free link area is given by the whole block's min-height in CSS).
GRID_PX_PER_MINUTE = 0.8


@register.filter
def grid_px(minutes: int) -> int:
    """Minutes on the hour grid as pixels."""
    return round(int(minutes) * GRID_PX_PER_MINUTE)


@register.simple_tag
def grid_minutes_per_px() -> float:
    return 1 / GRID_PX_PER_MINUTE


@register.filter
def labour(minutes: int) -> str:
    """Estimated labour minutes in words: 90 -> "1 h 30 min"."""
    from autodoctor.booking.diagnosis import labour_words

    return labour_words(int(minutes))
