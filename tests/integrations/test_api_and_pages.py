"""The webhooks API and the /integrations/ pages: the owner's own endpoints only, the
secret shown once, the delivery log and Resend."""

from datetime import timedelta

import pytest

from autodoctor.integrations.delivery import deliveries_send_due
from autodoctor.integrations.models import Delivery, Endpoint
from tests.booking.conftest import NOW
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_the_api_registers_an_endpoint_and_answers_its_secret_once(
    booking_customer, login, receiver
):
    client = login(booking_customer)
    created = client.post(
        "/api/webhooks/endpoints",
        {"url": receiver.url, "event_types": ["session.booked", "payment.refunded"]},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["secret"].startswith("whsec_") and body["active"] is True
    assert body["event_types"] == ["session.booked", "payment.refunded"]
    assert Endpoint.objects.get(pk=body["id"]).secret == body["secret"]

    listed = client.get("/api/webhooks/endpoints").json()
    assert [e["id"] for e in listed] == [body["id"]]
    assert "secret" not in listed[0] and body["secret"] not in str(listed)


def test_the_api_refuses_unknown_events_and_private_addresses(booking_customer, login, settings):
    client = login(booking_customer)
    unknown = client.post(
        "/api/webhooks/endpoints",
        {"url": "http://127.0.0.1:9/", "event_types": ["session.exploded"]},
        content_type="application/json",
    )
    assert unknown.status_code == 422 and unknown.json()["field"] == "event_types.0"
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    private = client.post(
        "/api/webhooks/endpoints",
        {"url": "http://127.0.0.1:9/", "event_types": ["session.booked"]},
        content_type="application/json",
    )
    assert private.status_code == 422
    assert private.json()["field"] == "url" and "private" in private.json()["detail"]
    assert not Endpoint.objects.exists()


def test_another_users_endpoint_and_deliveries_are_not_found(
    book, booking_customer, available_mechanic, endpoint, login
):
    hook = endpoint(booking_customer).endpoint
    book(booking_customer, available_mechanic)
    delivery = Delivery.objects.filter(endpoint=hook).first()
    stranger = login(CustomerFactory().user)
    assert stranger.get(f"/api/webhooks/endpoints/{hook.pk}/deliveries").status_code == 404
    assert stranger.delete(f"/api/webhooks/endpoints/{hook.pk}").status_code == 404
    assert stranger.post(f"/api/webhooks/deliveries/{delivery.pk}/resend").status_code == 404
    assert stranger.get(f"/integrations/endpoints/{hook.pk}/").status_code == 404
    assert stranger.get("/api/webhooks/endpoints").json() == []
    assert Endpoint.objects.filter(pk=hook.pk).exists() and Delivery.objects.count() == 1


def test_the_delivery_log_shows_the_answer_and_resend_queues_the_event_again(
    book, booking_customer, available_mechanic, endpoint, receiver, login
):
    hook = endpoint(booking_customer, events=["session.booked"]).endpoint
    book(booking_customer, available_mechanic)
    receiver.default = 500
    client = login(booking_customer)
    [pending] = client.get(f"/api/webhooks/endpoints/{hook.pk}/deliveries").json()
    refused = client.post(f"/api/webhooks/deliveries/{pending['id']}/resend")
    assert refused.status_code == 409 and refused.json()["code"] == "delivery_in_flight"

    for attempt in range(7):  # every retry fails: the delivery gives up
        deliveries_send_due(now=NOW + timedelta(days=attempt * 2))
    page = client.get(f"/integrations/endpoints/{hook.pk}/").content.decode()
    assert "session.booked" in page and "HTTP 500" in page and "failed" in page
    assert "Resend" in page

    receiver.default = 200
    response = client.post(f"/integrations/deliveries/{pending['id']}/resend/")
    assert response.status_code == 302
    deliveries_send_due(now=NOW + timedelta(days=30))
    log = client.get(f"/api/webhooks/endpoints/{hook.pk}/deliveries").json()
    assert [d["status"] for d in log] == ["delivered", "failed"]
    assert log[0]["event_id"] == log[1]["event_id"] and log[0]["last_status_code"] == 200


def test_the_page_registers_an_endpoint_and_shows_the_secret_once(
    booking_customer, login, receiver
):
    client = login(booking_customer)
    page = client.get("/integrations/").content.decode()
    assert 'value="session.booked"' in page and 'value="visit.completed"' in page
    response = client.post(
        "/integrations/endpoints/",
        {"url": receiver.url, "description": "CRM", "event_types": ["session.cancelled"]},
    )
    assert response.status_code == 302
    secret = Endpoint.objects.get().secret
    first = client.get("/integrations/").content.decode()
    assert secret in first and receiver.url in first and "session.cancelled" in first
    assert secret not in client.get("/integrations/").content.decode()


def test_the_page_says_why_an_address_is_refused(booking_customer, login, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    client = login(booking_customer)
    response = client.post(
        "/integrations/endpoints/",
        {"url": "http://127.0.0.1/", "event_types": ["session.booked"]},
        HTTP_REFERER="/integrations/",
        follow=True,
    )
    assert "private or local address" in response.content.decode()
    assert not Endpoint.objects.exists()
