"""Never a 500 for a database that stayed locked, is unreachable or full: one test for it (errors.database_busy),
answered 503 "busy" by the pages (web/middleware.py) and the API (autodoctor/api.py)."""

import pytest
from django.db import DatabaseError, InterfaceError, OperationalError

from autodoctor import errors
from autodoctor.accounts import services as account_services
from autodoctor.accounts.services import api_token_create
from autodoctor.web import home
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


class _Cause(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def _operational(message: str, sqlstate: str | None = None) -> OperationalError:
    exc = OperationalError(message)
    if sqlstate is not None:
        exc.__cause__ = _Cause(sqlstate)
    return exc


@pytest.mark.parametrize(
    ("exc", "busy"),
    [
        (_operational("database is locked"), True),  # SQLite past its busy timeout
        (_operational("database table is locked"), True),
        (_operational("deadlock detected", "40P01"), True),
        (_operational("could not serialize access", "40001"), True),
        (_operational("no such table: payments_payment"), False),
        (_operational("connection refused", "08006"), True),  # PostgreSQL down
        (_operational("the database system is starting up", "57P03"), True),
        (_operational("terminating connection due to administrator command", "57P01"), True),
        (_operational("could not extend file: No space left on device", "53100"), True),
        (_operational("database or disk is full"), True),  # SQLite SQLITE_FULL
        (_operational('database "x" is not currently accepting connections'), True),
        (InterfaceError("connection already closed"), True),
        (_operational("syntax error at or near", "42601"), False),
        (DatabaseError("database is locked"), False),  # not an OperationalError
        (ValueError("locked"), False),
    ],
)
def test_database_busy_knows_a_lock_from_other_database_errors(exc, busy):
    assert errors.database_busy(exc) is busy


def _locked(*args, **kwargs):
    raise OperationalError("database is locked")


def test_a_page_that_finds_the_database_locked_answers_503_not_500(login, monkeypatch):
    monkeypatch.setattr(home, "home_context", _locked)
    response = login(CustomerFactory().user).get("/")
    assert response.status_code == 503
    assert "The system is busy right now; nothing was saved. Please try again in a moment." in (
        response.content.decode()
    )


def test_an_htmx_request_that_finds_the_database_locked_gets_the_503_fragment(login, monkeypatch):
    monkeypatch.setattr(home, "home_context", _locked)
    response = login(CustomerFactory().user).get("/", HTTP_HX_REQUEST="true")
    assert response.status_code == 503 and response["HX-Retarget"] == "#flash"
    assert 'role="alert"' in response.content.decode()


def test_a_form_post_that_finds_the_database_locked_goes_back_with_a_message(login, monkeypatch):
    user = CustomerFactory().user
    token = api_token_create(user=user, name="ci").token
    monkeypatch.setattr(account_services, "api_token_revoke", _locked)
    response = login(user).post(
        f"/profile/tokens/{token.pk}/revoke/", HTTP_REFERER="/profile/", follow=True
    )
    assert response.redirect_chain == [("/profile/", 302)]
    assert "The system is busy right now" in response.content.decode()


def test_a_page_failing_for_another_database_reason_is_not_called_busy(login, monkeypatch):
    def broken(*args, **kwargs):
        raise OperationalError("no such table: accounts_vehicle")

    monkeypatch.setattr(home, "home_context", broken)
    with pytest.raises(OperationalError):
        login(CustomerFactory().user).get("/")


def test_the_api_answers_a_deadlock_503_busy(login, monkeypatch):
    from autodoctor.payments import selectors

    def deadlocked(*args, **kwargs):
        raise _operational("deadlock detected", "40P01")

    monkeypatch.setattr(selectors, "credit_balance_cents", deadlocked)
    response = login(CustomerFactory().user).get("/api/credits")
    assert response.status_code == 503
    assert response.json() == {"detail": "The system is busy, please retry.", "code": "busy"}
