"""A full disk (SQLite's SQLITE_FULL, PostgreSQL's disk_full 53100) in the middle of a
booking: a clear 503, and nothing of the booking half-written. The failure is raised by
the database layer itself (Django's execute_wrapper) on the booking's second insert,
after its first one succeeded inside the same transaction."""

import sqlite3
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
import time_machine
from django.db import OperationalError, connection

from autodoctor.accounts.services import api_token_create
from autodoctor.booking.models import Reservation, Session
from tests.factories import CustomerFactory, MechanicFactory, weekly_hours

pytestmark = pytest.mark.django_db

NOW = datetime(2031, 1, 14, 15, 0, tzinfo=UTC)
SLOT = datetime(2031, 1, 15, 16, 0, tzinfo=UTC)


class _DiskFull(Exception):
    sqlstate = "53100"


@contextmanager
def disk_full_on(table: str):
    """Every INSERT into `table` fails the way the database reports a full disk."""
    seen: list[str] = []

    def wrapper(execute, sql, params, many, context):
        seen.append(sql)
        if sql.startswith(f'INSERT INTO "{table}"'):
            if connection.vendor == "sqlite":
                cause: Exception = sqlite3.OperationalError("database or disk is full")
            else:
                cause = _DiskFull("could not extend file: No space left on device")
            raise OperationalError(str(cause)) from cause
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield seen


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


def test_a_full_disk_mid_booking_answers_503_and_writes_nothing(client, clock):
    customer = CustomerFactory().user
    mechanic = MechanicFactory()
    weekly_hours(mechanic, days=range(7), start=0, end=24 * 60)
    token = api_token_create(user=customer, name="disk").raw
    sessions_before = Session.objects.count()
    with disk_full_on(Reservation._meta.db_table) as statements:
        response = client.post(
            "/api/slots/reserve",
            {
                "plan": "advice",
                "concern": "Squeal when braking",
                "mechanic_id": mechanic.pk,
                "start": SLOT.isoformat(),
            },
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 503, response.content
    assert response.json()["code"] == "busy"
    assert response["Retry-After"] == "5"
    # The session row was inserted before the failing reservation insert, then rolled back.
    assert any(sql.startswith(f'INSERT INTO "{Session._meta.db_table}"') for sql in statements)
    assert Session.objects.count() == sessions_before
    assert not Reservation.objects.exists()


@pytest.mark.django_db(transaction=True)  # as in production: no test transaction around it
def test_a_full_disk_on_a_page_form_says_nothing_was_saved(login, clock):
    user = CustomerFactory().user
    browser = login(user)
    with disk_full_on("accounts_apitoken"):
        response = browser.post(
            "/profile/tokens/", {"name": "laptop"}, headers={"referer": "/profile/"}, follow=True
        )
    assert response.redirect_chain == [("/profile/", 302)]
    assert "nothing was saved" in response.content.decode()
    assert not user.api_tokens.exists()
