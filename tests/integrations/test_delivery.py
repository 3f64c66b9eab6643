"""Webhook delivery end to end: real booking changes, the real worker, a real HTTP
receiver on 127.0.0.1."""

import re
from datetime import timedelta
from pathlib import Path

import pytest

from autodoctor.booking import events as booking_events
from autodoctor.booking import services as booking
from autodoctor.errors import InvalidInput
from autodoctor.integrations import services
from autodoctor.integrations.delivery import deliveries_send_due
from autodoctor.integrations.models import Delivery, DeliveryStatus, Endpoint
from autodoctor.notifications.models import Notification, OutboxMessage
from autodoctor.notifications.rendering import message_render
from tests.booking.conftest import NOW, SLOT
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db

DOCS = Path(__file__).resolve().parents[2] / "docs" / "integrations.md"


def docs_verify():
    """The verification snippet of docs/integrations.md, run as it is written there."""
    code = re.search(r"```python\n(.*?)```", DOCS.read_text(), re.S).group(1)
    namespace: dict = {}
    exec(code, namespace)
    return namespace["verify"]


def send(minutes: float = 2):
    return deliveries_send_due(now=NOW + timedelta(minutes=minutes))


def test_a_booking_is_posted_signed_with_the_endpoint_secret(
    book, booking_customer, available_mechanic, endpoint, receiver
):
    issued = endpoint(booking_customer, events=["session.booked"])
    session = book(booking_customer, available_mechanic)

    assert send() == {"delivered": 1, "retry": 0, "failed": 0}

    [got] = receiver.requests
    verify = docs_verify()
    assert verify(issued.secret, got.body, got.headers["AutoDoctor-Signature"])
    assert not verify("whsec_wrong", got.body, got.headers["AutoDoctor-Signature"])
    assert not verify(issued.secret, got.body + b" ", got.headers["AutoDoctor-Signature"])
    body = got.json
    assert (body["type"], body["api_version"]) == ("session.booked", "2026-12-01")
    assert body["id"].startswith("evt_") and got.headers["AutoDoctor-Event-Id"] == body["id"]
    assert body["data"]["id"] == session.pk and body["data"]["status"] == "scheduled"
    assert body["data"]["scheduled_for"].startswith(SLOT.date().isoformat())
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.last_status_code) == (DeliveryStatus.DELIVERED, 200)
    assert len(delivery.last_response) == 500  # the receiver answered 1 200 characters


def test_a_500_is_retried_after_the_backoff_then_delivered(
    book, booking_customer, available_mechanic, endpoint, receiver
):
    endpoint(booking_customer, events=["session.booked"])
    book(booking_customer, available_mechanic)
    receiver.answers = [500]

    assert send(2) == {"delivered": 0, "retry": 1, "failed": 0}
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.last_status_code) == (DeliveryStatus.PENDING, 500)
    assert delivery.last_response == "receiver error"
    assert send(2.5)["delivered"] == 0  # not due yet: the first backoff is a minute
    assert send(3.1) == {"delivered": 1, "retry": 0, "failed": 0}
    assert len(receiver.requests) == 2
    assert receiver.requests[0].json["id"] == receiver.requests[1].json["id"]  # same event
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 2)
    assert Endpoint.objects.get().consecutive_failures == 0


def test_events_about_one_session_arrive_in_order_even_across_a_retry(
    book, booking_customer, available_mechanic, endpoint, receiver, clock
):
    endpoint(booking_customer)
    session = book(booking_customer, available_mechanic)
    clock.move_to(NOW + timedelta(minutes=2))
    booking.session_cancel(session_id=session.pk, user=booking_customer, reason="plans changed")
    receiver.answers = [500]  # the booking's first attempt fails

    send(3)
    assert receiver.events() == [("session.booked", session.pk)]  # the cancel waited
    send(4.1)
    types = [t for t, _ in receiver.events()]
    assert types[:3] == ["session.booked", "session.booked", "session.cancelled"]
    cancelled = receiver.requests[2].json["data"]
    assert (cancelled["status"], cancelled["cancellation_reason"]) == ("cancelled", "plans changed")


def test_an_endpoint_failing_again_and_again_is_turned_off_and_its_owner_emailed(
    book, booking_customer, available_mechanic, endpoint, receiver, settings
):
    settings.WEBHOOKS_DISABLE_AFTER = 3
    issued = endpoint(booking_customer, events=["session.booked"])
    book(booking_customer, available_mechanic)
    receiver.default = 503

    for minutes in (2, 3.1, 8.2):  # the first attempt, then after 1 and 5 minutes
        send(minutes)
    endpoint_row = Endpoint.objects.get()
    assert not endpoint_row.active and endpoint_row.disabled_at == NOW + timedelta(minutes=8.2)
    assert endpoint_row.consecutive_failures == 3
    [note] = Notification.objects.filter(recipient=booking_customer, kind="webhook_disabled")
    assert OutboxMessage.objects.filter(notification=note, channel="email").exists()
    rendered = message_render(note)
    assert "turned off" in rendered.subject and issued.endpoint.url in rendered.body

    assert send(60 * 24)["retry"] == 0 and len(receiver.requests) == 3  # off: nothing sent
    receiver.default = 200
    services.endpoint_enable(owner=booking_customer, endpoint_id=endpoint_row.pk)
    assert send(60 * 24)["delivered"] == 1  # the waiting delivery goes out once back on


def test_a_change_that_rolls_back_delivers_nothing(
    hold, booking_customer, available_mechanic, endpoint, receiver, clock
):
    endpoint(booking_customer)
    reservation = hold(booking_customer, available_mechanic)

    def explode(event):
        if event.action == "booking.session.confirmed":
            raise RuntimeError("a later step of the booking failed")

    booking_events.register_event_listener(explode)  # after ours: our rows were written
    try:
        with pytest.raises(RuntimeError):
            booking.reservation_confirm(
                reservation_id=reservation.pk, customer=booking_customer, now=NOW
            )
    finally:
        booking_events.unregister_event_listener(explode)

    assert not Delivery.objects.exists()
    send()
    assert receiver.requests == []


def test_private_addresses_are_refused_unless_allowed(
    book, booking_customer, available_mechanic, endpoint, receiver, settings
):
    issued = endpoint(booking_customer)  # allowed while saving (tests allow private)
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    for url in (
        receiver.url,
        "http://localhost/hooks",
        "http://10.1.2.3/hooks",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hooks",
        "ftp://example.com/hooks",
    ):
        with pytest.raises(InvalidInput) as refused:
            services.endpoint_create(
                owner=booking_customer, url=url, event_types=["session.booked"]
            )
        assert refused.value.data["field"] == "url", url

    book(booking_customer, available_mechanic)  # the saved endpoint is checked again
    assert send()["retry"] == 1
    assert receiver.requests == []
    delivery = Delivery.objects.get(endpoint=issued.endpoint)
    assert delivery.last_error.startswith("refused: the host resolves to a private")


def test_nobody_hears_of_another_customers_session(
    book, booking_customer, available_mechanic, endpoint, receiver
):
    stranger = endpoint(CustomerFactory().user).endpoint
    mine = endpoint(booking_customer).endpoint
    theirs = endpoint(available_mechanic.user).endpoint
    platform = endpoint(UserFactory(role="admin", is_staff=True)).endpoint
    session = book(booking_customer, available_mechanic)

    assert not Delivery.objects.filter(endpoint=stranger).exists()
    for listener in (mine, theirs, platform):
        assert Delivery.objects.filter(endpoint=listener, event_type="session.booked").exists()
    send()
    assert all(r.json["data"]["customer_id"] == session.customer_id for r in receiver.requests)


def test_only_the_subscribed_events_are_delivered(
    book, booking_customer, available_mechanic, endpoint, clock
):
    endpoint(booking_customer, events=["session.cancelled"])
    session = book(booking_customer, available_mechanic)
    assert not Delivery.objects.exists()
    booking.session_cancel(session_id=session.pk, user=booking_customer)
    assert list(Delivery.objects.values_list("event_type", flat=True)) == ["session.cancelled"]


def test_a_slow_receiver_times_out_and_is_retried(
    book, booking_customer, available_mechanic, endpoint, receiver, settings
):
    settings.WEBHOOKS_TIMEOUT_SECONDS = 0.2
    endpoint(booking_customer, events=["session.booked"])
    book(booking_customer, available_mechanic)
    receiver.delay = 1.0

    assert send()["retry"] == 1
    delivery = Delivery.objects.get()
    assert delivery.last_status_code is None and "timed out" in delivery.last_error


def test_resend_posts_the_same_event_again(
    book, booking_customer, available_mechanic, endpoint, receiver
):
    endpoint(booking_customer, events=["session.booked"])
    book(booking_customer, available_mechanic)
    send()
    first = Delivery.objects.get()

    again = services.delivery_resend(owner=booking_customer, delivery_id=first.pk, now=NOW)
    send(3)
    assert again.pk != first.pk and len(receiver.requests) == 2
    assert receiver.requests[1].body == receiver.requests[0].body
