"""A real HTTP server on 127.0.0.1 serving calendar feeds to the external-calendar tests,
and the feeds themselves (RFC 5545 text as Google / Apple / Outlook write it)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

# Monday 2027-03-01 10:00 in Toronto (15:00 UTC); clocks spring forward on Sunday the 14th.
NOW = datetime(2027, 3, 1, 15, 0, tzinfo=UTC)
EMAIL = "mech@example.com"


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (a slow server)
    length: bool = True  # send Content-Length (False: stream until closed)


class FeedServer:
    """``server.serve("/x.ics", Route(...))``; ``server.url("/x.ics")``; ``server.hits``
    counts requests per path, ``server.seen`` keeps each request's headers."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: dict[str, int] = {}
        self.seen: list[dict[str, str]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_GET(self) -> None:
                owner.hits[self.path] = owner.hits.get(self.path, 0) + 1
                owner.seen.append(dict(self.headers))
                route = owner.routes.get(self.path, Route(b"missing", status=404))
                if route.delay:
                    time.sleep(route.delay)
                self.send_response(route.status)
                for name, value in route.headers.items():
                    self.send_header(name, value)
                if route.length:
                    self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                # The client may stop reading (the size cap): expected.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(route.body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def serve(self, path: str, route: Route | str | bytes) -> str:
        if not isinstance(route, Route):
            route = Route(route.encode() if isinstance(route, str) else route)
        self.routes[path] = route
        return self.url(path)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    server = FeedServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def ics(*events: str, head: str = "") -> str:
    """A VCALENDAR around ``events`` (each the lines between BEGIN/END:VEVENT)."""
    body = "".join(f"BEGIN:VEVENT\r\n{event.strip()}\r\nEND:VEVENT\r\n" for event in events)
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//feeds//EN\r\n"
        f"{head}{body}END:VCALENDAR\r\n"
    )


def lines(text: str) -> str:
    return "\r\n".join(line.strip() for line in text.strip().splitlines())


# A weekly Monday 10:00–11:00 Toronto series across the DST change: Mar 8 removed by
# EXDATE, Mar 22 moved to 13:00 by a RECURRENCE-ID override, Mar 29 cancelled.
WEEKLY = ics(
    lines("""
    UID:weekly@test
    DTSTAMP:20270101T000000Z
    SUMMARY:Kids to school
    DTSTART;TZID=America/Toronto:20270301T100000
    DTEND;TZID=America/Toronto:20270301T110000
    RRULE:FREQ=WEEKLY;COUNT=5
    EXDATE;TZID=America/Toronto:20270308T100000
    """),
    lines("""
    UID:weekly@test
    DTSTAMP:20270101T000000Z
    RECURRENCE-ID;TZID=America/Toronto:20270322T100000
    DTSTART;TZID=America/Toronto:20270322T130000
    DTEND;TZID=America/Toronto:20270322T140000
    """),
    lines("""
    UID:weekly@test
    DTSTAMP:20270101T000000Z
    RECURRENCE-ID;TZID=America/Toronto:20270329T100000
    DTSTART;TZID=America/Toronto:20270329T100000
    DTEND;TZID=America/Toronto:20270329T110000
    STATUS:CANCELLED
    """),
)

# Friday 2027-03-05, all day; and Saturday 13 – Sunday 14 (the short DST day).
ALL_DAY = ics(
    lines("""
    UID:allday@test
    DTSTAMP:20270101T000000Z
    DTSTART;VALUE=DATE:20270305
    DTEND;VALUE=DATE:20270306
    """),
    lines("""
    UID:weekend@test
    DTSTAMP:20270101T000000Z
    DTSTART;VALUE=DATE:20270313
    DTEND;VALUE=DATE:20270315
    """),
)

# Tuesday 2027-03-02: a "free" reminder at 09:00, an invite the mechanic declined at
# 11:00, one they accepted (someone else declined) at 14:00.
INVITES = ics(
    lines("""
    UID:free@test
    DTSTAMP:20270101T000000Z
    DTSTART:20270302T140000Z
    DTEND:20270302T150000Z
    TRANSP:TRANSPARENT
    """),
    lines(f"""
    UID:declined@test
    DTSTAMP:20270101T000000Z
    DTSTART:20270302T160000Z
    DTEND:20270302T170000Z
    ORGANIZER:mailto:boss@example.com
    ATTENDEE;CN=Me;PARTSTAT=DECLINED:mailto:{EMAIL.upper()}
    ATTENDEE;PARTSTAT=ACCEPTED:mailto:boss@example.com
    """),
    lines(f"""
    UID:accepted@test
    DTSTAMP:20270101T000000Z
    DTSTART:20270302T190000Z
    DTEND:20270302T200000Z
    ATTENDEE;PARTSTAT=ACCEPTED:mailto:{EMAIL}
    ATTENDEE;PARTSTAT=DECLINED:mailto:other@example.com
    """),
)

# Google: UTC times plus X-WR-TIMEZONE; the series stays at 10:00 local after the change.
GOOGLE = ics(
    lines("""
    UID:google@test
    DTSTAMP:20270101T000000Z
    DTSTART:20270302T150000Z
    DTEND:20270302T160000Z
    RRULE:FREQ=WEEKLY;COUNT=3
    """),
    head="X-WR-CALNAME:Personal\r\nX-WR-TIMEZONE:America/Toronto\r\n",
)

# One plain event: Tuesday 2027-03-02 12:00–13:00 Toronto.
LUNCH = ics(
    lines("""
    UID:lunch@test
    DTSTAMP:20270101T000000Z
    DTSTART;TZID=America/Toronto:20270302T120000
    DTEND;TZID=America/Toronto:20270302T130000
    """)
)
