"""Card payments through Stripe: the real SDK builds the requests (the HTTP layer under
it is faked) and verifies webhook signatures made with the SDK's own helper."""

import json
from collections import Counter
from datetime import datetime, timedelta

import pytest
import stripe
import time_machine

from autodoctor.booking import services as booking
from autodoctor.booking.models import Reservation, ReservationStatus, SessionEvent, SessionStatus
from autodoctor.payments.models import (
    Payment,
    PaymentStatus,
    PayoutEntry,
    Refund,
    RefundStatus,
    WebhookEvent,
)
from autodoctor.payments.services import checkout
from autodoctor.payments.services.checkout import PaymentRequired

from .conftest import (
    SLOT,
    STRIPE_SECRET,
    completed_checkout,
    later,
    post_webhook,
    signed_event,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]

ADVICE = 2999


@pytest.fixture
def card_payment(stripe_on, buyer, mechanic, hold):
    reservation = hold(buyer, mechanic)
    return checkout.payment_checkout_start(
        reservation_id=reservation.pk, customer=buyer, now=later(1)
    )


def _confirmations(session_id: int) -> int:
    return SessionEvent.objects.filter(
        session_id=session_id, action="booking.session.confirmed"
    ).count()


def test_checkout_session_carries_the_reservation_and_expires_with_the_hold(
    stripe_on, card_payment
):
    (call,) = stripe_on.calls("/v1/checkout/sessions")
    form, headers = call["form"], call["headers"]
    assert call["method"] == "post"
    assert form["mode"] == "payment"
    assert form["metadata[reservation_id]"] == str(card_payment.reservation_id)
    assert form["metadata[customer_id]"] == str(card_payment.customer_id)
    assert form["metadata[payment_id]"] == str(card_payment.pk)
    assert form["payment_intent_data[metadata][reservation_id]"] == str(card_payment.reservation_id)
    assert form["line_items[0][price_data][unit_amount]"] == str(ADVICE)
    assert form["line_items[0][price_data][currency]"] == "cad"
    # Stripe's minimum is 30 minutes: the later of the hold's expiry and now + 31 min.
    assert int(form["expires_at"]) == int((later(1) + timedelta(minutes=31)).timestamp())
    assert form["success_url"] == f"http://testserver/payments/receipts/{card_payment.pk}/"
    assert (
        form["cancel_url"] == f"http://testserver/payments/checkout/{card_payment.reservation_id}/"
    )
    assert headers["Idempotency-Key"] == f"autodoctor-checkout-{card_payment.pk}"
    assert headers["Authorization"] == "Bearer sk_test_not_a_real_key"
    assert card_payment.status == PaymentStatus.PENDING
    assert card_payment.checkout_url.startswith("https://checkout.stripe.com/")


def test_pressing_pay_by_card_twice_reuses_the_open_checkout(stripe_on, card_payment, buyer):
    again = checkout.payment_checkout_start(
        reservation_id=card_payment.reservation_id, customer=buyer, now=later(2)
    )
    assert again == card_payment
    assert len(stripe_on.calls("/v1/checkout/sessions")) == 1


def test_api_confirm_of_a_paid_plan_answers_402_with_the_checkout_url(
    stripe_on, login, buyer, mechanic, hold, time_machine
):
    time_machine.move_to(later(1), tick=False)
    reservation = hold(buyer, mechanic)
    response = login(buyer).put(
        "/api/slots/confirm", {"reservation_id": reservation.pk}, content_type="application/json"
    )
    assert response.status_code == 402
    body = response.json()
    assert body["code"] == "payment_required"
    assert body["checkout_url"].startswith("https://checkout.stripe.com/")
    assert Payment.objects.get(pk=body["payment_id"]).status == PaymentStatus.PENDING
    reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.RESERVED


def test_completed_checkout_confirms_the_booking_and_records_the_payout(client, card_payment):
    with time_machine.travel(later(5), tick=False):
        payload, header = signed_event(
            "checkout.session.completed", completed_checkout(card_payment)
        )
        response = post_webhook(client, payload, header)
    assert response.status_code == 200, response.content
    assert response.json()["outcome"] == "confirmed"
    card_payment.refresh_from_db()
    assert card_payment.status == PaymentStatus.SUCCEEDED
    assert card_payment.provider_payment_id == f"pi_test_{card_payment.pk}"
    reservation = Reservation.objects.get(pk=card_payment.reservation_id)
    assert reservation.status == ReservationStatus.CONFIRMED
    assert reservation.session.status == SessionStatus.SCHEDULED
    entry = PayoutEntry.objects.get()
    assert (entry.gross_cents, entry.payee_cents, entry.platform_cents) == (ADVICE, 2099, 900)


def test_a_webhook_replayed_three_times_confirms_once_with_one_ledger_entry(client, card_payment):
    with time_machine.travel(later(5), tick=False):
        payload, header = signed_event(
            "checkout.session.completed", completed_checkout(card_payment)
        )
        answers = [post_webhook(client, payload, header) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 200]
    assert [a.json()["outcome"] for a in answers] == ["confirmed"] + ["duplicate"] * 3
    assert _confirmations(card_payment.session_id) == 1
    assert PayoutEntry.objects.count() == 1
    assert Payment.objects.filter(status=PaymentStatus.SUCCEEDED).count() == 1
    event = WebhookEvent.objects.get()
    assert event.deliveries == 4 and event.outcome == "confirmed"


@pytest.mark.parametrize(
    "header",
    [
        None,
        "garbage",
        "t=1,v1=deadbeef",
        "wrong-secret",
        "stale",
        "future",
    ],
    ids=["missing", "garbage", "bad-mac", "wrong-secret", "stale-timestamp", "future-timestamp"],
)
def test_a_bad_signature_is_a_400_and_changes_nothing(client, card_payment, header):
    with time_machine.travel(later(5), tick=False):
        payload, _good = signed_event(
            "checkout.session.completed", completed_checkout(card_payment)
        )
        if header == "wrong-secret":
            header = stripe.WebhookSignature.generate_signature_header(payload, "whsec_other")
        elif header in ("stale", "future"):
            signed_at = later(-10) if header == "stale" else later(5 + 60)  # an hour ahead
            header = stripe.WebhookSignature.generate_signature_header(
                payload, STRIPE_SECRET, timestamp=int(signed_at.timestamp())
            )
        response = post_webhook(client, payload, header)
    assert response.status_code == 400
    assert response.json()["code"] == "bad_signature"
    assert not WebhookEvent.objects.exists()
    card_payment.refresh_from_db()
    assert card_payment.status == PaymentStatus.PENDING
    assert (
        Reservation.objects.get(pk=card_payment.reservation_id).status == ReservationStatus.RESERVED
    )


def test_a_body_changed_after_signing_is_refused(client, card_payment):
    with time_machine.travel(later(5), tick=False):
        payload, header = signed_event(
            "checkout.session.completed", completed_checkout(card_payment)
        )
        tampered = payload.replace(str(ADVICE), "1")
        response = post_webhook(client, tampered, header)
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize(
    ("change", "outcome"),
    [
        ({"metadata": {"customer_id": "999999"}}, "refused_customer_id_mismatch"),
        ({"amount_total": 1}, "refused_amount_mismatch"),
        ({"currency": "usd"}, "refused_currency_mismatch"),
    ],
    ids=["other-customer", "wrong-amount", "wrong-currency"],
)
def test_signed_but_tampered_events_are_refused_and_confirm_nothing(
    client, card_payment, change, outcome
):
    with time_machine.travel(later(5), tick=False):
        payload, header = signed_event(
            "checkout.session.completed", completed_checkout(card_payment, **change)
        )
        response = post_webhook(client, payload, header)
    assert response.status_code == 422
    assert response.json()["outcome"] == outcome
    card_payment.refresh_from_db()
    assert card_payment.status == PaymentStatus.PENDING
    assert (
        Reservation.objects.get(pk=card_payment.reservation_id).status == ReservationStatus.RESERVED
    )
    assert not PayoutEntry.objects.exists()
    assert WebhookEvent.objects.get().http_status == 422


def test_metadata_pointing_at_another_customers_reservation_is_refused(
    client, card_payment, other_buyer, mechanic, hold
):
    theirs = hold(other_buyer, mechanic, start=SLOT + timedelta(hours=3))
    with time_machine.travel(later(5), tick=False):
        payload, header = signed_event(
            "checkout.session.completed",
            completed_checkout(card_payment, metadata={"reservation_id": str(theirs.pk)}),
        )
        response = post_webhook(client, payload, header)
    assert response.status_code == 422
    assert response.json()["outcome"] == "refused_reservation_id_mismatch"
    theirs.refresh_from_db()
    assert theirs.status == ReservationStatus.RESERVED
    assert Reservation.objects.filter(status=ReservationStatus.CONFIRMED).count() == 0


def test_an_event_for_an_unknown_checkout_naming_our_payment_is_refused(client, card_payment):
    with time_machine.travel(later(5), tick=False):
        payload, header = signed_event(
            "checkout.session.completed", completed_checkout(card_payment, id="cs_test_forged")
        )
        response = post_webhook(client, payload, header)
    assert response.status_code == 422
    card_payment.refresh_from_db()
    assert card_payment.status == PaymentStatus.PENDING


def test_events_from_other_integrations_are_acknowledged_and_ignored(client, stripe_on):
    payload, header = signed_event(
        "checkout.session.completed", {"id": "cs_test_someone_else", "metadata": {}}
    )
    response = post_webhook(client, payload, header)
    assert response.status_code == 200 and response.json()["outcome"] == "ignored_not_ours"
    payload, header = signed_event("customer.created", {"id": "cus_1"})
    assert post_webhook(client, payload, header).json()["outcome"] == "ignored"


def test_an_expired_checkout_fails_the_payment_and_keeps_the_hold(client, card_payment):
    payload, header = signed_event(
        "checkout.session.expired",
        completed_checkout(
            card_payment, payment_status="unpaid", status="expired", payment_intent=None
        ),
    )
    assert post_webhook(client, payload, header).json()["outcome"] == "checkout_expired"
    card_payment.refresh_from_db()
    assert (
        card_payment.status == PaymentStatus.FAILED and card_payment.outcome == "checkout_expired"
    )
    assert (
        Reservation.objects.get(pk=card_payment.reservation_id).status == ReservationStatus.RESERVED
    )


def test_a_payment_after_the_hold_expired_takes_the_slot_if_it_is_still_free(client, card_payment):
    booking.holds_expire_all(now=later(20))
    assert (
        Reservation.objects.get(pk=card_payment.reservation_id).status == ReservationStatus.EXPIRED
    )
    with time_machine.travel(later(25), tick=False):
        payload, header = signed_event(
            "checkout.session.completed", completed_checkout(card_payment)
        )
        response = post_webhook(client, payload, header)
    assert response.json()["outcome"] == "confirmed"
    assert (
        Reservation.objects.get(pk=card_payment.reservation_id).status
        == ReservationStatus.CONFIRMED
    )


def test_a_payment_after_someone_else_took_the_slot_is_refunded_with_alternatives(
    client, stripe_on, card_payment, other_buyer, mechanic, hold, django_capture_on_commit_callbacks
):
    # The hold ran out; another customer holds and books the same time (with credits).
    from autodoctor.payments.services import credits
    from tests.factories import UserFactory

    admin = UserFactory(role="admin", is_staff=True, is_superuser=True)
    credits.credits_grant(customer=other_buyer, amount_cents=ADVICE, note="", granted_by=admin)
    theirs = hold(other_buyer, mechanic, now=later(16))
    checkout.payment_with_credits(reservation_id=theirs.pk, customer=other_buyer, now=later(17))

    with (
        time_machine.travel(later(25), tick=False),
        django_capture_on_commit_callbacks(execute=True),  # the refund is sent after commit
    ):
        payload, header = signed_event(
            "checkout.session.completed", completed_checkout(card_payment)
        )
        response = post_webhook(client, payload, header)
    assert response.status_code == 200
    assert response.json()["outcome"] == "refunded_slot_taken"

    card_payment.refresh_from_db()
    assert card_payment.status == PaymentStatus.REFUNDED
    assert card_payment.outcome == "slot_taken"
    alternatives = card_payment.outcome_detail["next_free_slots"]
    assert alternatives and all(
        datetime.fromisoformat(a) > SLOT - timedelta(days=1) for a in alternatives
    )
    refund = Refund.objects.get(payment=card_payment)
    assert refund.amount_cents == ADVICE and refund.status == RefundStatus.SUCCEEDED
    (call,) = stripe_on.calls("/v1/refunds")
    assert call["form"]["payment_intent"] == f"pi_test_{card_payment.pk}"
    assert call["form"]["amount"] == str(ADVICE)
    assert call["headers"]["Idempotency-Key"] == f"autodoctor-refund-{refund.pk}"
    # the customer is told (the notifications app reads this event), never two bookings
    told = SessionEvent.objects.get(
        session_id=card_payment.session_id, action="payments.payment.refunded"
    )
    assert told.data["reason"] == "slot_taken" and told.data["next_free_slots"] == alternatives
    assert Reservation.objects.filter(status=ReservationStatus.CONFIRMED).count() == 1
    theirs.refresh_from_db()
    assert theirs.status == ReservationStatus.CONFIRMED
    assert not PayoutEntry.objects.filter(payment=card_payment).exists()

    # the receipt says so, with the other times in the customer's zone
    from django.test import Client

    page = Client()
    page.force_login(card_payment.customer)
    body = page.get(f"/payments/receipts/{card_payment.pk}/").content.decode()
    assert "someone else had booked that time" in body and "America/Toronto" in body

    # ...and by email: the refund and the other free times, in the customer's zone.
    from autodoctor.notifications.models import Notification
    from autodoctor.notifications.rendering import message_render, when_label

    (note,) = Notification.objects.filter(recipient=card_payment.customer, kind="payment_refunded")
    message = message_render(note)
    assert message.subject == "Refund: $29.99 CAD for your video session"
    assert "someone else had booked that time" in message.body
    assert "Refund:  $29.99 CAD back to your card" in message.body
    first = when_label(datetime.fromisoformat(alternatives[0]), "America/Toronto")
    assert f"  - {first}" in message.body


def test_paying_twice_for_one_booking_refunds_the_second_payment(
    client, stripe_on, card_payment, buyer
):
    from autodoctor.payments.services import credits
    from tests.factories import UserFactory

    admin = UserFactory(role="admin", is_staff=True, is_superuser=True)
    credits.credits_grant(customer=buyer, amount_cents=ADVICE, note="", granted_by=admin)
    checkout.payment_with_credits(
        reservation_id=card_payment.reservation_id, customer=buyer, now=later(2)
    )
    with time_machine.travel(later(5), tick=False):
        payload, header = signed_event(
            "checkout.session.completed", completed_checkout(card_payment)
        )
        assert post_webhook(client, payload, header).json()["outcome"] == "refunded_already_paid"
    card_payment.refresh_from_db()
    assert card_payment.status == PaymentStatus.REFUNDED
    assert _confirmations(card_payment.session_id) == 1


def test_a_refund_made_in_the_stripe_dashboard_is_reflected_in_the_ledger(client, card_payment):
    with time_machine.travel(later(5), tick=False):
        payload, header = signed_event(
            "checkout.session.completed", completed_checkout(card_payment)
        )
        post_webhook(client, payload, header)
        charge = {
            "id": "ch_test_1",
            "object": "charge",
            "payment_intent": f"pi_test_{card_payment.pk}",
            "amount": ADVICE,
            "amount_refunded": 1000,
        }
        payload, header = signed_event("charge.refunded", charge)
        assert post_webhook(client, payload, header).json()["outcome"] == "refund_recorded"
        payload, header = signed_event("charge.refunded", charge)  # a second, different event
        assert post_webhook(client, payload, header).json()["outcome"] == "refund_already_recorded"
    card_payment.refresh_from_db()
    assert card_payment.refunded_cents == 1000 and card_payment.status == PaymentStatus.SUCCEEDED
    reversal = PayoutEntry.objects.get(kind="reversal")
    assert reversal.gross_cents == -1000 and reversal.payee_cents == -700


def test_refund_events_update_the_refund_status(client, stripe_on, card_payment, buyer):
    with time_machine.travel(later(5), tick=False):
        payload, header = signed_event(
            "checkout.session.completed", completed_checkout(card_payment)
        )
        post_webhook(client, payload, header)
    stripe_on.refund_status = "pending"
    booking.session_cancel(session_id=card_payment.session_id, user=buyer, now=later(10))
    refund = Refund.objects.get()
    assert refund.status == RefundStatus.PENDING  # on_commit does not run in this test transaction
    from autodoctor.payments.services.refunds import refund_send

    refund = refund_send(refund.pk)
    assert refund.status == RefundStatus.SUBMITTED and refund.provider_refund_id.startswith(
        "re_test_"
    )
    payload, header = signed_event(
        "refund.failed",
        {
            "id": refund.provider_refund_id,
            "object": "refund",
            "status": "failed",
            "failure_reason": "expired_or_canceled_card",
        },
    )
    assert post_webhook(client, payload, header).json()["outcome"] == "refund_failed"
    refund.refresh_from_db()
    assert (
        refund.status == RefundStatus.FAILED
        and refund.failure_message == "expired_or_canceled_card"
    )


def test_a_refund_stripe_cannot_take_yet_stays_pending_and_is_retried(
    client, stripe_on, card_payment, buyer
):
    from autodoctor.payments.services.refunds import refund_send, refunds_send_pending

    with time_machine.travel(later(5), tick=False):
        payload, header = signed_event(
            "checkout.session.completed", completed_checkout(card_payment)
        )
        post_webhook(client, payload, header)
    booking.session_cancel(session_id=card_payment.session_id, user=buyer, now=later(10))
    stripe_on.fail_refunds = True
    refund = refund_send(Refund.objects.get().pk)
    assert refund.status == RefundStatus.PENDING and refund.attempts == 1 and refund.failure_message
    stripe_on.fail_refunds = False
    assert refunds_send_pending() == 1
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED and refund.attempts == 2
    keys = Counter(c["headers"]["Idempotency-Key"] for c in stripe_on.calls("/v1/refunds"))
    assert keys == Counter({f"autodoctor-refund-{refund.pk}": 2})  # same key: never refunded twice


def test_the_stripe_endpoint_does_not_exist_without_keys(client):
    payload, header = signed_event("checkout.session.completed", {"id": "cs_x"})
    assert post_webhook(client, payload, header).status_code == 404


def test_a_paid_plan_cannot_be_confirmed_through_the_page_without_paying(
    stripe_on, buyer, mechanic, hold
):
    reservation = hold(buyer, mechanic)
    with pytest.raises(PaymentRequired) as required:
        booking.reservation_confirm_checked(
            reservation_id=reservation.pk, customer=buyer, now=later(1)
        )
    assert required.value.data["checkout_url"].startswith("https://checkout.stripe.com/")


def test_malformed_json_with_a_valid_signature_is_a_400(client, stripe_on):
    payload = json.dumps({"no": "event"})
    header = stripe.WebhookSignature.generate_signature_header(payload, STRIPE_SECRET)
    response = post_webhook(client, payload, header)
    assert response.status_code == 400 and response.json()["code"] == "malformed_event"
