"""The visits API through the test client: a whole visit as a customer and a workshop
would drive it, the errors they get, and what a listing costs in queries."""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client

from autodoctor.availability import service as availability
from autodoctor.workshops.models import Visit

from .conftest import HOUR, NOW, TUESDAY_10

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_request_counter_accept_assign_complete(workshop, shop_mechanic, completed_session):
    session = completed_session()
    customer, staff = client_for(session.customer), client_for(workshop.staff_user)

    near = customer.get("/api/workshops", {"near": "M5V 1A1", "session_id": session.pk}).json()
    assert near[0]["id"] == workshop.pk and near[0]["basis"] == "same area"

    times = customer.get(
        f"/api/workshops/{workshop.pk}/available-times",
        {"from": "2026-12-01", "to": "2026-12-01", "session_id": session.pk},
    ).json()
    assert times["time_zone"] == "America/Toronto" and times["duration_minutes"] == 60
    assert times["slots"][0]["start_local"] == "2026-12-01T08:00:00-05:00"
    assert times["daily_counts"] == {"2026-12-01": 17}  # 08:00 … 16:00 every 30 minutes

    made = customer.post(
        "/api/workshop/appointments/from-session",
        {
            "session_id": session.pk,
            "workshop_id": workshop.pk,
            "start": TUESDAY_10.isoformat(),
            "mode": "wait",
        },
        content_type="application/json",
    )
    assert made.status_code == 201, made.content
    visit = made.json()
    assert (visit["status"], visit["starts_at_local"]) == ("requested", "2026-12-01T10:00:00-05:00")
    vid = visit["id"]

    pending = staff.get("/api/workshop/appointments", {"tab": "pending"}).json()
    assert [v["id"] for v in pending] == [vid]
    later = (TUESDAY_10 + 3 * HOUR).isoformat()
    countered = staff.put(
        f"/api/workshop/appointments/{vid}/counter",
        {"start": later, "reason": "Busy at 10"},
        content_type="application/json",
    ).json()
    assert countered["status"] == "countered" and countered["requested_starts_at"]
    assert (
        customer.put(f"/api/workshop/appointments/{vid}/counter/accept").json()["status"]
        == "confirmed"
    )
    assigned = staff.put(
        f"/api/workshop/appointments/{vid}/assign",
        {"mechanic_id": shop_mechanic.pk},
        content_type="application/json",
    ).json()
    assert assigned["assigned_mechanic_id"] == shop_mechanic.pk
    mechanic_view = client_for(shop_mechanic.user).get("/api/visits").json()
    assert [v["id"] for v in mechanic_view] == [vid]
    with time_machine.travel(TUESDAY_10 + 3 * HOUR, tick=False):
        assert (
            staff.put(f"/api/workshop/appointments/{vid}/check-in").json()["status"] == "checked_in"
        )
        done = staff.put(
            f"/api/workshop/appointments/{vid}/complete",
            {"notes": "New pads"},
            content_type="application/json",
        ).json()
    assert (done["status"], done["workshop_notes"]) == ("completed", "New pads")
    assert list(Visit.objects.get(pk=vid).events.values_list("action", flat=True)) == [
        "workshops.visit.requested",
        "workshops.visit.countered",
        "workshops.visit.counter_accepted",
        "workshops.visit.assigned",
        "workshops.visit.checked_in",
        "workshops.visit.completed",
    ]


def test_errors_name_the_problem(workshop, completed_session):
    session = completed_session()
    customer = client_for(session.customer)
    url = "/api/workshop/appointments/from-session"
    body = {"session_id": session.pk, "workshop_id": workshop.pk, "start": "2026-12-01T10:00:00"}
    naive = customer.post(url, body, content_type="application/json")
    assert naive.status_code == 422 and "time zone" in naive.json()["detail"]
    closed = customer.post(
        url, {**body, "start": "2026-12-01T23:00:00Z"}, content_type="application/json"
    )
    assert closed.status_code == 409 and closed.json()["next_free_slots"]
    bad_mode = customer.post(
        url,
        {**body, "start": TUESDAY_10.isoformat(), "mode": "valet"},
        content_type="application/json",
    )
    assert bad_mode.status_code == 422
    made = customer.post(
        url, {**body, "start": TUESDAY_10.isoformat()}, content_type="application/json"
    ).json()
    illegal = client_for(workshop.staff_user).put(
        f"/api/workshop/appointments/{made['id']}/complete", {}, content_type="application/json"
    )
    assert illegal.status_code == 409
    assert (
        illegal.json()["current_status"] == "requested" and "requested" in illegal.json()["detail"]
    )
    assert Visit.objects.count() == 1


def test_the_listing_costs_a_fixed_number_of_queries(
    workshop, completed_session, django_assert_num_queries
):
    for i in range(6):
        session = completed_session()
        Visit.objects.create(
            workshop=workshop,
            customer=session.customer,
            service_type="brakes",
            duration_minutes=60,
            starts_at=TUESDAY_10 + timedelta(days=i),
            ends_at=TUESDAY_10 + timedelta(days=i) + HOUR,
            bay=1 + i % 2,
            status="confirmed",
        )
    # workshop + its visit settings, hours, date overrides, bay load: whatever the window
    with django_assert_num_queries(4):
        month = availability.visit_slots(workshop, NOW, NOW + timedelta(days=30), HOUR, now=NOW)
    with django_assert_num_queries(4):
        availability.visit_slots(workshop, NOW, NOW + timedelta(days=2), HOUR, now=NOW)
    assert len(month) > 400


@pytest.mark.parametrize("view", ["day", "week"])
def test_the_bay_board_and_the_tabs_cost_the_same_queries_for_2_or_12_visits(
    workshop, completed_session, view
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    staff = client_for(workshop.staff_user)

    def add(n: int, first: int = 0) -> None:
        for i in range(first, first + n):
            session = completed_session()
            Visit.objects.create(
                workshop=workshop,
                customer=session.customer,
                service_type="brakes",
                duration_minutes=60,
                starts_at=TUESDAY_10 + timedelta(hours=i // 2),
                ends_at=TUESDAY_10 + timedelta(hours=i // 2) + HOUR,
                bay=1 + i % 2,
                status="confirmed",
            )

    def cost(path: str, query: dict) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert staff.get(path, query).status_code == 200
        return len(queries.captured_queries)

    board = ("/workshops/appointments/board/", {"view": view, "date": "2026-12-01"})
    tabs = ("/workshops/appointments/", {"tab": "confirmed"})
    add(2)
    few = cost(*board), cost(*tabs)
    add(10, first=2)
    assert (cost(*board), cost(*tabs)) == few
