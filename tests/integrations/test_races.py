"""Several workers on one queue (real threads, a real database): every delivery is POSTed
exactly once and the events about one resource still arrive in order."""

from datetime import timedelta

import pytest
import time_machine

from autodoctor.integrations.delivery import deliveries_send_due
from autodoctor.integrations.events import deliveries_write
from autodoctor.integrations.models import Delivery, DeliveryStatus
from tests.booking.conftest import NOW
from tests.factories import CustomerFactory
from tests.racing import race

pytestmark = pytest.mark.django_db(transaction=True)

SESSIONS, EVENTS_EACH, WORKERS = 4, 5, 4


def test_racing_workers_post_each_delivery_once_in_order_per_resource(endpoint, receiver):
    owner = CustomerFactory().user
    endpoint(owner)
    with time_machine.travel(NOW, tick=False):  # the rows are due from NOW
        for step in range(EVENTS_EACH):
            for session in range(SESSIONS):
                deliveries_write(
                    event_type="session.rescheduled",
                    resource=f"session:{session}",
                    viewers={owner.pk},
                    created=None,
                    data=lambda session=session, step=step: {"id": session, "step": step},
                )

    outcomes = race(WORKERS, lambda i: deliveries_send_due(now=NOW + timedelta(seconds=1)))

    assert outcomes == {"ok": WORKERS}
    total = SESSIONS * EVENTS_EACH
    assert Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == total
    ids = [r.json["id"] for r in receiver.requests]
    assert len(ids) == len(set(ids)) == total  # nothing twice
    for session in range(SESSIONS):
        steps = [
            r.json["data"]["step"] for r in receiver.requests if r.json["data"]["id"] == session
        ]
        assert steps == list(range(EVENTS_EACH)), session
