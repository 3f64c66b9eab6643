"""Refusals on the way to paying, each with its code and words, and the "busy" answer
of the webhook endpoint: nothing is charged or confirmed, and a refused event is left
for the provider's retry when it was refused only because the database was locked."""

from datetime import timedelta

import pytest
from django.db import OperationalError

from autodoctor.booking import services as booking
from autodoctor.booking.models import ReservationStatus
from autodoctor.errors import Conflict, InvalidInput
from autodoctor.payments.models import Payment, PaymentStatus, WebhookEvent
from autodoctor.payments.providers import ProviderError
from autodoctor.payments.services import checkout, webhooks

from .conftest import SLOT, completed_checkout, later, post_webhook, signed_event

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


def test_a_released_hold_cannot_be_paid(buyer, mechanic, hold):
    reservation = hold(buyer, mechanic)
    booking.reservation_release(reservation_id=reservation.pk, customer=buyer, now=later(1))
    with pytest.raises(Conflict) as refused:
        checkout.payment_checkout_start(customer=buyer, reservation_id=reservation.pk, now=later(2))
    assert refused.value.code == "hold_released"
    assert refused.value.message == "This hold was released; pick a slot again."
    assert not Payment.objects.exists()


def test_a_hold_whose_slot_has_started_cannot_be_paid(buyer, mechanic, hold):
    reservation = hold(buyer, mechanic)
    with pytest.raises(Conflict) as refused:
        checkout.payment_checkout_start(
            customer=buyer, reservation_id=reservation.pk, now=SLOT + timedelta(minutes=1)
        )
    assert refused.value.code == "slot_in_past"
    assert refused.value.message == "This slot has already started; pick another time."
    assert not Payment.objects.exists()


def test_credits_are_refused_for_a_free_plan(buyer, mechanic, hold):
    reservation = hold(buyer, mechanic, plan="free")
    with pytest.raises(InvalidInput) as refused:
        checkout.payment_with_credits(customer=buyer, reservation_id=reservation.pk, now=later(1))
    assert refused.value.message == "This plan is free: accept the waiver instead."
    assert refused.value.data["field"] == "method"
    assert not Payment.objects.exists()


def test_a_waiver_of_an_unknown_version_is_refused(buyer, mechanic, hold):
    reservation = hold(buyer, mechanic, plan="free")
    with pytest.raises(InvalidInput) as refused:
        checkout.payment_with_waiver(
            customer=buyer,
            accepted=True,
            reservation_id=reservation.pk,
            text_version="v0-forged",
            now=later(1),
        )
    assert refused.value.message == "Unknown waiver version; reload the page."
    assert refused.value.data["field"] == "waiver_version"
    reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.RESERVED
    assert not Payment.objects.exists()


def test_stripe_failing_to_open_a_checkout_fails_the_payment_and_keeps_the_hold(
    stripe_on, buyer, mechanic, hold
):
    stripe_on.fail_checkouts = True
    reservation = hold(buyer, mechanic)
    with pytest.raises(ProviderError) as refused:
        checkout.payment_checkout_start(customer=buyer, reservation_id=reservation.pk, now=later(1))
    assert refused.value.code == "payment_provider_error" and refused.value.status == 502
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.FAILED
    assert payment.outcome == "payment_provider_error" and payment.checkout_url == ""
    reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.RESERVED


def test_card_payments_answer_503_when_no_provider_is_enabled(
    settings, login, buyer, mechanic, hold
):
    settings.SIMULATED_PAYMENTS_ALLOWED = False  # and no Stripe keys (payment_settings)
    reservation = hold(buyer, mechanic)
    response = login(buyer).post(
        "/api/payments/checkout",
        {"reservation_id": reservation.pk, "method": "card"},
        content_type="application/json",
    )
    assert response.status_code == 503
    assert response.json()["code"] == "card_payments_unavailable"
    assert not Payment.objects.exists()


def test_the_simulated_page_refuses_anything_but_pay_or_fail(
    login, buyer, mechanic, hold, time_machine
):
    time_machine.move_to(later(2), tick=False)
    reservation = hold(buyer, mechanic)
    client = login(buyer)
    location = client.post(f"/payments/checkout/{reservation.pk}/card/")["Location"]
    refused = client.post(location, {"outcome": "maybe"}, HTTP_REFERER=location, follow=True)
    assert refused.redirect_chain == [(location, 302)]
    assert "Press Pay or Fail." in refused.content.decode()
    assert Payment.objects.get().status == PaymentStatus.PENDING


# --------------------------------------------------------------------------- webhooks


def test_a_completed_checkout_naming_an_unknown_checkout_is_refused(client, stripe_on):
    obj = {"id": "cs_test_unknown", "metadata": {"payment_id": "12345"}}
    payload, header = signed_event("checkout.session.completed", obj)
    response = post_webhook(client, payload, header)
    assert response.status_code == 422
    assert response.json()["outcome"] == "refused_unknown_checkout"
    assert WebhookEvent.objects.get().outcome == "refused_unknown_checkout"


def test_a_refunded_charge_we_do_not_know_is_acknowledged_and_ignored(client, stripe_on):
    obj = {"id": "ch_test_1", "payment_intent": "pi_test_unknown", "amount_refunded": 500}
    payload, header = signed_event("charge.refunded", obj)
    response = post_webhook(client, payload, header)
    assert response.status_code == 200
    assert response.json()["outcome"] == "ignored_unknown_charge"


def test_a_webhook_that_finds_the_database_locked_answers_503_and_is_applied_on_retry(
    client, stripe_on, buyer, mechanic, hold, monkeypatch
):
    reservation = hold(buyer, mechanic)
    payment = checkout.payment_checkout_start(
        customer=buyer, reservation_id=reservation.pk, now=later(1)
    )
    payload, header = signed_event("checkout.session.completed", completed_checkout(payment))

    def locked(provider, obj, now):
        raise OperationalError("database is locked")

    with monkeypatch.context() as patch:
        patch.setitem(webhooks.HANDLERS, "checkout.session.completed", locked)
        response = post_webhook(client, payload, header)
    assert response.status_code == 503 and response.json()["code"] == "busy"
    event = WebhookEvent.objects.get()
    assert event.processed_at is None and event.outcome == ""
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING

    retried = post_webhook(client, payload, header)  # the provider retries later
    assert retried.status_code == 200 and retried.json()["outcome"] == "confirmed"
    reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.CONFIRMED


def test_a_webhook_failing_for_another_database_reason_is_not_called_busy(
    client, stripe_on, monkeypatch
):
    def broken(provider, obj, now):
        raise OperationalError("no such table: payments_payment")

    monkeypatch.setitem(webhooks.HANDLERS, "checkout.session.completed", broken)
    payload, header = signed_event("checkout.session.completed", {"id": "cs_test_1"})
    with pytest.raises(OperationalError):
        post_webhook(client, payload, header)
