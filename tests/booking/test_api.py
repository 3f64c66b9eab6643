"""The booking API through the test client: what the session list costs in queries."""

from datetime import timedelta

import pytest

from autodoctor.booking import services

from .conftest import SLOT

pytestmark = pytest.mark.django_db


def test_the_session_list_loads_its_holds_in_one_query_not_one_per_row(
    customer_limits_lifted,
    login,
    booking_customer,
    available_mechanic,
    hold,
    intake,
    django_assert_max_num_queries,
):
    # 10 scheduled holds (two days of 5, 45 minutes apart: 30 min + the 15 min buffer)...
    held = {
        hold(
            booking_customer,
            available_mechanic,
            start=SLOT + timedelta(days=i // 5, minutes=45 * (i % 5)),
        ).session_id
        for i in range(10)
    }
    # ...and 10 start-now sessions, which have no hold.
    for _ in range(10):
        services.session_create_immediate(
            customer=booking_customer, intake=intake(booking_customer)
        )
    client = login(booking_customer)
    # session + user (authentication), sessions, their holds
    with django_assert_max_num_queries(4):
        response = client.get("/api/sessions")
    assert response.status_code == 200
    rows = response.json()
    assert len(rows) == 20
    assert {row["id"] for row in rows if row["hold"]} == held
    assert all(
        row["hold"]["session_id"] == row["id"] and row["hold"]["status"] == "reserved"
        for row in rows
        if row["hold"]
    )
