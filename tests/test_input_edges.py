"""Edge inputs found by probing the running server (reliability issue, part 1).

Each used to answer 500 (or to store what it should refuse); each must answer a 4xx whose
body names the problem, and store nothing.
"""

import json
from datetime import UTC, datetime

import pytest
import time_machine
from django.test import Client

from autodoctor.accounts.models import ApiToken
from autodoctor.accounts.services import api_token_create
from autodoctor.availability.models import DateOverride, TimeOff
from autodoctor.booking.models import Reservation, Session
from tests.booking.conftest import plans  # noqa: F401  (autouse: the sellable plans)
from tests.factories import CustomerFactory, MechanicFactory, weekly_hours

pytestmark = pytest.mark.django_db

# Monday 2026-11-30 13:30 UTC = 08:30 in Toronto; the mechanic works 09:00-17:00 there.
NOW = datetime(2026, 11, 30, 13, 30, tzinfo=UTC)
FREE_SLOT = "2026-12-01T15:00:00Z"  # Tuesday 10:00 Toronto
BASE = {"plan": "advice", "concern": "Grinding noise when braking at low speed"}


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def mechanic(db):
    mechanic = MechanicFactory(user__full_name="Vera Virtual")
    weekly_hours(mechanic, days=range(7), start=9 * 60, end=17 * 60)
    return mechanic


def _client(user) -> Client:
    raw = api_token_create(user=user, name="probe").raw
    return Client(headers={"Authorization": f"Bearer {raw}"})


@pytest.fixture
def customer_api(db):
    return _client(CustomerFactory().user)


@pytest.fixture
def mechanic_api(mechanic):
    return _client(mechanic.user)


def send(client: Client, method: str, path: str, body=None, raw: str | None = None):
    data = raw if raw is not None else (json.dumps(body) if body is not None else None)
    call = getattr(client, method)
    if data is None:
        return call(path)
    return call(path, data=data, content_type="application/json")


def assert_refused(response, status: int, *, code: str | None = None, field: str | None = None):
    assert response.status_code == status, response.content[:300]
    body = response.json()
    assert body["detail"]
    if code is not None:
        assert body["code"] == code, body
    if field is not None:
        assert body.get("field") == field, body
    return body


# ------------------------------------------------------------------ holds: what is wrong


@pytest.mark.parametrize(
    ("start", "status", "code", "words"),
    [
        ("9999-12-31T10:00:00Z", 422, "invalid", "outside the supported dates"),
        ("2000-01-01T10:00:00Z", 409, "slot_in_past", "already passed"),
        ("2026-11-30T14:00:00Z", 409, "notice_too_short", "needs 2 h notice"),
        ("2027-02-01T15:00:00Z", 422, "beyond_booking_window", "at most 30 days ahead"),
        ("2026-12-01T15:07:13Z", 422, "off_grid", "start every 15 minutes"),
        ("2026-12-01T03:00:00Z", 409, "not_available", "outside their hours"),
    ],
    ids=["year-9999", "year-2000", "inside-notice", "beyond-window", "off-grid", "off-hours"],
)
def test_a_hold_that_cannot_be_had_says_why(customer_api, mechanic, start, status, code, words):
    body = {**BASE, "mechanic_id": mechanic.pk, "start": start}
    refused = assert_refused(send(customer_api, "post", "/api/slots/reserve", body), status)
    assert refused["code"] == code
    assert words in refused["detail"]
    assert not Reservation.objects.exists() and not Session.objects.exists()


def test_a_refused_hold_offers_the_next_free_slots(customer_api, mechanic):
    body = {**BASE, "mechanic_id": mechanic.pk, "start": "2026-12-01T15:07:13Z"}
    refused = send(customer_api, "post", "/api/slots/reserve", body).json()
    assert refused["next_free_slots"][:2] == [
        "2026-12-01T15:15:00+00:00",
        "2026-12-01T15:30:00+00:00",
    ]


def test_a_slot_another_customer_holds_is_still_just_taken(customer_api, mechanic):
    first = _client(CustomerFactory().user)
    body = {**BASE, "mechanic_id": mechanic.pk, "start": FREE_SLOT}
    assert send(first, "post", "/api/slots/reserve", body).status_code == 201
    assert_refused(
        send(customer_api, "post", "/api/slots/reserve", body), 409, code="slot_unavailable"
    )


@pytest.mark.parametrize(
    ("start", "status", "field"),
    [("2020-01-01T10:00:00Z", 409, None), ("9999-12-31T10:00:00Z", 422, "start")],
)
def test_scheduling_an_intake_far_in_the_past_or_future_is_refused(
    customer_api, mechanic, start, status, field
):
    body = {**BASE, "mode": "scheduled", "mechanic_id": mechanic.pk, "start": start}
    assert_refused(send(customer_api, "post", "/api/intake/start", body), status, field=field)
    assert not Session.objects.exists()


def test_rescheduling_into_the_past_is_refused_and_the_booking_stays(customer_api, mechanic):
    from autodoctor.booking.services import reservation_confirm

    body = {**BASE, "mechanic_id": mechanic.pk, "start": FREE_SLOT}
    held = send(customer_api, "post", "/api/slots/reserve", body).json()
    session = Session.objects.get(pk=held["session_id"])
    reservation_confirm(reservation_id=held["id"], customer=session.customer, now=NOW)
    response = send(
        customer_api,
        "put",
        f"/api/sessions/{session.pk}/reschedule",
        {"start": "2020-01-01T00:00:00Z"},
    )
    assert_refused(response, 409, code="slot_in_past")
    session.refresh_from_db()
    assert session.scheduled_for == datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


# ------------------------------------------------------------------ dates out of range


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/mechanics/{mid}/available-slots?plan=advice&from=2026-12-03&to=9999-12-31", "to"),
        ("/api/mechanics/{mid}/available-slots?plan=advice&from=0001-01-01&to=0001-01-02", "from"),
        ("/api/slots/earliest?plan=advice&after=9999-12-31", "after"),
        ("/api/mechanics/available?start=9999-12-31T00:00:00Z&end=9999-12-31T23:00:00Z", "start"),
    ],
)
def test_slot_reads_refuse_dates_out_of_range(customer_api, mechanic, path, field):
    response = send(customer_api, "get", path.format(mid=mechanic.pk))
    assert_refused(response, 422, field=field)


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"start_date": "9999-12-31", "end_date": "9999-12-31"}, "start_date", "supported dates"),
        (
            {"starts_at": "9999-12-31T10:00:00Z", "ends_at": "9999-12-31T12:00:00Z"},
            "starts_at",
            "supported dates",
        ),
        ({"start_date": "2029-06-01", "end_date": "2029-06-02"}, "start", "two years ahead"),
    ],
)
def test_time_off_far_ahead_is_refused(mechanic_api, mechanic, body, field, words):
    refused = assert_refused(send(mechanic_api, "post", "/api/mechanic/time-off", body), 422)
    assert refused["field"] == field and words in refused["detail"]
    assert not TimeOff.objects.exists()


@pytest.mark.parametrize("day", ["9999-12-31", "2029-01-01"])
def test_special_dates_far_ahead_are_refused(mechanic_api, day):
    response = send(mechanic_api, "post", "/api/mechanic/overrides", {"day": day})
    assert "two years ahead" in assert_refused(response, 422, field="day")["detail"]
    assert not DateOverride.objects.exists()


def test_earnings_for_year_9999_are_refused(mechanic_api):
    response = send(mechanic_api, "get", "/api/earnings?start=9999-01-01&end=9999-12-31")
    assert_refused(response, 422, field="start")


@pytest.mark.parametrize(
    "path",
    [
        "/booking/calendar/?view=day&date=9999-12-31",
        "/booking/calendar/?view=week&date=0001-01-01",
        "/booking/calendar/?view=month&date=9999-12-31",
        "/availability/mechanics/{mid}/?month=9999-12",
        "/availability/mechanics/{mid}/?month=0001-01",
        "/payments/earnings/?start=9999-12-31&end=9999-12-31",
    ],
)
def test_pages_refuse_dates_out_of_range_with_a_message(login, mechanic, path):
    response = login(mechanic.user).get(path.format(mid=mechanic.pk))
    assert response.status_code == 422
    assert b"outside the supported dates" in response.content


# ------------------------------------------------------------------ text


@pytest.mark.parametrize(
    ("field", "limit"), [("concern", 2000), ("vehicle_label", 120), ("brand", 50)]
)
def test_a_megabyte_of_text_is_refused_naming_the_field(customer_api, field, limit):
    response = send(customer_api, "post", "/api/intake/start", {**BASE, field: "x" * 1_000_000})
    body = assert_refused(response, 422, field=field)
    assert f"at most {limit} characters" in body["detail"]
    assert not Session.objects.exists()


def test_a_body_over_the_upload_limit_is_413_in_the_api_shape(customer_api):
    raw = json.dumps({**BASE, "concern": "y" * 3_000_000})
    assert_refused(
        send(customer_api, "post", "/api/intake/start", raw=raw), 413, code="body_too_large"
    )
    assert not Session.objects.exists()


@pytest.mark.parametrize(
    ("raw", "words"),
    [('{"name": "a\\u0000b"}', "NUL character"), ('{"name": "\\ud800"}', "unpaired surrogate")],
    ids=["nul", "lone-surrogate"],
)
def test_text_no_database_can_store_is_refused(customer_api, raw, words):
    response = send(customer_api, "post", "/api/me/tokens", raw=raw)
    assert words in assert_refused(response, 422, code="invalid", field="name")["detail"]
    assert not ApiToken.objects.filter(name__startswith="a").exclude(name="probe").exists()
    assert ApiToken.objects.count() == 1  # the probe's own token


def test_a_nul_in_a_nested_field_or_the_query_string_is_refused(customer_api):
    concern = {**BASE, "concern": "brakes squeal loudly \u0000 when stopping"}
    assert_refused(send(customer_api, "post", "/api/intake/start", concern), 422, field="concern")
    assert_refused(send(customer_api, "get", "/api/sessions?status=a%00b"), 422, field="status")
    assert not Session.objects.exists()


# ------------------------------------------------------------------ who is asking


@pytest.mark.parametrize("token", [None, "adt_not-a-real-token"], ids=["anonymous", "bad-token"])
def test_unauthenticated_writes_are_401_not_a_csrf_403(token):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    client = Client(enforce_csrf_checks=True, headers=headers)
    response = client.post("/api/me/tokens", {"name": "x"}, content_type="application/json")
    assert_refused(response, 401, code="unauthenticated")


def test_a_logged_in_browser_without_its_csrf_token_is_still_refused(login):
    client = login(CustomerFactory().user, enforce_csrf=True)
    response = client.post("/api/me/tokens", {"name": "x"}, content_type="application/json")
    assert_refused(response, 403, code="csrf_failed")


# ------------------------------------------------------------------ production errors


def test_an_unexpected_api_error_in_production_answers_the_api_shape(settings, monkeypatch):
    from autodoctor.accounts import api as accounts_api

    settings.DEBUG = False

    def broken(user):
        raise RuntimeError("boom")

    monkeypatch.setattr(accounts_api, "home_section_for", broken)
    client = _client(CustomerFactory().user)
    client.raise_request_exception = False
    response = client.get("/api/me")
    assert_refused(response, 500, code="server_error")
    assert b"boom" not in response.content and b"Traceback" not in response.content


def test_api_docs_load_swagger_from_this_site_not_a_cdn(customer_api):
    page = customer_api.get("/api/docs").content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower()


def test_the_database_itself_refuses_a_concern_over_the_limit(mechanic):
    from django.db import IntegrityError, transaction

    from autodoctor.booking.models import Plan

    customer = CustomerFactory().user
    with pytest.raises(IntegrityError), transaction.atomic():
        Session.objects.create(
            customer=customer,
            plan=Plan.objects.get(code="advice"),
            concern="x" * 2001,
            duration_minutes=30,
        )


def test_a_method_a_route_lacks_and_an_unknown_api_url_answer_the_error_shape(customer_api):
    wrong_method = customer_api.delete("/api/me")
    body = assert_refused(wrong_method, 405, code="method_not_allowed")
    assert "GET" in body["detail"] and "GET" in wrong_method["Allow"]
    assert_refused(customer_api.get("/api/no-such-route"), 404, code="not_found")


def _unbounded_strings(schema: dict, components: dict, path: str):
    if "$ref" in schema:
        yield from _unbounded_strings(components[schema["$ref"].split("/")[-1]], components, path)
        return
    for key in ("anyOf", "allOf", "oneOf"):
        for option in schema.get(key, []):
            yield from _unbounded_strings(option, components, path)
    for name, prop in schema.get("properties", {}).items():
        yield from _unbounded_strings(prop, components, f"{path}.{name}")
    if schema.get("type") == "array":
        yield from _unbounded_strings(schema.get("items", {}), components, f"{path}[]")
    bounded = "maxLength" in schema or "enum" in schema or "const" in schema
    formatted = schema.get("format") in ("date-time", "date", "time", "binary")
    if schema.get("type") == "string" and not bounded and not formatted:
        yield path


def test_every_text_the_api_accepts_has_a_maximum_length():
    """A new schema field without max_length fails here: a megabyte of text must be
    refused by the schema, not stored (or answered 500 by PostgreSQL's varchar)."""
    from autodoctor.api import api

    spec = api.get_openapi_schema()
    components = spec["components"]["schemas"]
    unbounded = []
    for url, operations in spec["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {url}"
            for parameter in operation.get("parameters", []):
                unbounded += [
                    f"{where} ?{p}"
                    for p in _unbounded_strings(parameter["schema"], components, parameter["name"])
                ]
            for content in operation.get("requestBody", {}).get("content", {}).values():
                unbounded += [
                    f"{where} {p}"
                    for p in _unbounded_strings(content["schema"], components, "body")
                ]
    assert unbounded == []
