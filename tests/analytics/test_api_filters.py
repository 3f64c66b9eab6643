"""`GET /api/analytics/...` takes the page's filters and period, with the page's rules
of who may see what. Expected numbers are counted by hand from the history of
test_filters.py (its docstring has the table):

    session  mechanic         plan     kind       minutes  outcome
    A1       Ada (ON)         advice   advance    30       booked
    A2       Ada (ON)         premium  advance    60       booked
    A3       Ada (ON)         advice   start-now  30       completed
    B1       Bo (BC)          advice   advance    45       booked
    C1       Cy (ON, shop)    advice   advance    30       booked
    C2       Cy (ON, shop)    advice   advance    30       cancelled by customer
    D        nobody           advice   start-now  30       closed untaken

All were booked on Sunday 2031-03-09 12:00 UTC (MADE); the advance ones start on Monday
2031-03-10 12:00 or 13:00 UTC (AT). Everyone here is on America/Toronto time, where DST
began on 2031-03-09 at 02:00: that Sunday is 23 hours long.
"""

import pytest
import time_machine

from tests.factories import MechanicFactory, UserFactory

from .conftest import NOW
from .test_filters import build_history

pytestmark = pytest.mark.django_db


@pytest.fixture
def history():
    return build_history()


@pytest.fixture
def get(admin_user, login):
    """get(path, user=admin) -> (status, JSON body) at NOW."""

    def _get(path, user=None):
        with time_machine.travel(NOW, tick=False):
            response = login(user or admin_user).get(path)
        return response.status_code, response.json()

    return _get


def mix(body) -> tuple[int, int]:
    return body["booking_mix"]["advance"], body["booking_mix"]["immediate"]


def names(body) -> list[str]:
    return [m["name"] for m in body["utilization"]["mechanics"]]


def test_the_plan_filter_keeps_that_plans_sessions(history, get):
    status, body = get("/api/analytics/platform?days=7&plan=advice")
    assert status == 200
    assert mix(body) == (4, 2)  # A1 B1 C1 C2, A3 D: not A2
    assert body["utilization"]["booked_minutes"] == 30 + 45 + 30  # A1 B1 C1
    assert body["satisfaction"]["count"] == 2  # A1 and B1 are rated, both advice
    _, premium = get("/api/analytics/platform?days=7&plan=premium")
    assert mix(premium) == (1, 0) and premium["utilization"]["booked_minutes"] == 60
    assert premium["start_now"]["sent"] == 0


def test_the_mechanic_type_filter_uses_the_type_rule(history, get):
    _, body = get("/api/analytics/platform?days=7&mechanic_type=workshop_affiliated")
    assert names(body) == ["Cy Workshop"]
    assert body["booking_mix"]["total"] == 2  # C1, C2
    assert body["reliability"]["cancellation_rate"] == 0.5  # C2 of 2
    _, virtual = get("/api/analytics/platform?days=7&mechanic_type=virtual_only")
    assert names(virtual) == ["Ada Ontario", "Bo Columbia"]
    assert mix(virtual) == (3, 1)  # A1 A2 B1, A3 (D has no mechanic)
    assert virtual["utilization"]["booked_minutes"] == 30 + 60 + 45


def test_the_province_filter_reads_the_postal_code(history, get):
    _, ontario = get("/api/analytics/platform?days=7&province=ON")
    assert names(ontario) == ["Ada Ontario", "Cy Workshop"]
    assert mix(ontario) == (4, 1)  # A1 A2 C1 C2, A3
    assert ontario["start_now"] == {**ontario["start_now"], "sent": 1, "untaken": 0}
    assert len(ontario["bays"]["workshops"]) == 1  # Cy's workshop is in Ontario
    _, columbia = get("/api/analytics/platform?days=7&province=BC")
    assert names(columbia) == ["Bo Columbia"]
    assert columbia["satisfaction"]["average"] == 3.0
    assert columbia["bays"]["workshops"] == []


def test_the_filters_combine(history, get):
    _, body = get("/api/analytics/platform?days=7&plan=premium&province=BC")
    assert body["booking_mix"]["total"] == 0  # A2 is Ada's, in Ontario
    _, body = get(
        "/api/analytics/platform?days=7&plan=advice&province=ON&mechanic_type=virtual_only"
    )
    assert mix(body) == (1, 1)  # A1, A3


def test_a_custom_range_is_local_days_in_the_callers_zone(history, get):
    # Sunday 2031-03-09 in Toronto: 00:00 EST (05:00 UTC) to Monday 00:00 EDT (04:00 UTC).
    _, sunday = get("/api/analytics/platform?from=2031-03-09&to=2031-03-09")
    assert (sunday["period_start"], sunday["period_end"]) == (
        "2031-03-09T05:00:00Z",
        "2031-03-10T04:00:00Z",
    )
    assert mix(sunday) == (5, 2)  # every booking was made that day
    assert sunday["utilization"]["booked_minutes"] == 0  # none starts that day
    _, monday = get("/api/analytics/platform?from=2031-03-10&to=2031-03-10&province=ON")
    assert mix(monday) == (0, 0)
    assert monday["utilization"]["booked_minutes"] == 30 + 60 + 30  # A1 A2 C1


def test_the_last_n_days_may_be_any_number_up_to_a_year(history, get):
    _, two = get("/api/analytics/platform?days=2")  # the bookings were made 3 days ago
    assert mix(two) == (0, 0)
    _, three = get("/api/analytics/platform?days=4")
    assert mix(three) == (5, 2)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("plan=gold", "plan"),
        ("mechanic_type=robot", "mechanic_type"),
        ("province=ZZ", "province"),
        ("from=2031-03-09", "from"),
        ("from=2031-03-09&to=2031-03-01", "from"),
        ("from=2030-01-01&to=2031-03-01", "from"),
        ("from=2031-02-30&to=2031-03-01", "from"),
    ],
)
def test_a_bad_filter_or_range_is_a_422_naming_it(history, get, query, field):
    status, body = get(f"/api/analytics/platform?{query}")
    assert status == 422, body
    assert field in str(body)


@pytest.mark.parametrize("days", ["0", "367", "many"])
def test_days_out_of_range_is_refused(history, get, days):
    status, body = get(f"/api/analytics/platform?days={days}")
    assert status == 422 and "days" in str(body)


def test_the_filters_are_for_admins_only(history, get):
    ada = history["ada"].user
    status, _ = get("/api/analytics/platform?province=ON", user=ada)
    assert status == 403
    # A mechanic's own numbers take the period; they are only ever their own.
    status, mine = get("/api/analytics/mine?from=2031-03-10&to=2031-03-10", user=ada)
    assert status == 200 and names(mine) == ["Ada Ontario"]
    assert mine["utilization"]["booked_minutes"] == 30 + 60  # A1 A2
    status, _ = get("/api/analytics/mine?from=2031-03-10", user=ada)
    assert status == 422


def test_the_admin_drill_down_shows_one_mechanic_to_admins_only(history, get):
    cy = history["cy"]
    status, body = get(f"/api/analytics/mechanics/{cy.pk}?days=7")
    assert status == 200 and names(body) == ["Cy Workshop"]
    assert body["booking_mix"]["total"] == 2 and body["start_now"] is None
    for user in (history["ada"].user, cy.user, UserFactory()):
        status, _ = get(f"/api/analytics/mechanics/{cy.pk}", user=user)
        assert status == 404
    assert get("/api/analytics/mechanics/999999")[0] == 404


def test_a_workshop_sees_its_own_mechanics_for_a_custom_range(history, get):
    cy = history["cy"]
    shop = cy.workshop
    url = f"/api/analytics/workshops/{shop.pk}?from=2031-03-10&to=2031-03-10"
    status, body = get(url, user=shop.owner)
    assert status == 200 and names(body) == ["Cy Workshop"]
    assert body["utilization"]["booked_minutes"] == 30  # C1 (C2 was released)
    other = MechanicFactory().user
    assert get(url, user=other)[0] == 404
