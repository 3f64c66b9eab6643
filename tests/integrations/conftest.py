"""Webhook fixtures: a real HTTP receiver on 127.0.0.1 (http.server in a thread), the
booking fixtures, and a helper that registers an endpoint pointing at the receiver."""

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from autodoctor.integrations import services
from autodoctor.integrations.events import EVENT_TYPES
from tests.booking import conftest as booking_fixtures
from tests.notifications import conftest as notification_fixtures

plans = booking_fixtures.plans
booking_customer = booking_fixtures.booking_customer
available_mechanic = booking_fixtures.available_mechanic
intake = booking_fixtures.intake
hold = booking_fixtures.hold
clock = notification_fixtures.clock
book = notification_fixtures.book


@dataclass
class Received:
    path: str
    headers: Message  # case-insensitive, as HTTP header names are
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """What the receiver got, and what it answers next: `answers` is consumed first
    (status codes), then `default`."""

    url: str
    requests: list[Received] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    default: int = 200
    delay: float = 0.0

    def events(self) -> list[tuple[str, int]]:
        return [(r.json["type"], r.json["data"]["id"]) for r in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                state.requests.append(Received(self.path, self.headers, body))
                status = state.answers.pop(0) if state.answers else state.default
            if state.delay:
                threading.Event().wait(state.delay)
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok " * 400 if status < 300 else b"receiver error")

        def log_message(self, format, *args) -> None:  # keep the test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def endpoint(receiver):
    """endpoint(owner, events=all) -> IssuedEndpoint (endpoint + its secret) at the receiver."""

    def _make(owner, events=EVENT_TYPES, url=None):
        return services.endpoint_create(
            owner=owner, url=url or receiver.url, event_types=list(events)
        )

    return _make
