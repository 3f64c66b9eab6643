"""Calendar files of live data: one session (API download) and a person's private feed."""

from datetime import date, datetime, time, timedelta

from django.utils.translation import gettext as _

from autodoctor.accounts.models import User
from autodoctor.availability.models import TimeOff
from autodoctor.booking.models import Session, SessionStatus
from autodoctor.errors import Conflict

from . import ics, selectors
from .facts import role_of, session_facts


def session_calendar(session: Session, *, viewer: User, now: datetime) -> bytes:
    entry = _session_entry(session, viewer=viewer, now=now)
    if entry is None:  # an immediate session has no time slot to put in a calendar
        raise Conflict(_("This session has no scheduled time."), code="not_scheduled")
    return ics.calendar_bytes([entry], method="PUBLISH")


def feed_calendar(user: User, *, now: datetime) -> bytes:
    """Upcoming (and last month's) sessions of `user`, plus a mechanic's approved time off."""
    entries = [
        entry
        for session in selectors.feed_sessions(user, now=now)
        if (entry := _session_entry(session, viewer=user, now=now)) is not None
    ]
    entries += [_time_off_entry(off, now=now) for off in selectors.feed_time_off(user, now=now)]
    return ics.calendar_bytes(entries, method=None, name=f"Auto Doctor — {user}")


def _session_entry(session: Session, *, viewer: User, now: datetime) -> ics.CalendarEntry | None:
    if session.scheduled_for is None:
        return None
    facts = session_facts(session)
    return ics.session_entry(
        facts,
        role=role_of(session, viewer.pk),
        stamp=now,
        cancelled=session.status == SessionStatus.CANCELLED,
    )


def _time_off_entry(off: TimeOff, *, now: datetime) -> ics.CalendarEntry:
    start: datetime | date = off.starts_at
    end: datetime | date = off.ends_at
    if off.all_day:
        # Entered as whole local dates: show them as all-day events in the mechanic's zone.
        zone = off.mechanic.user.zone
        start = off.starts_at.astimezone(zone).date()
        local_end = off.ends_at.astimezone(zone)
        end = local_end.date() + (timedelta(days=1) if local_end.time() != time(0) else timedelta())
    return ics.CalendarEntry(
        uid=f"timeoff-{off.pk}@{ics.UID_DOMAIN}",
        start=start,
        end=end,
        summary=_("Time off: %(reason)s") % {"reason": off.reason} if off.reason else _("Time off"),
        stamp=now,
        alarm=False,
    )
