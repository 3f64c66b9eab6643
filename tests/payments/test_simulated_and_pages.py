"""The offline flow end to end with the test client: checkout page → simulated card
page → "Pay" (a signed event through the same webhook handler) → receipt; "Fail";
credits and waiver from the page; who may see which payment."""

import re
from datetime import timedelta

import pytest
import stripe

from autodoctor.booking.models import Reservation, ReservationStatus, SessionStatus
from autodoctor.payments.models import Payment, PaymentStatus, PayoutEntry, WebhookEvent
from autodoctor.payments.services import credits
from tests.factories import UserFactory

from .conftest import (
    SIMULATED_SECRET,
    SLOT,
    completed_checkout,
    later,
    post_webhook,
    signed_event,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


@pytest.fixture
def at_checkout(time_machine):
    time_machine.move_to(later(2), tick=False)


def body(response) -> str:
    return response.content.decode()


def test_the_checkout_page_shows_plan_price_time_zone_and_countdown(
    login, buyer, mechanic, hold, at_checkout
):
    reservation = hold(buyer, mechanic)
    page = body(login(buyer).get(f"/payments/checkout/{reservation.pk}/"))
    assert "Advice session" in page and "$29.99 CAD" in page
    assert "30 minutes" in page  # what is included
    assert "Tuesday 1 December 2026, 10:00–10:30" in page and "America/Toronto" in page
    assert 'data-seconds="780">13:00<' in page  # 13 minutes of the 15-minute hold left
    assert "Pay $29.99 CAD by card" in page
    assert "Test mode" in page
    assert "Your credit balance: <strong>$0.00 CAD</strong>" in page


def test_card_payment_through_the_simulated_provider_end_to_end(
    login, buyer, mechanic, hold, at_checkout
):
    reservation = hold(buyer, mechanic)
    client = login(buyer)
    response = client.post(f"/payments/checkout/{reservation.pk}/card/")
    assert response.status_code == 302
    location = response["Location"]
    assert re.match(r"http://testserver/payments/simulated/cs_sim_\w+/", location)
    sim_page = body(client.get(location))
    assert "Pay" in sim_page and "Fail" in sim_page and "$29.99 CAD" in sim_page

    paid = client.post(location, {"outcome": "pay"}, follow=True)
    payment = Payment.objects.get()
    assert paid.redirect_chain[-1][0] == f"/booking/sessions/{payment.session_id}/confirmed/"
    assert "You're booked" in body(paid) and f"/payments/receipts/{payment.pk}/" in body(paid)
    assert payment.status == PaymentStatus.SUCCEEDED and payment.provider == "simulated"
    reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.CONFIRMED
    assert reservation.session.status == SessionStatus.SCHEDULED
    event = WebhookEvent.objects.get()  # it went through the webhook handler, signed
    assert event.provider == "simulated" and event.type == "checkout.session.completed"
    assert event.outcome == "confirmed"
    assert PayoutEntry.objects.get().payee_cents == 2099
    # pressing Pay again (a replay) changes nothing
    client.post(location, {"outcome": "pay"})
    assert Payment.objects.get().status == PaymentStatus.SUCCEEDED
    assert PayoutEntry.objects.count() == 1


def test_a_failed_simulated_payment_charges_nothing_and_lets_the_customer_retry(
    login, buyer, mechanic, hold, at_checkout
):
    reservation = hold(buyer, mechanic)
    client = login(buyer)
    location = client.post(f"/payments/checkout/{reservation.pk}/card/")["Location"]
    failed = client.post(location, {"outcome": "fail"}, follow=True)
    assert failed.redirect_chain[-1][0] == f"/payments/checkout/{reservation.pk}/"
    assert "The payment failed (simulated)" in body(failed)
    assert Payment.objects.get().status == PaymentStatus.FAILED
    reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.RESERVED
    retry = client.post(f"/payments/checkout/{reservation.pk}/card/")["Location"]
    assert retry != location  # a new checkout
    client.post(retry, {"outcome": "pay"})
    assert Payment.objects.filter(status=PaymentStatus.SUCCEEDED).count() == 1


def test_the_simulated_webhook_endpoint_verifies_its_own_secret(
    client, buyer, mechanic, hold, login, at_checkout
):
    reservation = hold(buyer, mechanic)
    login(buyer).post(f"/payments/checkout/{reservation.pk}/card/")
    payment = Payment.objects.get()
    payload, header = signed_event(
        "checkout.session.completed", completed_checkout(payment), secret=SIMULATED_SECRET
    )
    bad = stripe.WebhookSignature.generate_signature_header(payload, "whsec_guess")
    assert post_webhook(client, payload, bad, provider="simulated").status_code == 400
    assert (
        post_webhook(client, payload, header, provider="simulated").json()["outcome"] == "confirmed"
    )


def test_the_simulated_provider_is_off_unless_allowed(
    client, settings, login, buyer, mechanic, hold, at_checkout
):
    settings.SIMULATED_PAYMENTS_ALLOWED = False
    payload, header = signed_event(
        "checkout.session.completed", {"id": "x"}, secret=SIMULATED_SECRET
    )
    assert post_webhook(client, payload, header, provider="simulated").status_code == 404
    reservation = hold(buyer, mechanic)
    refused = login(buyer).post(f"/payments/checkout/{reservation.pk}/card/", follow=True)
    assert "Card payments are not configured" in body(refused)
    assert not Payment.objects.exists()


def test_the_checkout_page_offers_no_way_to_pay_once_the_slot_has_started(
    login, buyer, mechanic, hold, time_machine
):
    """The page asks the same rule as the payment services (selectors.payable_refusal):
    an expired hold may still be paid, but not once its slot has begun."""
    reservation = hold(buyer, mechanic)
    client = login(buyer)
    time_machine.move_to(later(20), tick=False)  # hold run out, slot still ahead
    assert "Pay $29.99 CAD by card" in body(client.get(f"/payments/checkout/{reservation.pk}/"))
    time_machine.move_to(SLOT + timedelta(minutes=5), tick=False)
    page = body(client.get(f"/payments/checkout/{reservation.pk}/"))
    assert "This slot has already started; pick another time." in page
    assert "by card" not in page and "with credits" not in page and "You can still pay" not in page


def test_paying_with_credits_from_the_page(login, buyer, mechanic, hold, at_checkout):
    admin = UserFactory(role="admin", is_staff=True, is_superuser=True)
    credits.credits_grant(customer=buyer, amount_cents=3000, note="", granted_by=admin)
    reservation = hold(buyer, mechanic)
    client = login(buyer)
    assert "Pay $29.99 CAD with credits" in body(
        client.get(f"/payments/checkout/{reservation.pk}/")
    )
    done = client.post(f"/payments/checkout/{reservation.pk}/credits/", follow=True)
    assert "You're booked" in body(done)
    mine = body(client.get("/payments/"))
    assert "Credit balance: $0.01 CAD" in mine and "Paid for a session" in mine
    # the checkout page of a paid hold goes to the booking's confirmation
    again = client.get(f"/payments/checkout/{reservation.pk}/")
    assert again.status_code == 302 and again["Location"].endswith("/confirmed/")


def test_a_free_session_from_the_page_needs_the_box_ticked(
    login, buyer, mechanic, hold, at_checkout
):
    reservation = hold(buyer, mechanic, plan="free")
    client = login(buyer)
    page = body(client.get(f"/payments/checkout/{reservation.pk}/"))
    assert "I have read and accept the waiver" in page and "Pay" not in page.split("Waiver")[1]
    refused = client.post(
        f"/payments/checkout/{reservation.pk}/waiver/",
        {"waiver_version": "2026-11"},
        HTTP_REFERER=f"/payments/checkout/{reservation.pk}/",
        follow=True,
    )
    assert "Accept the waiver to book a free session." in body(refused)
    done = client.post(
        f"/payments/checkout/{reservation.pk}/waiver/",
        {"waiver_version": "2026-11", "waiver_accepted": "yes"},
        follow=True,
    )
    assert "You're booked" in body(done)


def test_customers_see_only_their_own_payments(
    login, buyer, other_buyer, mechanic, hold, at_checkout
):
    reservation = hold(buyer, mechanic)
    mine = login(buyer)
    mine.post(f"/payments/checkout/{reservation.pk}/card/")
    payment = Payment.objects.get()
    theirs = login(other_buyer)
    assert theirs.get(f"/payments/receipts/{payment.pk}/").status_code == 404
    assert theirs.get(f"/payments/checkout/{reservation.pk}/").status_code == 404
    assert (
        theirs.post(f"/payments/checkout/{reservation.pk}/card/").status_code == 302
    )  # flash + back
    assert Payment.objects.count() == 1
    assert theirs.get("/api/payments").json() == []
    assert theirs.get(f"/api/payments/{payment.pk}").status_code == 404
    assert mine.get(f"/api/payments/{payment.pk}").json()["id"] == payment.pk
    assert [p["id"] for p in mine.get("/api/payments").json()] == [payment.pk]
    sim = payment.checkout_url.removeprefix("http://testserver")
    assert theirs.get(sim).status_code == 404
    assert theirs.post(sim, {"outcome": "pay"}).status_code == 302
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING


def test_the_api_checkout_endpoint_opens_a_card_checkout(login, buyer, mechanic, hold, at_checkout):
    reservation = hold(buyer, mechanic)
    response = login(buyer).post(
        "/api/payments/checkout",
        {"reservation_id": reservation.pk, "method": "card"},
        content_type="application/json",
    )
    assert response.status_code == 201
    assert "/payments/simulated/cs_sim_" in response.json()["checkout_url"]


def test_the_receipt_polls_while_waiting_for_the_provider(
    login, buyer, mechanic, hold, at_checkout
):
    reservation = hold(buyer, mechanic)
    client = login(buyer)
    client.post(f"/payments/checkout/{reservation.pk}/card/")
    payment = Payment.objects.get()
    page = body(client.get(f"/payments/receipts/{payment.pk}/"))
    assert 'hx-trigger="every 2s"' in page and "Waiting for the payment" in page
    fragment = body(client.get(f"/payments/receipts/{payment.pk}/", HTTP_HX_REQUEST="true"))
    assert fragment.lstrip().startswith('<div id="payment-status"') and "<html" not in fragment


def test_simulated_checkouts_past_their_expiry_get_the_expired_event(
    buyer, mechanic, hold, login, at_checkout
):
    from autodoctor.payments.services.simulated import simulated_checkouts_expire

    reservation = hold(buyer, mechanic)
    login(buyer).post(f"/payments/checkout/{reservation.pk}/card/")
    assert simulated_checkouts_expire(now=later(20)) == 0
    assert simulated_checkouts_expire(now=later(40)) == 1
    assert Payment.objects.get().status == PaymentStatus.FAILED
    assert WebhookEvent.objects.get().type == "checkout.session.expired"
    assert Reservation.objects.get().status == ReservationStatus.RESERVED
