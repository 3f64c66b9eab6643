"""Workshop visit events reach the visit's customer and workshop, nobody else."""

import pytest
import time_machine

from autodoctor.integrations.delivery import deliveries_send_due
from autodoctor.integrations.models import Delivery
from autodoctor.workshops import services as visits
from tests.factories import WorkshopFactory
from tests.workshops.conftest import NOW, TUESDAY_10, completed_session, workshop  # noqa: F401
from tests.workshops.test_visits import request

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen():
    """The workshops fixtures' NOW (rows and events are stamped with the wall clock)."""
    with time_machine.travel(NOW, tick=False):
        yield


def test_a_visit_request_and_its_confirmation_reach_the_customer_and_the_workshop_only(
    workshop,  # noqa: F811
    completed_session,  # noqa: F811
    endpoint,
    receiver,
):
    session = completed_session()
    staff_hook = endpoint(workshop.staff_user).endpoint
    customer_hook = endpoint(session.customer, events=["visit.confirmed"]).endpoint
    other_shop_hook = endpoint(WorkshopFactory().owner).endpoint

    visit = request(session, workshop)
    visits.visit_confirm(user=workshop.staff_user, visit_id=visit.pk, now=NOW)

    def types(hook):
        return list(
            Delivery.objects.filter(endpoint=hook)
            .order_by("pk")
            .values_list("event_type", flat=True)
        )

    assert types(staff_hook) == ["visit.requested", "visit.confirmed"]
    assert types(customer_hook) == ["visit.confirmed"]
    assert types(other_shop_hook) == []
    assert deliveries_send_due(now=NOW)["delivered"] == 3
    data = receiver.requests[0].json["data"]
    assert (data["id"], data["workshop_id"], data["status"]) == (visit.pk, workshop.pk, "requested")
    assert data["starts_at"].startswith(TUESDAY_10.date().isoformat())
