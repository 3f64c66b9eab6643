"""Mechanics' own calendars (Google / Apple / Outlook private ICS addresses) as busy time
(issue 16 part 2, plan §13.3: mechanics who do not keep their availability accurate).

This module owns:

* checking an address before it is saved or fetched (``calendar_url_clean``,
  ``_allowed_address``): http, https or webcal (read as https), and never a private,
  loopback or link-local server unless ``EXTERNAL_CALENDARS_ALLOW_PRIVATE`` (SSRF);
* fetching a feed (``feed_fetch``): conditional GET, a total time limit
  (``EXTERNAL_CALENDARS_TIMEOUT``), a size cap (``EXTERNAL_CALENDARS_MAX_BYTES``, reading
  stops beyond it), redirects only to http/https and re-checked like the first address;
* turning a feed into busy intervals (``feed_busy``, pure): recurring events expanded by
  ``recurring-ical-events`` (RRULE, RDATE, EXDATE, RECURRENCE-ID overrides), Google's
  ``X-WR-TIMEZONE`` read through ``x-wr-timezone``; busy = not ``TRANSP:TRANSPARENT``,
  not ``STATUS:CANCELLED``, not declined by the mechanic (their ``ATTENDEE`` with
  ``PARTSTAT=DECLINED``); all-day events block whole local days in the mechanic's zone;
  floating times are the mechanic's wall time;
* the writes (``external_calendar_add``, ``external_calendar_remove``,
  ``external_calendar_refresh_request``, ``external_calendar_refresh``,
  ``external_calendars_refresh_due``) and the busy source (``external_busy``, registered
  in AvailabilityConfig.ready) that the availability service reads in one query.

Robustness: a feed that times out, is too large, is not a calendar, cannot be reached or
answers anything but 200/304 leaves the last good rows in place and records
``last_error``; the slot listing only ever reads stored rows, so nothing in a feed can
break it. Security: the address is a secret -- log lines name the calendar id, never the
address, and people see only ``ExternalCalendar.url_hint``.
"""

from __future__ import annotations

import http.client
import ipaddress
import logging
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events
import x_wr_timezone
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from autodoctor.accounts.models import MechanicProfile, User
from autodoctor.errors import Conflict, InvalidInput, NotFound

from .engine import Interval, merge
from .models import ExternalBusy, ExternalCalendar
from .service import BusyPeriod, busy_rows

logger = logging.getLogger(__name__)

MAX_CALENDARS = 10
MAX_URL = 2000
# Busy rows kept per calendar after merging (90 days of a very full calendar fit).
MAX_BUSY_ROWS = 5000
# The span each good fetch expands: yesterday (a session in progress) to 90 days ahead
# (beyond the longest booking window anyone uses in practice).
HORIZON_BEFORE = timedelta(days=1)
HORIZON_AFTER = timedelta(days=90)
# "Refresh now" does nothing if the calendar was fetched less than this long ago.
REFRESH_AGAIN_AFTER = timedelta(minutes=1)
SCHEMES = {"http": "http", "https": "https", "webcal": "https"}
_CHUNK = 64 * 1024


class FeedError(Exception):
    """A feed could not be used; the message is for the mechanic (no address in it)."""


# ======================================================================================
# Addresses (SSRF)
# ======================================================================================


def calendar_url_clean(url: str) -> str:
    """The address as it will be fetched (webcal:// read as https://), or InvalidInput."""
    url = url.strip()
    if not url:
        raise InvalidInput(_("Paste the calendar's private address."), field="url")
    if len(url) > MAX_URL:
        raise InvalidInput(
            _("The address is longer than %(max_url)s characters.") % {"max_url": MAX_URL},
            field="url",
        )
    parts = urlsplit(url)
    scheme = SCHEMES.get(parts.scheme.lower())
    if scheme is None:
        raise InvalidInput(
            _("The address must start with https://, http:// or webcal://."), field="url"
        )
    if not parts.hostname:
        raise InvalidInput(_("The address has no server name."), field="url")
    if parts.username or parts.password:
        raise InvalidInput(
            _("Addresses with a user name or password are not supported."), field="url"
        )
    try:
        parts.port  # noqa: B018 -- raises ValueError on a bad port
    except ValueError:
        raise InvalidInput(_("The address has an invalid port."), field="url") from None
    return urlunsplit((scheme, parts.netloc, parts.path or "/", parts.query, ""))


def _allowed_address(host: str, port: int) -> str:
    """The first address ``host`` resolves to, refusing private, loopback, link-local,
    multicast and reserved ones unless EXTERNAL_CALENDARS_ALLOW_PRIVATE. Called at
    connect time for every connection (redirects included), so DNS cannot change the
    answer between the check and the connection."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise FeedError(_("The calendar's server name could not be found.")) from None
    addresses = [info[4][0] for info in infos]
    if not settings.EXTERNAL_CALENDARS_ALLOW_PRIVATE:
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%")[0])
            if not ip.is_global or ip.is_multicast:
                raise FeedError(_("The address points to a private network; it is refused."))
    return addresses[0]


def _guarded_connection(address: tuple[str, int], timeout: float, source_address=None, **kw):
    host, port = address
    return socket.create_connection((_allowed_address(host, port), port), timeout, source_address)


class _GuardedHTTP(http.client.HTTPConnection):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _guarded_connection


class _GuardedHTTPS(http.client.HTTPSConnection):
    # The TLS certificate is still checked against the host name (server_hostname).
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _guarded_connection


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_GuardedHTTP, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_GuardedHTTPS, req, context=self._context)


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    max_redirections = 5

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if urlsplit(newurl).scheme.lower() not in ("http", "https"):
            raise _refused_redirect()
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener() -> urllib.request.OpenerDirector:
    # Built by hand: no proxy from the environment, no file:// or ftp:// handlers.
    opener = urllib.request.OpenerDirector()
    for handler in (
        _HTTPHandler(),
        _HTTPSHandler(),
        urllib.request.HTTPDefaultErrorHandler(),
        _RedirectHandler(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener


# ======================================================================================
# Fetching
# ======================================================================================


@dataclass(frozen=True, slots=True)
class Feed:
    """A fetched feed: ``body`` is None when the server answered 304 Not Modified."""

    body: bytes | None
    etag: str = ""
    last_modified: str = ""


def feed_fetch(url: str, *, etag: str = "", last_modified: str = "") -> Feed:
    """GET the feed (conditionally when ``etag``/``last_modified`` are given). Raises
    FeedError for every failure: timeout (in total, not per read), more than the size
    cap, an unreachable or refused server, any status but 200 and 304."""
    timeout = settings.EXTERNAL_CALENDARS_TIMEOUT
    cap = settings.EXTERNAL_CALENDARS_MAX_BYTES
    headers = {"User-Agent": "AutoDoctor-Calendar/1", "Accept": "text/calendar, */*;q=0.5"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    request = urllib.request.Request(url, headers=headers)
    # A monotonic deadline bounds a server that drips bytes (no wall clock is read).
    deadline = time.monotonic() + timeout
    try:
        with _opener().open(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length", "")
            if length.isdigit() and int(length) > cap:
                raise _too_large(cap)
            chunks, size = [], 0
            while chunk := response.read(_CHUNK):
                size += len(chunk)
                if size > cap:
                    raise _too_large(cap)
                if time.monotonic() > deadline:
                    raise _timed_out(timeout)
                chunks.append(chunk)
            return Feed(
                b"".join(chunks),
                etag=(response.headers.get("ETag") or "")[:300],
                last_modified=(response.headers.get("Last-Modified") or "")[:100],
            )
    except urllib.error.HTTPError as error:
        if error.code == 304:
            return Feed(None, etag=etag, last_modified=last_modified)
        if 300 <= error.code < 400:  # urllib refused the target (file://, too many hops)
            raise _refused_redirect() from None
        raise FeedError(
            _("The calendar server answered %(code)s.") % {"code": error.code}
        ) from None
    except urllib.error.URLError as error:
        if isinstance(error.reason, TimeoutError):
            raise _timed_out(timeout) from None
        raise FeedError(_("The calendar server could not be reached.")) from None
    except TimeoutError:
        raise _timed_out(timeout) from None
    except (OSError, http.client.HTTPException, ValueError):
        raise FeedError(_("The calendar server could not be reached.")) from None


def _refused_redirect() -> FeedError:
    return FeedError(_("The calendar server redirected to an address we do not follow."))


def _too_large(cap: int) -> FeedError:
    return FeedError(
        _("The calendar file is larger than %(value)s MB.") % {"value": cap // (1024 * 1024) or 1}
    )


def _timed_out(timeout: float) -> FeedError:
    return FeedError(
        _("The calendar server did not answer within %(timeout)s s.")
        % {"timeout": format(timeout, "g")}
    )


# ======================================================================================
# Parsing (pure: no ORM, no clock)
# ======================================================================================


def feed_busy(body: bytes, *, zone: ZoneInfo, email: str, window: Interval) -> tuple[Interval, ...]:
    """The busy time of a feed inside ``window``, merged and sorted (UTC).

    A file that is not a calendar raises FeedError; a broken event or series inside a
    good file is skipped (the rest still counts)."""
    try:
        calendar = icalendar.Calendar.from_ical(body)
    except Exception:  # icalendar raises ValueError, KeyError, ... on bad input
        raise FeedError(_("The address did not return a calendar file.")) from None
    if not isinstance(calendar, icalendar.Calendar):
        raise FeedError(_("The address did not return a calendar file."))
    # Google writes UTC times plus X-WR-TIMEZONE; recurring_ical_events.of applies the
    # same conversion, doing it here keeps the step visible and the dependency explicit.
    calendar = x_wr_timezone.to_standard(calendar)
    email = email.strip().lower()
    busy: list[Interval] = []
    try:
        events = recurring_ical_events.of(calendar, skip_bad_series=True).between(
            window.start, window.end
        )
        for event in events:
            interval = _event_busy(event, zone=zone, email=email)
            if interval is not None and interval.overlaps(window):
                busy.append(
                    Interval(max(interval.start, window.start), min(interval.end, window.end))
                )
    except FeedError:
        raise
    except Exception:
        raise FeedError(_("The calendar file could not be read.")) from None
    return merge(busy)[:MAX_BUSY_ROWS]


def _event_busy(event: icalendar.Event, *, zone: ZoneInfo, email: str) -> Interval | None:
    if str(event.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
        return None
    if str(event.get("STATUS", "")).upper() == "CANCELLED":
        return None
    # Outlook marks "show as free" this way as well as (or instead of) TRANSP.
    if str(event.get("X-MICROSOFT-CDO-BUSYSTATUS", "")).upper() == "FREE":
        return None
    if email and _declined_by(event, email):
        return None
    try:
        start, end = _instant(event.start, zone), _instant(event.end, zone)
    except Exception:  # no DTSTART, a bad DURATION, ...: this event only
        return None
    return Interval(start, end) if start < end else None


def _declined_by(event: icalendar.Event, email: str) -> bool:
    attendees = event.get("ATTENDEE", [])
    if not isinstance(attendees, list):
        attendees = [attendees]
    for attendee in attendees:
        address = str(attendee).strip().lower().removeprefix("mailto:")
        partstat = str(getattr(attendee, "params", {}).get("PARTSTAT", "")).upper()
        if address == email and partstat == "DECLINED":
            return True
    return False


def _instant(value: date | datetime, zone: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        # Floating time (no zone): the mechanic's wall clock.
        return (value if value.tzinfo else value.replace(tzinfo=zone)).astimezone(UTC)
    # An all-day date: the mechanic's local midnight (DTEND is the exclusive next day).
    return datetime(value.year, value.month, value.day, tzinfo=zone).astimezone(UTC)


# ======================================================================================
# Reads
# ======================================================================================


def external_calendars_of(mechanic: MechanicProfile) -> QuerySet[ExternalCalendar]:
    """A mechanic's calendars with ``busy_count`` (stored busy stretches)."""
    return ExternalCalendar.objects.filter(mechanic=mechanic).annotate(busy_count=Count("busy"))


def external_busy(
    mechanic_ids: Collection[int] | None, window: Interval, *, now: datetime
) -> list[BusyPeriod]:
    """Busy source for the availability service (AvailabilityConfig.ready): the stored
    busy stretches of mechanics' external calendars overlapping ``window``. One query;
    never touches the network, so a feed cannot slow or break slot listing."""
    rows = busy_rows(
        f"SELECT mechanic_id, calendar_id, starts_at, ends_at FROM {ExternalBusy._meta.db_table}"
        " WHERE starts_at < %s AND ends_at > %s{ids}",
        [window.end, window.start],
        mechanic_ids,
    )
    return [
        BusyPeriod(mechanic_id, Interval(start, end), ("external_calendar", calendar_id))
        for mechanic_id, calendar_id, start, end in rows
    ]


# ======================================================================================
# Writes
# ======================================================================================


def _enqueue_refresh(calendar_id: int) -> None:
    from .tasks import external_calendar_refresh as task

    task.enqueue(calendar_id)


def external_calendar_add(
    *, mechanic: MechanicProfile, url: str, label: str = "", now: datetime | None = None
) -> ExternalCalendar:
    """Save a mechanic's calendar address and ask the worker to fetch it (after commit).
    Refuses a private/loopback server (SSRF) at once, before anything is saved."""
    now = now or timezone.now()
    url = calendar_url_clean(url)
    label = label.strip()
    if len(label) > 80:
        raise InvalidInput(_("The name is longer than 80 characters."), field="label")
    parts = urlsplit(url)
    try:
        _allowed_address(
            parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
        )
    except FeedError as error:
        raise InvalidInput(str(error), field="url") from None
    with transaction.atomic(durable=True):
        # Lock the mechanic's row so two adds cannot both pass the count.
        MechanicProfile.objects.select_for_update().filter(pk=mechanic.pk).first()
        calendars = ExternalCalendar.objects.filter(mechanic=mechanic)
        if calendars.filter(url=url).exists():
            raise Conflict(_("This calendar is already connected."), field="url")
        if calendars.count() >= MAX_CALENDARS:
            raise InvalidInput(
                _("At most %(max_calendars)s calendars can be connected.")
                % {"max_calendars": MAX_CALENDARS},
                field="url",
            )
        calendar = ExternalCalendar.objects.create(
            mechanic=mechanic, url=url, label=label, created_at=now
        )
        transaction.on_commit(lambda: _enqueue_refresh(calendar.pk), robust=True)
    logger.info("availability.external_calendar.added id=%s", calendar.pk)
    return calendar


def _own(actor: User, calendar_id: int) -> QuerySet[ExternalCalendar]:
    # Someone else's calendar answers "not found", like a missing one.
    return ExternalCalendar.objects.filter(pk=calendar_id, mechanic__user=actor)


def external_calendar_remove(*, actor: User, calendar_id: int) -> None:
    """Disconnect one of one's calendars: its busy time stops blocking at once."""
    with transaction.atomic(durable=True):
        calendar = _own(actor, calendar_id).select_for_update().first()
        if calendar is None:
            raise NotFound(_("No such calendar."))
        calendar.delete()
    logger.info("availability.external_calendar.removed id=%s", calendar_id)


def external_calendar_refresh_request(*, actor: User, calendar_id: int) -> ExternalCalendar:
    """ "Refresh now": ask the worker to fetch one of one's calendars soon."""
    with transaction.atomic(durable=True):
        calendar = _own(actor, calendar_id).first()
        if calendar is None:
            raise NotFound(_("No such calendar."))
        transaction.on_commit(lambda: _enqueue_refresh(calendar.pk), robust=True)
    return calendar


def _claim(calendar_id: int, *, now: datetime, fetched_before: datetime) -> bool:
    """Take the right to fetch: one conditional UPDATE, so of two workers (or a periodic
    run and a "Refresh now") exactly one fetches; no lock is held during the download."""
    return bool(
        ExternalCalendar.objects.filter(pk=calendar_id)
        .filter(Q(last_fetched_at__isnull=True) | Q(last_fetched_at__lte=fetched_before))
        .update(last_fetched_at=now)
    )


def external_calendar_refresh(
    *, calendar_id: int, now: datetime | None = None, fetched_before: datetime | None = None
) -> bool:
    """Fetch one calendar and replace its busy rows atomically (the worker's job).

    Skipped (False) when it was fetched after ``fetched_before`` (default: a minute ago)
    or no longer exists. A failure keeps the last good rows, records ``last_error`` and
    returns False; never raises for anything a feed does."""
    now = now or timezone.now()
    if not _claim(calendar_id, now=now, fetched_before=fetched_before or now - REFRESH_AGAIN_AFTER):
        return False
    calendar = (
        ExternalCalendar.objects.select_related("mechanic__user").filter(pk=calendar_id).first()
    )
    if calendar is None:
        return False
    user = calendar.mechanic.user
    window = Interval(now - HORIZON_BEFORE, now + HORIZON_AFTER)
    # A 304 keeps the stored rows only while they still reach a day short of the horizon.
    fresh = calendar.busy_until is not None and calendar.busy_until >= window.end - timedelta(
        days=1
    )
    try:
        feed = feed_fetch(
            calendar.url,
            etag=calendar.etag if fresh else "",
            last_modified=calendar.last_modified if fresh else "",
        )
        busy = (
            None
            if feed.body is None
            else feed_busy(feed.body, zone=user.zone, email=user.email, window=window)
        )
    except FeedError as error:
        ExternalCalendar.objects.filter(pk=calendar_id).update(last_error=str(error)[:300])
        logger.warning("availability.external_calendar.failed id=%s: %s", calendar_id, error)
        return False
    with transaction.atomic(durable=True):
        if not ExternalCalendar.objects.select_for_update().filter(pk=calendar_id).exists():
            return False  # removed while we were fetching
        changes = {"last_ok_at": now, "last_error": "", "etag": feed.etag}
        changes["last_modified"] = feed.last_modified
        if busy is not None:
            ExternalBusy.objects.filter(calendar_id=calendar_id).delete()
            ExternalBusy.objects.bulk_create(
                ExternalBusy(
                    calendar_id=calendar_id,
                    mechanic_id=calendar.mechanic_id,
                    starts_at=interval.start,
                    ends_at=interval.end,
                )
                for interval in busy
            )
            changes["busy_until"] = window.end
        ExternalCalendar.objects.filter(pk=calendar_id).update(**changes)
    logger.info(
        "availability.external_calendar.fetched id=%s busy=%s",
        calendar_id,
        "unchanged" if busy is None else len(busy),
    )
    return True


def external_calendars_due(*, now: datetime) -> Iterable[int]:
    """Calendars not fetched for EXTERNAL_CALENDARS_REFRESH_MINUTES, longest-waiting
    first. Each keeps its own 15-minute rhythm from when it was added, so fetches spread
    over the interval instead of all firing at once."""
    cutoff = now - timedelta(minutes=settings.EXTERNAL_CALENDARS_REFRESH_MINUTES)
    return (
        ExternalCalendar.objects.filter(
            Q(last_fetched_at__isnull=True) | Q(last_fetched_at__lte=cutoff)
        )
        .order_by("last_fetched_at", "pk")
        .values_list("pk", flat=True)[:200]
    )


def external_calendars_refresh_due(*, now: datetime | None = None) -> int:
    """The periodic job: refresh every due calendar (at most 200 a run); the number
    fetched successfully. Idempotent: a calendar fetched meanwhile is skipped."""
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=settings.EXTERNAL_CALENDARS_REFRESH_MINUTES)
    return sum(
        external_calendar_refresh(calendar_id=pk, now=now, fetched_before=cutoff)
        for pk in list(external_calendars_due(now=now))
    )
