"""Faults against a real server process (gunicorn running tests/faults/app.py):

- the web server SIGKILLed in the middle of a booking's transaction: the booking is
  not half-made, nothing is doubled when the customer retries, and an abandoned hold
  still expires;
- PostgreSQL refusing connections and dropping the server's (what a restart does):
  requests answer 503 `busy`, then work again without restarting the app;
- customers racing for one slot through several server processes (issue 15): one
  booking, every other customer a 409, no 5xx.

The server's clock starts at NOW (tests/faults/app.py), like the test's.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.client import HTTPException
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.test import Client

from autodoctor.accounts.services import api_token_create
from autodoctor.booking.models import Reservation, ReservationStatus, Session, SessionStatus
from autodoctor.booking.services import holds_expire_all
from autodoctor.notifications.models import Notification
from tests.factories import CustomerFactory, MechanicFactory, weekly_hours
from tests.notifications.test_worker_kill import database_url

pytestmark = [pytest.mark.race, pytest.mark.django_db(transaction=True)]

NOW = datetime(2031, 1, 14, 15, 0, tzinfo=UTC)  # a Tuesday
SLOT = datetime(2031, 1, 15, 16, 0, tzinfo=UTC)
OTHER_SLOT = SLOT + timedelta(hours=2)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=True):
        yield


class Answer:
    def __init__(self, status: int, headers, body: bytes) -> None:
        self.status_code, self.headers, self.text = status, headers, body.decode()

    def json(self) -> dict:
        return json.loads(self.text)


LOST = (urllib.error.URLError, HTTPException, ConnectionError, TimeoutError)


def call(
    method: str,
    url: str,
    *,
    headers: dict | None = None,
    body: dict | None = None,
    timeout: float = 30,
) -> Answer:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={**(headers or {}), **({"Content-Type": "application/json"} if data else {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Answer(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.headers, error.read())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_server(
    tmp_path: Path, workers: int = 1, **env: str
) -> Iterator[tuple[str, subprocess.Popen]]:
    port = _free_port()
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(),
        "FAULT_NOW": NOW.isoformat(),
        "DEBUG": "false",
        "SECRET_KEY": "fault-tests-only",
        "SIMULATED_PAYMENTS_SECRET": "fault-tests-only",
        "SECURE_SSL_REDIRECT": "false",
        "AUTODOCTOR_VAR_DIR": str(tmp_path),
        **env,
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "tests.faults.app:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            "4",
            "--timeout",
            "300",
            "--log-level",
            "warning",
        ],
        env=environment,
        cwd=settings.BASE_DIR,
        start_new_session=True,  # its own process group: SIGKILL reaches master and worker
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, "the server exited while starting"
            try:
                call("GET", f"{url}/login/", timeout=2)
                break
            except LOST:
                assert time.monotonic() < deadline, "the server never answered"
                time.sleep(0.1)
        yield url, server
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)


@pytest.fixture
def people():
    customer = CustomerFactory().user
    mechanic = MechanicFactory()
    weekly_hours(mechanic, days=range(7), start=0, end=24 * 60)
    token = api_token_create(user=customer, name="faults").raw
    return customer, mechanic, {"Authorization": f"Bearer {token}"}


def _hold(url: str, headers: dict, mechanic, start: datetime) -> int:
    response = call(
        "POST",
        f"{url}/api/slots/reserve",
        headers=headers,
        body={
            "plan": "free",
            "concern": "Rattle over bumps at low speed",
            "mechanic_id": mechanic.pk,
            "start": start.isoformat(),
        },
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _confirm(url: str, headers: dict, reservation_id: int) -> Answer:
    return call(
        "PUT",
        f"{url}/api/slots/confirm",
        headers=headers,
        body={"reservation_id": reservation_id, "waiver_accepted": True},
        timeout=60,
    )


def test_a_server_killed_mid_booking_leaves_no_half_booking_and_no_double(tmp_path, people):
    customer, mechanic, headers = people
    marker = tmp_path / "hanging"
    with running_server(
        tmp_path, HANG_ON_SQL='INSERT INTO "notifications_notification"', HANG_MARKER=str(marker)
    ) as (url, server):
        booked = _hold(url, headers, mechanic, SLOT)
        abandoned = _hold(url, headers, mechanic, OTHER_SLOT)
        lost: list[BaseException] = []

        def confirm() -> None:
            try:
                _confirm(url, headers, booked)
            except LOST as exc:  # the server died under the request
                lost.append(exc)

        client = threading.Thread(target=confirm)
        client.start()
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert time.monotonic() < deadline, "the confirmation never reached its notifications"
            time.sleep(0.05)
        # Mid-transaction: the session is confirmed, its notifications not yet written.
        os.killpg(server.pid, signal.SIGKILL)
        client.join(60)
    assert lost, "the client should have lost its connection"
    # Nothing of the confirmation survived: still a hold, no notification.
    hold = Reservation.objects.get(pk=booked)
    assert hold.status == ReservationStatus.RESERVED
    assert Session.objects.get(pk=hold.session_id).status == SessionStatus.PENDING
    assert not Notification.objects.exists()

    with running_server(tmp_path) as (url, _server):
        first, replay = _confirm(url, headers, booked), _confirm(url, headers, booked)
    assert (first.status_code, replay.status_code) == (200, 200), (first.text, replay.text)
    session = Session.objects.get(pk=Reservation.objects.get(pk=booked).session_id)
    assert session.status == SessionStatus.SCHEDULED
    confirmations = Notification.objects.filter(kind="confirmation")
    assert sorted(confirmations.values_list("recipient_id", flat=True)) == sorted(
        [customer.pk, mechanic.user_id]
    )  # one each: nothing doubled by the retry
    # The hold nobody came back for still expires on its own.
    holds_expire_all(now=NOW + timedelta(minutes=settings.HOLD_MINUTES + 1))
    assert Reservation.objects.get(pk=abandoned).status != ReservationStatus.RESERVED


@contextmanager
def database_refusing_connections() -> Iterator[None]:
    """What a PostgreSQL restart looks like to the app: its connections are dropped and
    new ones refused until the database accepts them again."""
    import psycopg

    db = connection.settings_dict
    name = db["NAME"]
    admin = psycopg.connect(  # from another database: one cannot lock out one's own
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db.get("PASSWORD") or None,
        dbname="postgres",
        autocommit=True,
    )
    try:
        admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> %s",
            [name, connection.cursor().connection.info.backend_pid],
        )
        yield
    finally:
        admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
        admin.close()


@pytest.mark.parametrize("conn_max_age", ["0", "60"])
def test_postgresql_going_away_answers_503_busy_then_recovers(tmp_path, people, conn_max_age):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only (the PostgreSQL run of ./dev test covers it)")
    customer, _mechanic, headers = people
    browser = Client()
    browser.force_login(customer)
    cookie = {"Cookie": f"sessionid={browser.cookies[settings.SESSION_COOKIE_NAME].value}"}
    with running_server(tmp_path, DB_CONN_MAX_AGE=conn_max_age) as (url, _server):
        assert call("GET", f"{url}/", headers=cookie).status_code == 200
        assert call("GET", f"{url}/api/me", headers=headers).status_code == 200
        with database_refusing_connections():
            api = call("GET", f"{url}/api/me", headers=headers)
            page = call("GET", f"{url}/", headers=cookie)
        assert api.status_code == 503, api.text
        assert api.json()["code"] == "busy" and api.headers["Retry-After"] == "5"
        assert page.status_code == 503 and "nothing was saved" in page.text
        # Back without restarting the server.
        assert call("GET", f"{url}/api/me", headers=headers).status_code == 200


def test_customers_racing_through_several_server_processes_get_one_booking(tmp_path):
    """16 customers, each connected before the moment, send their hold of one slot at
    once to two gunicorn worker processes (4 threads each): exactly one 201, fifteen 409s
    naming the slot as taken, one live reservation."""
    import http.client

    mechanic = MechanicFactory()
    weekly_hours(mechanic, days=range(7), start=0, end=24 * 60)
    tokens = [api_token_create(user=CustomerFactory().user, name="race").raw for _ in range(16)]
    body = json.dumps(
        {"plan": "free", "concern": "Rattle over bumps at low speed",
         "mechanic_id": mechanic.pk, "start": SLOT.isoformat()}
    )  # fmt: skip
    outcomes: list[tuple[int, dict]] = []
    with running_server(tmp_path, workers=2) as (url, _server):
        port = int(url.rsplit(":", 1)[1])
        barrier = threading.Barrier(len(tokens))

        def client(token: str) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            try:
                conn.connect()
                barrier.wait(timeout=60)
                conn.request("POST", "/api/slots/reserve", body, {
                    "Authorization": f"Bearer {token}", "Content-Type": "application/json"
                })  # fmt: skip
                answer = conn.getresponse()
                outcomes.append((answer.status, json.loads(answer.read() or b"{}")))
            finally:
                conn.close()

        threads = [threading.Thread(target=client, args=(token,)) for token in tokens]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(180)
    statuses = sorted(status for status, _ in outcomes)
    assert statuses == [201] + [409] * 15, outcomes
    assert {answer.get("code") for status, answer in outcomes if status == 409} == {
        "slot_unavailable"
    }
    live = Reservation.objects.filter(
        mechanic=mechanic, status__in=(ReservationStatus.RESERVED, ReservationStatus.CONFIRMED)
    )
    assert live.count() == 1 and live.get().starts_at == SLOT
