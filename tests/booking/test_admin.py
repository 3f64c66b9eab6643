"""The booking admin: its lists cost the same number of queries however many rows they show."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from autodoctor.booking import services
from tests.factories import CustomerFactory

from .conftest import SLOT, later

pytestmark = pytest.mark.django_db


def list_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200, url
    return len(queries.captured_queries)


@pytest.mark.parametrize("model", ["session", "reservation", "offer", "sessionevent"])
def test_a_booking_admin_list_costs_the_same_for_one_row_as_for_five(
    login, admin_user, available_mechanic, hold, model
):
    def book(i: int) -> None:
        customer = CustomerFactory().user  # a different actor on every history row
        reservation = hold(customer, available_mechanic, start=SLOT + timedelta(minutes=45 * i))
        services.reservation_confirm(reservation_id=reservation.pk, customer=customer, now=later(1))

    client = login(admin_user)
    url = f"/admin/booking/{model}/"
    book(0)
    one = list_queries(client, url)
    for i in range(1, 5):
        book(i)
    assert list_queries(client, url) == one
