"""Start-now sessions are paid for before they go out to mechanics.

The flow under test (checkout.py, booking.services.session_publish):
free/trial → waiver → offers; credits → debit → offers; card → checkout → signed
webhook → offers. Until then the session is pending with `awaiting_payment` and no
offers; settling the payment publishes it (top-3 targeted offers + 1 broadcast) in the
same transaction, so a session is offered if and only if its payment is settled. The
payee's earning is written when a mechanic accepts, at most once. Unpaid requests are
cancelled by the system after UNPAID_SESSION_MINUTES; a card payment that lands after
the request closed is refunded automatically.

Sections: helpers and fixtures · waiver · credits · credits race (real threads) · card
(simulated provider) · card (Stripe) · late card payment · payouts · refunds · unpaid
expiry · API · pages.
"""

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import transaction
from django.urls import reverse

from autodoctor.booking import services as booking
from autodoctor.booking import tasks as booking_tasks
from autodoctor.booking.models import (
    Offer,
    OfferKind,
    OfferStatus,
    Plan,
    Reservation,
    ReservationStatus,
    Session,
    SessionEvent,
    SessionStatus,
)
from autodoctor.errors import Conflict, InvalidInput
from autodoctor.payments.models import (
    CreditAccount,
    CreditEntry,
    CreditEntryKind,
    PayeeKind,
    Payment,
    PaymentStatus,
    PayoutEntry,
    PayoutEntryKind,
    Refund,
    RefundDestination,
    RefundStatus,
    Waiver,
    WaiverKind,
    WebhookEvent,
)
from autodoctor.payments.policy import WAIVER_TEXT_VERSION
from autodoctor.payments.services import checkout, credits, simulated
from autodoctor.payments.services.checkout import TrialAlreadyUsed
from autodoctor.payments.services.credits import InsufficientCredits
from autodoctor.payments.services.simulated import simulated_checkout_finish, simulated_event_send
from autodoctor.periodic import PERIODIC_TASKS
from tests.factories import MechanicFactory, UserFactory, WorkshopFactory
from tests.racing import race

from .conftest import completed_checkout, later, post_webhook, signed_event

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]

ADVICE = 2999  # the advice plan's price (CAD cents), from the plans data migration
CONCERN = "Grinding noise when braking at low speed"
REQUESTED = "booking.session.requested"

# --------------------------------------------------------------------------- helpers


@pytest.fixture
def admin(db):
    return UserFactory(role="admin", is_staff=True, is_superuser=True)


@pytest.fixture
def grant(admin):
    def _grant(customer, cents: int):
        return credits.credits_grant(
            customer=customer, amount_cents=cents, note="", granted_by=admin
        )

    return _grant


@pytest.fixture
def start_now(db):
    """start_now(customer, plan=...) -> a start-now session, created (not paid) at later(1)."""

    def _start_now(customer, plan: str = "advice", *, now=None) -> Session:
        intake = booking.intake_validate(customer=customer, plan=plan, concern=CONCERN)
        return booking.session_create_immediate(
            customer=customer, intake=intake, now=now or later(1)
        )

    return _start_now


@pytest.fixture
def crew(db):
    """Three mechanics online now (they rank first) and one offline (fourth)."""
    online = [MechanicFactory(is_online=True) for _ in range(3)]
    offline = MechanicFactory(is_online=False)
    return online, offline


def balance(customer) -> int:
    return CreditAccount.objects.get(customer=customer).balance_cents


def offer_kinds(session) -> Counter:
    return Counter(Offer.objects.filter(session=session).values_list("kind", flat=True))


def publications(session) -> int:
    return SessionEvent.objects.filter(session=session, action=REQUESTED).count()


def assert_unpublished(session) -> None:
    session.refresh_from_db()
    assert session.awaiting_payment
    assert session.offered_at is None
    assert not Offer.objects.filter(session=session).exists()
    assert publications(session) == 0


def assert_published(session, *, at) -> None:
    session.refresh_from_db()
    assert not session.awaiting_payment
    assert session.status == SessionStatus.PENDING and session.offered_at == at
    assert offer_kinds(session) == Counter({OfferKind.TARGETED: 3, OfferKind.BROADCAST: 1})
    assert publications(session) == 1


def ledger(payment) -> tuple[int, int, int]:
    rows = PayoutEntry.objects.filter(payment=payment)
    return (
        sum(r.gross_cents for r in rows),
        sum(r.payee_cents for r in rows),
        sum(r.platform_cents for r in rows),
    )


def test_the_advice_price_these_tests_assume():
    assert Plan.objects.get(code="advice").price_cents == ADVICE


# --------------------------------------------------------------------------- waiver


def test_a_free_start_now_session_goes_out_only_once_the_waiver_is_accepted(buyer, crew, start_now):
    online, offline = crew
    session = start_now(buyer, "free")
    assert_unpublished(session)
    assert SessionEvent.objects.filter(session=session, action="booking.session.created").exists()

    with pytest.raises(InvalidInput) as refused:
        checkout.payment_with_waiver(
            customer=buyer, session_id=session.pk, accepted=False, now=later(2)
        )
    assert refused.value.status == 422 and refused.value.data["field"] == "waiver_accepted"
    assert_unpublished(session)

    payment = checkout.payment_with_waiver(
        customer=buyer, session_id=session.pk, accepted=True, now=later(2)
    )
    assert payment.status == PaymentStatus.SUCCEEDED and payment.amount_cents == 0
    assert payment.reservation is None and payment.session_id == session.pk
    assert_published(session, at=later(2))
    # the three online mechanics get the targeted offers; the offline one only the broadcast
    targeted = set(
        Offer.objects.filter(session=session, kind=OfferKind.TARGETED).values_list(
            "mechanic_id", flat=True
        )
    )
    assert targeted == {m.pk for m in online} and offline.pk not in targeted
    event = SessionEvent.objects.get(session=session, action=REQUESTED)
    assert event.data["mode"] == "immediate" and set(event.data["targeted"]) == targeted
    waiver = Waiver.objects.get(customer=buyer)
    assert waiver.kind == WaiverKind.FREE and waiver.payment == payment
    assert waiver.session_id == session.pk and waiver.text_version == WAIVER_TEXT_VERSION
    assert not PayoutEntry.objects.exists()


def test_a_trial_start_now_session_is_used_once_and_the_second_stays_unpublished(
    customer_limits_lifted, buyer, crew, start_now
):
    first = start_now(buyer, "trial")
    checkout.payment_with_waiver(customer=buyer, session_id=first.pk, accepted=True, now=later(2))
    assert_published(first, at=later(2))

    second = start_now(buyer, "trial", now=later(3))
    with pytest.raises(TrialAlreadyUsed) as refused:
        checkout.payment_with_waiver(
            customer=buyer, session_id=second.pk, accepted=True, now=later(4)
        )
    assert refused.value.status == 409 and refused.value.code == "trial_already_used"
    assert_unpublished(second)
    assert not Payment.objects.filter(session=second).exists()  # refused before any payment
    assert Waiver.objects.filter(customer=buyer, kind=WaiverKind.TRIAL).count() == 1


def test_when_the_trial_precheck_is_bypassed_the_database_refuses_and_nothing_goes_out(
    customer_limits_lifted, buyer, crew, start_now, monkeypatch
):
    """The offers are written in the publishing transaction before the waiver is; the
    trial index refusing the waiver must roll the offers back with it."""
    first = start_now(buyer, "trial")
    checkout.payment_with_waiver(customer=buyer, session_id=first.pk, accepted=True, now=later(2))
    monkeypatch.setattr(checkout, "trial_available", lambda customer: True)
    second = start_now(buyer, "trial", now=later(3))
    with pytest.raises(TrialAlreadyUsed):
        checkout.payment_with_waiver(
            customer=buyer, session_id=second.pk, accepted=True, now=later(4)
        )
    assert_unpublished(second)
    assert Payment.objects.get(session=second).status == PaymentStatus.FAILED
    assert Waiver.objects.filter(customer=buyer).count() == 1


def test_a_paid_plan_cannot_go_out_through_the_waiver(buyer, crew, start_now):
    session = start_now(buyer, "advice")
    with pytest.raises(InvalidInput) as refused:
        checkout.payment_with_waiver(
            customer=buyer, session_id=session.pk, accepted=True, now=later(2)
        )
    assert refused.value.data["field"] == "method"
    assert_unpublished(session)


# --------------------------------------------------------------------------- credits


def test_paying_with_credits_debits_the_price_once_and_publishes(buyer, crew, start_now, grant):
    grant(buyer, 5000)
    session = start_now(buyer)
    payment = checkout.payment_with_credits(customer=buyer, session_id=session.pk, now=later(2))

    assert payment.status == PaymentStatus.SUCCEEDED and payment.amount_cents == ADVICE
    assert payment.reservation_id is None
    assert_published(session, at=later(2))
    assert balance(buyer) == 5000 - ADVICE
    debit = CreditEntry.objects.get(kind=CreditEntryKind.DEBIT)
    assert debit.delta_cents == -ADVICE and debit.payment == payment
    succeeded = SessionEvent.objects.filter(session=session, action="payments.payment.succeeded")
    assert succeeded.count() == 1
    assert not PayoutEntry.objects.exists()  # nobody has taken it yet: nobody is owed

    again = checkout.payment_with_credits(customer=buyer, session_id=session.pk, now=later(3))
    assert again == payment and Payment.objects.count() == 1
    assert CreditEntry.objects.filter(kind=CreditEntryKind.DEBIT).count() == 1
    assert balance(buyer) == 5000 - ADVICE
    assert_published(session, at=later(2))  # not re-published, offers unchanged


def test_not_enough_credits_is_a_402_and_nothing_goes_out(buyer, crew, start_now, grant):
    grant(buyer, ADVICE - 1)
    session = start_now(buyer)
    with pytest.raises(InsufficientCredits) as refused:
        checkout.payment_with_credits(customer=buyer, session_id=session.pk, now=later(2))
    assert refused.value.status == 402 and refused.value.code == "insufficient_credits"
    assert refused.value.data == {"balance_cents": ADVICE - 1, "needed_cents": ADVICE}
    assert balance(buyer) == ADVICE - 1
    assert not CreditEntry.objects.filter(kind=CreditEntryKind.DEBIT).exists()
    assert not Payment.objects.exists()
    assert_unpublished(session)


def test_a_debit_refused_under_the_lock_rolls_the_publication_back(
    buyer, crew, start_now, grant, monkeypatch
):
    grant(buyer, 1000)
    monkeypatch.setattr(checkout, "credit_balance_cents", lambda customer: 10**6)
    session = start_now(buyer)
    with pytest.raises(InsufficientCredits):
        checkout.payment_with_credits(customer=buyer, session_id=session.pk, now=later(2))
    assert_unpublished(session)
    assert Payment.objects.get(session=session).status == PaymentStatus.FAILED
    assert balance(buyer) == 1000


def test_a_cancelled_request_cannot_be_paid(buyer, crew, start_now, grant):
    grant(buyer, 5000)
    session = start_now(buyer)
    booking.session_cancel(session_id=session.pk, user=buyer, now=later(2))
    with pytest.raises(Conflict) as refused:
        checkout.payment_with_credits(customer=buyer, session_id=session.pk, now=later(3))
    assert refused.value.code == "session_closed"
    assert balance(buyer) == 5000 and not Payment.objects.exists()
    assert not Offer.objects.filter(session=session).exists()


def test_giving_both_ids_or_neither_is_refused(buyer, mechanic, hold, start_now, grant):
    grant(buyer, 5000)
    session = start_now(buyer)
    reservation = hold(buyer, mechanic)
    for ids in ({"reservation_id": reservation.pk, "session_id": session.pk}, {}):
        with pytest.raises(InvalidInput) as refused:
            checkout.payment_with_credits(customer=buyer, now=later(2), **ids)
        assert refused.value.status == 422
    assert not Payment.objects.exists() and balance(buyer) == 5000


# --------------------------------------------------------------------------- credits race


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
def test_two_start_now_sessions_with_credit_for_one_publish_exactly_one(
    buyer, crew, start_now, grant, monkeypatch
):
    grant(buyer, ADVICE + 1)
    sessions = [start_now(buyer), start_now(buyer)]
    # Both clients pass the friendly balance check before either debits; the debit under
    # the account's row lock, inside the publishing transaction, must close the window.
    both_checked = threading.Barrier(2)
    real_balance = checkout.credit_balance_cents

    def check_then_wait(customer):
        value = real_balance(customer)
        both_checked.wait(30)
        return value

    monkeypatch.setattr(checkout, "credit_balance_cents", check_then_wait)
    outcomes = race(
        2,
        lambda i: checkout.payment_with_credits(
            customer=buyer, session_id=sessions[i].pk, now=later(2)
        ),
    )
    assert outcomes == Counter({"ok": 1, "InsufficientCredits": 1}), outcomes
    assert balance(buyer) == 1
    assert all(e.balance_after_cents >= 0 for e in CreditEntry.objects.all())
    assert CreditEntry.objects.filter(kind=CreditEntryKind.DEBIT).count() == 1
    published = [s for s in sessions if Session.objects.get(pk=s.pk).offered_at is not None]
    assert len(published) == 1
    (winner,) = published
    (loser,) = [s for s in sessions if s.pk != winner.pk]
    assert offer_kinds(winner) == Counter({OfferKind.TARGETED: 3, OfferKind.BROADCAST: 1})
    assert_unpublished(loser)
    assert Payment.objects.get(session=winner).status == PaymentStatus.SUCCEEDED
    assert Payment.objects.get(session=loser).status == PaymentStatus.FAILED


# --------------------------------------------------------------------------- card, simulated


@pytest.fixture
def card_checkout(buyer, crew, start_now):
    """A start-now advice session with an open simulated card checkout (at later(2))."""
    session = start_now(buyer)
    payment = checkout.payment_checkout_start(customer=buyer, session_id=session.pk, now=later(2))
    return session, payment


def test_a_card_checkout_for_a_start_now_session_publishes_nothing_until_paid(buyer, card_checkout):
    session, payment = card_checkout
    assert payment.status == PaymentStatus.PENDING and payment.provider == "simulated"
    assert payment.reservation_id is None and payment.amount_cents == ADVICE
    assert "/payments/simulated/cs_sim_" in payment.checkout_url
    assert payment.checkout_expires_at == later(2) + timedelta(minutes=31)  # Stripe's minimum
    assert payment.checkout_page_url == reverse("payments:start_checkout", args=[session.pk])
    assert_unpublished(session)
    # pressing "pay by card" again reuses the open checkout
    again = checkout.payment_checkout_start(customer=buyer, session_id=session.pk, now=later(3))
    assert again == payment and Payment.objects.count() == 1


def test_a_paid_simulated_checkout_publishes_once_however_often_the_event_is_replayed(
    client, buyer, card_checkout, monkeypatch
):
    session, payment = card_checkout
    deliveries = []
    real_receive = simulated.webhook_receive

    def spy(**kwargs):
        deliveries.append(kwargs)
        return real_receive(**kwargs)

    monkeypatch.setattr(simulated, "webhook_receive", spy)
    paid = simulated_checkout_finish(
        checkout_id=payment.provider_checkout_id, customer=buyer, outcome="pay", now=later(3)
    )
    assert paid.status == PaymentStatus.SUCCEEDED
    assert paid.provider_payment_id == f"pi_sim_{payment.pk}"
    assert_published(session, at=later(3))
    offers_before = list(Offer.objects.filter(session=session).values_list("pk", flat=True))

    # the very same signed event, delivered three more times through the HTTP endpoint
    (sent,) = deliveries
    answers = [
        post_webhook(client, sent["payload"], sent["signature"], provider="simulated")
        for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.json()["outcome"] for a in answers] == ["duplicate"] * 3
    event = WebhookEvent.objects.get()
    assert event.deliveries == 4 and event.outcome == "confirmed"
    # a second, different event for the same checkout changes nothing either
    assert simulated_event_send(paid, paid=True, now=later(4)).outcome == "already_succeeded"

    assert list(Offer.objects.filter(session=session).values_list("pk", flat=True)) == (
        offers_before
    )
    assert publications(session) == 1
    assert Payment.objects.filter(status=PaymentStatus.SUCCEEDED).count() == 1
    assert (
        SessionEvent.objects.filter(session=session, action="payments.payment.succeeded").count()
        == 1
    )
    assert not Refund.objects.exists()
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED and payment.refunded_cents == 0


def test_a_failed_simulated_checkout_leaves_the_request_unpaid_and_retryable(buyer, card_checkout):
    session, payment = card_checkout
    failed = simulated_checkout_finish(
        checkout_id=payment.provider_checkout_id, customer=buyer, outcome="fail", now=later(3)
    )
    assert failed.status == PaymentStatus.FAILED and failed.outcome == "checkout_expired"
    assert_unpublished(session)
    assert not Refund.objects.exists()

    retry = checkout.payment_checkout_start(customer=buyer, session_id=session.pk, now=later(4))
    assert retry.pk != payment.pk and retry.status == PaymentStatus.PENDING
    simulated_checkout_finish(
        checkout_id=retry.provider_checkout_id, customer=buyer, outcome="pay", now=later(5)
    )
    assert_published(session, at=later(5))


def test_a_card_payment_for_a_request_already_paid_with_credits_is_refunded(
    buyer, card_checkout, grant
):
    session, card = card_checkout
    grant(buyer, ADVICE)
    by_credits = checkout.payment_with_credits(customer=buyer, session_id=session.pk, now=later(3))
    assert_published(session, at=later(3))
    result = simulated_event_send(card, paid=True, now=later(4))
    assert result.outcome == "refunded_already_paid"
    card.refresh_from_db()
    assert card.status == PaymentStatus.REFUNDED and card.outcome == "already_paid"
    assert Refund.objects.get().payment == card
    by_credits.refresh_from_db()
    assert by_credits.status == PaymentStatus.SUCCEEDED
    assert_published(session, at=later(3))  # published once, by the credits


# --------------------------------------------------------------------------- card, Stripe


def _start_now_completed(payment, **metadata):
    """Stripe's checkout.session object for a start-now payment (no reservation)."""
    return completed_checkout(payment, metadata=metadata)


def _paid_by_stripe(buyer, start_now, *, minute: int = 1):
    """A start-now session paid by card through Stripe's signed webhook (so published)."""
    from autodoctor.payments.services.webhooks import webhook_receive

    session = start_now(buyer, now=later(minute))
    payment = checkout.payment_checkout_start(
        customer=buyer, session_id=session.pk, now=later(minute + 1)
    )
    payload, header = signed_event("checkout.session.completed", _start_now_completed(payment))
    assert webhook_receive(provider_name="stripe", payload=payload, signature=header).outcome == (
        "confirmed"
    )
    return session, payment


def _charge_refunded(payment, refunded_cents: int, charge_id: str = "ch_test_1"):
    """A signed charge.refunded event: `refunded_cents` given back in the dashboard."""
    charge = {
        "id": charge_id,
        "object": "charge",
        "payment_intent": f"pi_test_{payment.pk}",
        "amount": payment.amount_cents,
        "amount_refunded": refunded_cents,
    }
    return signed_event("charge.refunded", charge)


def test_a_stripe_payment_for_a_start_now_session_publishes_it(
    client, stripe_on, buyer, crew, start_now
):
    session = start_now(buyer)
    payment = checkout.payment_checkout_start(customer=buyer, session_id=session.pk, now=later(2))
    (call,) = stripe_on.calls("/v1/checkout/sessions")
    form = call["form"]
    assert form["metadata[session_id]"] == str(session.pk)
    assert form["metadata[reservation_id]"] == ""
    assert form["metadata[payment_id]"] == str(payment.pk)
    assert form["line_items[0][price_data][unit_amount]"] == str(ADVICE)
    assert form["line_items[0][price_data][currency]"] == "cad"
    assert form["cancel_url"] == f"http://testserver/payments/start/{session.pk}/"
    assert int(form["expires_at"]) == int((later(2) + timedelta(minutes=31)).timestamp())
    assert payment.checkout_url.startswith("https://checkout.stripe.com/")
    assert_unpublished(session)

    payload, header = signed_event("checkout.session.completed", _start_now_completed(payment))
    response = post_webhook(client, payload, header)
    assert response.status_code == 200, response.content
    assert response.json()["outcome"] == "confirmed"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.provider_payment_id == f"pi_test_{payment.pk}"
    session.refresh_from_db()
    assert not session.awaiting_payment
    assert offer_kinds(session) == Counter({OfferKind.TARGETED: 3, OfferKind.BROADCAST: 1})
    assert not PayoutEntry.objects.exists()


@pytest.mark.parametrize(
    ("tamper", "outcome"),
    [
        ("session", "refused_session_id_mismatch"),
        ("session-and-customer", "refused_customer_id_mismatch"),
    ],
)
def test_a_signed_event_naming_another_customers_session_is_refused(
    client, stripe_on, buyer, other_buyer, crew, start_now, tamper, outcome
):
    mine = start_now(buyer)
    theirs = start_now(other_buyer)
    payment = checkout.payment_checkout_start(customer=buyer, session_id=mine.pk, now=later(2))
    metadata = {"session_id": str(theirs.pk)}
    if tamper == "session-and-customer":
        metadata["customer_id"] = str(other_buyer.pk)
    payload, header = signed_event(
        "checkout.session.completed", _start_now_completed(payment, **metadata)
    )
    response = post_webhook(client, payload, header)
    assert response.status_code == 422
    assert response.json()["outcome"] == outcome
    assert WebhookEvent.objects.get().http_status == 422
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    assert_unpublished(mine)
    assert_unpublished(theirs)
    assert not Offer.objects.exists()


# --------------------------------------------------------------------------- late card payment


@pytest.mark.parametrize("closed_by", ["customer", "system"])
def test_a_card_payment_arriving_after_the_request_closed_is_refunded(
    login, settings, buyer, card_checkout, closed_by, django_capture_on_commit_callbacks
):
    session, payment = card_checkout
    if closed_by == "customer":
        booking.session_cancel(session_id=session.pk, user=buyer, reason="Fixed", now=later(3))
        paid_at = later(4)
    else:  # nobody paid in time: the periodic sweep cancelled it
        expire_at = later(1 + settings.UNPAID_SESSION_MINUTES + 1)
        assert booking.sessions_unpaid_expire(now=expire_at) == 1
        paid_at = expire_at + timedelta(minutes=1)
    session.refresh_from_db()
    assert session.status == SessionStatus.CANCELLED and session.cancelled_by == closed_by
    assert not Refund.objects.exists()  # nothing was paid when it closed

    with django_capture_on_commit_callbacks() as after_commit:
        result = simulated_event_send(payment, paid=True, now=paid_at)
    assert (result.status, result.outcome) == (200, "refunded_session_closed")
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED and payment.outcome == "session_closed"
    assert payment.refunded_cents == ADVICE
    refund = Refund.objects.get(payment=payment)
    assert (refund.amount_cents, refund.destination, refund.reason) == (
        ADVICE,
        RefundDestination.PROVIDER,
        "session_closed",
    )
    assert refund.status == RefundStatus.PENDING  # the provider is asked after commit
    for callback in after_commit:
        callback()
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    assert refund.provider_refund_id.startswith("re_sim_")

    session.refresh_from_db()
    assert session.status == SessionStatus.CANCELLED and session.offered_at is None
    assert not Offer.objects.filter(session=session).exists() and publications(session) == 0
    assert not PayoutEntry.objects.exists()
    # a replay of the payment changes nothing more
    assert simulated_event_send(payment, paid=True, now=paid_at).outcome == "already_refunded"
    assert Refund.objects.count() == 1
    receipt = login(buyer).get(reverse("payments:receipt", args=[payment.pk]))
    assert "arrived after this request had been closed" in receipt.content.decode()


# --------------------------------------------------------------------------- payouts


def _mechanic_of_type(kind: str, shop):
    if kind == "virtual_only":
        return MechanicFactory(is_online=True, payout_account_id="acct_mech")
    if kind == "independent_workshop":
        return MechanicFactory(
            is_online=True, independent=True, workshop=shop, payout_account_id="acct_mech"
        )
    return MechanicFactory(
        is_online=True, affiliated=True, workshop=shop, payout_account_id="acct_mech"
    )


@pytest.mark.parametrize(
    ("kind", "payee_kind", "account"),
    [
        ("virtual_only", PayeeKind.MECHANIC, "acct_mech"),
        ("independent_workshop", PayeeKind.MECHANIC, "acct_mech"),
        ("workshop_affiliated", PayeeKind.WORKSHOP, "acct_shop"),
    ],
)
def test_the_earning_is_written_when_a_mechanic_takes_the_paid_request(
    buyer, start_now, grant, kind, payee_kind, account
):
    shop = WorkshopFactory(payout_account_id="acct_shop")
    mechanic = _mechanic_of_type(kind, shop)
    grant(buyer, ADVICE)
    session = start_now(buyer)
    payment = checkout.payment_with_credits(customer=buyer, session_id=session.pk, now=later(2))
    assert not PayoutEntry.objects.exists()

    offer = Offer.objects.get(session=session, kind=OfferKind.TARGETED)
    assert offer.mechanic == mechanic
    booking.offer_accept(offer_id=offer.pk, mechanic=mechanic, now=later(3))

    entry = PayoutEntry.objects.get()
    assert entry.kind == PayoutEntryKind.EARNING and entry.payment == payment
    assert entry.session_id == session.pk and entry.mechanic == mechanic
    assert entry.mechanic_type == kind
    assert (entry.gross_cents, entry.payee_cents, entry.platform_cents) == (ADVICE, 2099, 900)
    assert entry.payee_kind == payee_kind and entry.destination_account == account
    if payee_kind == PayeeKind.WORKSHOP:
        assert (entry.payee_workshop, entry.payee_mechanic) == (shop, None)
    else:
        assert (entry.payee_mechanic, entry.payee_workshop) == (mechanic, None)


def test_accepting_writes_the_earning_at_most_once(buyer, crew, start_now):
    online, _offline = crew
    session = start_now(buyer)
    payment = checkout.payment_checkout_start(customer=buyer, session_id=session.pk, now=later(2))
    simulated_checkout_finish(
        checkout_id=payment.provider_checkout_id, customer=buyer, outcome="pay", now=later(3)
    )
    first, second, _third = online
    offer = Offer.objects.get(session=session, mechanic=first)
    booking.offer_accept(offer_id=offer.pk, mechanic=first, now=later(4))
    session.refresh_from_db()
    assert session.status == SessionStatus.WAITING and session.mechanic == first
    assert PayoutEntry.objects.filter(payment=payment).count() == 1

    # nobody else can take it, the winner cannot take it twice...
    other = Offer.objects.get(session=session, mechanic=second)
    with pytest.raises(Conflict) as taken:
        booking.offer_accept(offer_id=other.pk, mechanic=second, now=later(5))
    assert taken.value.code == "already_taken"
    with pytest.raises(Conflict):
        booking.offer_accept(offer_id=offer.pk, mechanic=first, now=later(5))
    # ...and the "accepted" event handled again (a retried listener) adds nothing
    accepted = SessionEvent.objects.get(session=session, action="booking.offer.accepted")
    with transaction.atomic():
        checkout.on_booking_event(accepted)
    # a late duplicate of the card event neither
    simulated_event_send(payment, paid=True, now=later(6))

    entry = PayoutEntry.objects.get()
    assert entry.payee_mechanic == first and entry.gross_cents == ADVICE
    assert Payment.objects.get().status == PaymentStatus.SUCCEEDED
    assert not Refund.objects.exists()


def test_a_refund_made_before_anyone_accepted_is_not_earned_on_acceptance(
    client, stripe_on, buyer, crew, start_now
):
    online, _offline = crew
    session, payment = _paid_by_stripe(buyer, start_now)
    payload, header = _charge_refunded(payment, 1000)
    assert post_webhook(client, payload, header).json()["outcome"] == "refund_recorded"
    offer = Offer.objects.get(session=session, mechanic=online[0])
    booking.offer_accept(offer_id=offer.pk, mechanic=online[0], now=later(4))
    # what the customer finally paid (2999 - 1000), split 70/30 as for a scheduled booking
    assert ledger(payment) == (ADVICE - 1000, 1399, 600)


# --------------------------------------------------------------------------- refunds


def test_cancelling_a_credits_paid_request_before_anyone_accepts_gives_the_credits_back(
    buyer, crew, start_now, grant
):
    grant(buyer, 5000)
    session = start_now(buyer)
    payment = checkout.payment_with_credits(customer=buyer, session_id=session.pk, now=later(2))
    booking.session_cancel(session_id=session.pk, user=buyer, now=later(5))

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED and payment.refunded_cents == ADVICE
    refund = Refund.objects.get()
    assert (refund.destination, refund.reason, refund.status) == (
        RefundDestination.CREDITS,
        "customer_cancelled_early",
        RefundStatus.SUCCEEDED,
    )
    assert balance(buyer) == 5000
    assert [e.kind for e in CreditEntry.objects.order_by("pk")] == ["grant", "debit", "refund"]
    assert not PayoutEntry.objects.exists()  # no earning, so nothing to reverse
    assert set(Offer.objects.filter(session=session).values_list("status", flat=True)) == {
        OfferStatus.WITHDRAWN
    }


def test_cancelling_a_card_paid_request_before_anyone_accepts_refunds_the_card(
    buyer, card_checkout, django_capture_on_commit_callbacks
):
    session, payment = card_checkout
    simulated_checkout_finish(
        checkout_id=payment.provider_checkout_id, customer=buyer, outcome="pay", now=later(3)
    )
    with django_capture_on_commit_callbacks(execute=True):
        booking.session_cancel(session_id=session.pk, user=buyer, now=later(5))
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED and payment.refunded_cents == ADVICE
    refund = Refund.objects.get()
    assert (refund.destination, refund.amount_cents, refund.reason) == (
        RefundDestination.PROVIDER,
        ADVICE,
        "customer_cancelled_early",
    )
    assert refund.status == RefundStatus.SUCCEEDED and refund.provider_refund_id
    assert not CreditAccount.objects.filter(customer=buyer).exists()  # not turned into credits
    assert not PayoutEntry.objects.exists()


def test_cancelling_a_trial_request_before_anyone_accepts_gives_the_trial_back(
    buyer, crew, start_now
):
    session = start_now(buyer, "trial")
    payment = checkout.payment_with_waiver(
        customer=buyer, session_id=session.pk, accepted=True, now=later(2)
    )
    booking.session_cancel(session_id=session.pk, user=buyer, now=later(5))
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED
    assert Refund.objects.get().destination == RefundDestination.WAIVER
    assert Waiver.objects.get(customer=buyer).voided_at is not None
    again = start_now(buyer, "trial", now=later(6))
    checkout.payment_with_waiver(customer=buyer, session_id=again.pk, accepted=True, now=later(7))
    assert_published(again, at=later(7))


@pytest.mark.parametrize(
    ("who", "minutes_after_accept", "reason", "refunded", "ledger_after"),
    [
        # the customer cancels a session that started when it was taken: less than 24 h
        # notice, 50 % as credits
        ("customer", 5, "customer_cancelled_late", ADVICE * 50 // 100, (1500, 1050, 450)),
        # the mechanic cancels: always 100 % back to the original method (credits here)
        ("mechanic", 5, "mechanic_cancelled", ADVICE, (0, 0, 0)),
        # the mechanic took it but never started it (more than START_GRACE): the customer
        # is not cancelling late, they get it all back
        ("customer", 16, "mechanic_no_show", ADVICE, (0, 0, 0)),
    ],
)
def test_cancelling_after_a_mechanic_accepted_applies_the_policy_and_reverses_the_earning(
    buyer, crew, start_now, grant, who, minutes_after_accept, reason, refunded, ledger_after
):
    """Once a mechanic has taken a start-now session it starts when they took it, so the
    cancellation carries hours_before_start <= 0 (before that it is None: "counts as
    early") and policy.refund_decision applies its < 24 h rule to the customer, unless
    the mechanic never started it. The earning written on acceptance is reversed in
    proportion to what is refunded."""
    online, _offline = crew
    taker = online[0]
    grant(buyer, ADVICE)
    session = start_now(buyer)
    payment = checkout.payment_with_credits(customer=buyer, session_id=session.pk, now=later(2))
    offer = Offer.objects.get(session=session, mechanic=taker)
    booking.offer_accept(offer_id=offer.pk, mechanic=taker, now=later(3))
    assert ledger(payment) == (ADVICE, 2099, 900)
    assert balance(buyer) == 0

    user = buyer if who == "customer" else taker.user
    cancel_at = later(3 + minutes_after_accept)
    booking.session_cancel(session_id=session.pk, user=user, reason="Cannot make it", now=cancel_at)

    cancelled = SessionEvent.objects.get(session=session, action="booking.session.cancelled")
    assert cancelled.data["by"] == who
    assert cancelled.data["hours_before_start"] == round(-minutes_after_accept / 60, 2)
    assert cancelled.data["mechanic_no_show"] is (minutes_after_accept > 15)
    refund = Refund.objects.get()
    assert (refund.amount_cents, refund.destination, refund.reason) == (
        refunded,
        RefundDestination.CREDITS,  # credits were the original method; late cancels get credits
        reason,
    )
    payment.refresh_from_db()
    assert payment.refunded_cents == refunded
    assert payment.status == (
        PaymentStatus.REFUNDED if refunded == ADVICE else PaymentStatus.SUCCEEDED
    )
    assert balance(buyer) == refunded
    reversal = PayoutEntry.objects.get(kind=PayoutEntryKind.REVERSAL)
    assert reversal.gross_cents == -refunded and reversal.payee_mechanic == taker
    assert ledger(payment) == ledger_after
    # the mechanic's time pinned on acceptance is free again
    assert not Reservation.objects.filter(
        session=session, status__in=[ReservationStatus.RESERVED, ReservationStatus.CONFIRMED]
    ).exists()


def test_cancelling_before_anyone_accepted_counts_as_early_whatever_the_hour(
    buyer, crew, start_now, grant
):
    grant(buyer, ADVICE)
    session = start_now(buyer)
    checkout.payment_with_credits(customer=buyer, session_id=session.pk, now=later(2))
    booking.session_cancel(session_id=session.pk, user=buyer, now=later(40))
    event = SessionEvent.objects.get(session=session, action="booking.session.cancelled")
    assert event.data["hours_before_start"] is None
    assert Refund.objects.get().amount_cents == ADVICE and balance(buyer) == ADVICE


# --------------------------------------------------------------------------- unpaid expiry


def test_unpaid_requests_are_cancelled_by_the_system_after_the_limit(
    settings, buyer, other_buyer, mechanic, hold, crew, start_now, grant, time_machine
):
    limit = settings.UNPAID_SESSION_MINUTES
    grant(buyer, ADVICE)
    stale = start_now(buyer)  # created at later(1) (the frozen clock)
    paid = start_now(buyer)
    checkout.payment_with_credits(customer=buyer, session_id=paid.pk, now=later(2))
    closed = start_now(other_buyer)
    booking.session_cancel(session_id=closed.pk, user=other_buyer, now=later(2))
    scheduled = hold(other_buyer, mechanic).session  # a held slot, not a start-now request
    time_machine.move_to(later(30), tick=False)
    fresh = start_now(other_buyer, now=later(30))

    assert booking.sessions_unpaid_expire(now=later(1 + limit)) == 0  # not older than the limit
    assert booking.sessions_unpaid_expire(now=later(2 + limit)) == 1
    stale.refresh_from_db()
    assert stale.status == SessionStatus.CANCELLED and stale.cancelled_by == "system"
    assert stale.cancellation_reason == f"Not paid within {limit} minutes."
    event = SessionEvent.objects.get(session=stale, action="booking.session.cancelled")
    assert event.actor is None and event.data["by"] == "system"
    assert event.data["reason"] == f"Not paid within {limit} minutes."
    assert not Offer.objects.filter(session=stale).exists()

    for session in (paid, closed, scheduled, fresh):
        session.refresh_from_db()
    assert [s.status for s in (paid, closed, scheduled, fresh)] == [
        SessionStatus.PENDING,
        SessionStatus.CANCELLED,
        SessionStatus.PENDING,
        SessionStatus.PENDING,
    ]
    assert closed.cancelled_by == "customer"
    assert offer_kinds(paid) == Counter({OfferKind.TARGETED: 3, OfferKind.BROADCAST: 1})
    assert not Refund.objects.exists()

    # idempotent: running it again changes nothing more
    before = SessionEvent.objects.count()
    assert booking.sessions_unpaid_expire(now=later(3 + limit)) == 0
    assert SessionEvent.objects.count() == before

    # the periodic task runs the same sweep at its own clock; the fresh one's time is up
    assert (300, "autodoctor.booking.tasks.sessions_unpaid_expire") in PERIODIC_TASKS
    time_machine.move_to(later(31 + limit), tick=False)
    assert booking_tasks.sessions_unpaid_expire.call() == 1
    fresh.refresh_from_db()
    assert fresh.status == SessionStatus.CANCELLED and fresh.cancelled_by == "system"
    paid.refresh_from_db()
    assert paid.status == SessionStatus.PENDING and paid.offered_at == later(2)


# --------------------------------------------------------------------------- API


def test_api_start_now_then_pay_with_credits(login, buyer, crew, grant):
    grant(buyer, 5000)
    client = login(buyer)
    created = client.post(
        "/api/intake/start",
        {"plan": "advice", "concern": CONCERN, "mode": "now"},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["awaiting_payment"] is True and body["status"] == "pending"
    assert body["scheduled_for"] is None and body["hold"] is None
    session_id = body["id"]
    assert not Offer.objects.filter(session_id=session_id).exists()

    paid = client.post(
        "/api/payments/checkout",
        {"session_id": session_id, "method": "credits"},
        content_type="application/json",
    )
    assert paid.status_code == 200, paid.content
    payment = paid.json()
    assert payment["reservation_id"] is None and payment["session_id"] == session_id
    assert payment["status"] == "succeeded" and payment["amount_cents"] == ADVICE
    assert payment["method"] == "credits" and payment["checkout_url"] == ""

    detail = client.get(f"/api/sessions/{session_id}")
    assert detail.status_code == 200
    assert detail.json()["awaiting_payment"] is False and detail.json()["status"] == "pending"
    assert offer_kinds(session_id) == Counter({OfferKind.TARGETED: 3, OfferKind.BROADCAST: 1})
    assert client.get("/api/credits").json()["balance_cents"] == 5000 - ADVICE


def test_api_card_checkout_for_a_start_now_session(login, buyer, crew, start_now):
    session = start_now(buyer)
    response = login(buyer).post(
        "/api/payments/checkout",
        {"session_id": session.pk, "method": "card"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "pending" and body["reservation_id"] is None
    assert "/payments/simulated/cs_sim_" in body["checkout_url"]
    assert_unpublished(session)


def test_api_waiver_for_a_free_start_now_session(login, buyer, crew, start_now):
    session = start_now(buyer, "free")
    client = login(buyer)
    refused = client.post(
        "/api/payments/checkout",
        {"session_id": session.pk, "method": "waiver"},
        content_type="application/json",
    )
    assert refused.status_code == 422 and refused.json()["field"] == "waiver_accepted"
    assert_unpublished(session)
    ok = client.post(
        "/api/payments/checkout",
        {"session_id": session.pk, "method": "waiver", "waiver_accepted": True},
        content_type="application/json",
    )
    assert ok.status_code == 200 and ok.json()["amount_cents"] == 0
    assert not client.get(f"/api/sessions/{session.pk}").json()["awaiting_payment"]


def test_api_checkout_refusals(login, buyer, other_buyer, mechanic, hold, crew, start_now, grant):
    grant(buyer, 5000)
    grant(other_buyer, 5000)
    session = start_now(buyer)
    reservation = hold(buyer, mechanic)

    both = login(buyer).post(
        "/api/payments/checkout",
        {"reservation_id": reservation.pk, "session_id": session.pk, "method": "credits"},
        content_type="application/json",
    )
    assert both.status_code == 422
    assert "reservation_id" in both.json()["detail"] and "session_id" in both.json()["detail"]
    assert both.json()["field"] == "reservation_id"

    theirs = login(other_buyer).post(
        "/api/payments/checkout",
        {"session_id": session.pk, "method": "credits"},
        content_type="application/json",
    )
    assert theirs.status_code == 404 and theirs.json()["code"] == "not_found"

    as_mechanic = login(mechanic.user).post(
        "/api/payments/checkout",
        {"session_id": session.pk, "method": "credits"},
        content_type="application/json",
    )
    assert 400 <= as_mechanic.status_code < 500
    assert login(mechanic.user).post(
        "/api/intake/start",
        {"plan": "advice", "concern": CONCERN, "mode": "now"},
        content_type="application/json",
    ).status_code in (403, 422)

    assert not Payment.objects.exists()
    assert balance(buyer) == 5000 and balance(other_buyer) == 5000
    assert_unpublished(session)


# --------------------------------------------------------------------------- pages


def page(response) -> str:
    return response.content.decode()


def test_the_start_checkout_page_then_credits_then_the_waiting_page(
    login, buyer, crew, start_now, grant
):
    grant(buyer, 5000)
    session = start_now(buyer)
    client = login(buyer)
    start_url = reverse("payments:start_checkout", args=[session.pk])
    waiting_url = reverse("booking:waiting", args=[session.pk])
    assert start_url == f"/payments/start/{session.pk}/"

    # unpaid: the waiting page sends the customer to pay, and does not poll yet
    unpaid = page(client.get(waiting_url))
    assert f'href="{start_url}"' in unpaid and "Pay $29.99 CAD" in unpaid
    assert 'hx-trigger="every 5s"' not in unpaid

    checkout_page = page(client.get(start_url))
    assert "Advice session" in checkout_page and "$29.99 CAD" in checkout_page
    assert "<strong>When:</strong> now" in checkout_page
    assert "Pay $29.99 CAD with credits" in checkout_page
    assert 'id="hold-countdown"' not in checkout_page  # no hold for a start-now request
    assert f'action="{start_url}credits/"' in checkout_page

    paid = client.post(f"{start_url}credits/")
    assert paid.status_code == 302 and paid["Location"] == waiting_url
    assert_published(session, at=later(1))  # the page pays at the frozen clock
    assert balance(buyer) == 5000 - ADVICE

    waiting = page(client.get(waiting_url))
    assert "Pay $29.99 CAD" not in waiting and f'href="{start_url}"' not in waiting
    assert 'hx-trigger="every 5s"' in waiting and "went to the best-matched mechanics" in waiting
    # the checkout page of a paid request goes back to waiting; paying again is a no-op
    again = client.get(start_url)
    assert again.status_code == 302 and again["Location"] == waiting_url
    client.post(f"{start_url}credits/")
    assert CreditEntry.objects.filter(kind=CreditEntryKind.DEBIT).count() == 1
    receipt = page(client.get(reverse("payments:receipt", args=[Payment.objects.get().pk])))
    assert "now (start-now request)" in receipt and "Your request went out to mechanics" in receipt


def test_a_free_request_from_the_page_needs_the_waiver(login, buyer, crew, start_now):
    session = start_now(buyer, "free")
    client = login(buyer)
    start_url = reverse("payments:start_checkout", args=[session.pk])
    assert 'name="waiver_accepted"' in page(client.get(start_url))
    refused = client.post(
        f"{start_url}waiver/", {"waiver_version": WAIVER_TEXT_VERSION}, follow=True
    )
    assert "Accept the waiver to book a free session." in page(refused)
    assert_unpublished(session)
    done = client.post(
        f"{start_url}waiver/", {"waiver_version": WAIVER_TEXT_VERSION, "waiver_accepted": "yes"}
    )
    assert done["Location"] == reverse("booking:waiting", args=[session.pk])
    assert offer_kinds(session)[OfferKind.BROADCAST] == 1


def test_card_from_the_page_goes_to_the_provider_and_back_to_waiting(login, buyer, crew, start_now):
    session = start_now(buyer)
    client = login(buyer)
    start_url = reverse("payments:start_checkout", args=[session.pk])
    response = client.post(f"{start_url}card/")
    assert response.status_code == 302
    assert response["Location"].startswith("http://testserver/payments/simulated/cs_sim_")
    simulated_page = response["Location"].removeprefix("http://testserver")
    failed = client.post(simulated_page, {"outcome": "fail"}, follow=True)
    assert failed.redirect_chain[-1][0] == start_url
    assert "The payment failed (simulated)" in page(failed)
    assert_unpublished(session)
    retry = client.post(f"{start_url}card/")["Location"].removeprefix("http://testserver")
    assert retry != simulated_page  # a new checkout
    paid = client.post(retry, {"outcome": "pay"})
    assert paid["Location"] == reverse("booking:waiting", args=[session.pk])
    session.refresh_from_db()
    assert not session.awaiting_payment and publications(session) == 1


def test_other_people_cannot_see_or_pay_someone_elses_request(
    login, buyer, other_buyer, crew, start_now, grant
):
    grant(other_buyer, 5000)
    session = start_now(buyer)
    start_url = reverse("payments:start_checkout", args=[session.pk])
    theirs = login(other_buyer)
    assert theirs.get(start_url).status_code == 404
    assert theirs.get(reverse("booking:waiting", args=[session.pk])).status_code == 404
    theirs.post(f"{start_url}credits/")
    assert balance(other_buyer) == 5000 and not Payment.objects.exists()
    assert_unpublished(session)


def test_an_expired_request_cannot_be_paid_from_the_page(
    login, settings, buyer, crew, start_now, grant
):
    grant(buyer, 5000)
    session = start_now(buyer)
    booking.sessions_unpaid_expire(now=later(2 + settings.UNPAID_SESSION_MINUTES))
    client = login(buyer)
    start_url = reverse("payments:start_checkout", args=[session.pk])
    closed = page(client.get(start_url))
    assert "This session is cancelled" in closed and "with credits" not in closed
    waiting = page(client.get(reverse("booking:waiting", args=[session.pk])))
    assert "Not paid within" in waiting and f'href="{start_url}"' not in waiting
    client.post(f"{start_url}credits/")
    assert balance(buyer) == 5000 and not Payment.objects.exists()


def test_the_sweep_leaves_a_request_alone_while_its_card_checkout_is_open(
    settings, buyer, crew, start_now
):
    limit = settings.UNPAID_SESSION_MINUTES
    session = start_now(buyer)  # created at later(1)
    opened = later(limit - 5)  # the customer reaches the card page late
    payment = checkout.payment_checkout_start(customer=buyer, session_id=session.pk, now=opened)
    assert payment.checkout_expires_at == opened + timedelta(minutes=31)

    assert booking.sessions_unpaid_expire(now=later(limit + 2)) == 0  # still paying
    session.refresh_from_db()
    assert session.status == SessionStatus.PENDING
    result = simulated_event_send(payment, paid=True, now=later(limit + 20))
    assert result.outcome == "confirmed"
    session.refresh_from_db()
    assert session.offered_at == later(limit + 20) and not session.awaiting_payment


def test_the_sweep_cancels_once_the_open_checkout_has_run_out(settings, buyer, crew, start_now):
    limit = settings.UNPAID_SESSION_MINUTES
    session = start_now(buyer)
    opened = later(limit - 5)
    checkout.payment_checkout_start(customer=buyer, session_id=session.pk, now=opened)
    assert booking.sessions_unpaid_expire(now=opened + timedelta(minutes=30)) == 0
    assert booking.sessions_unpaid_expire(now=opened + timedelta(minutes=32)) == 1
    session.refresh_from_db()
    assert session.status == SessionStatus.CANCELLED and session.cancelled_by == "system"


# --------------------------------------------------------------------------- review fixes


def test_a_request_closed_after_the_friendly_check_gets_no_checkout_at_the_provider(
    stripe_on, buyer, crew, start_now, monkeypatch
):
    """The sweep (or the customer in another tab) closes the request between the
    friendly check and the provider call: the keep-open step refuses under the session
    lock before Stripe is asked, so nobody is sent to pay for a closed request."""
    session = start_now(buyer)
    booking.session_cancel(session_id=session.pk, user=buyer, now=later(2))
    monkeypatch.setattr(checkout, "_check_payable", lambda payable, now: None)
    with pytest.raises(Conflict) as refused:
        checkout.payment_checkout_start(customer=buyer, session_id=session.pk, now=later(3))
    assert refused.value.code == "session_closed"
    assert not stripe_on.calls("/v1/checkout/sessions")
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.FAILED and payment.outcome == "session_closed"


def test_a_full_refund_at_the_provider_before_anyone_accepts_withdraws_the_request(
    client, stripe_on, buyer, crew, start_now
):
    session, payment = _paid_by_stripe(buyer, start_now)
    for _ in range(2):  # a second delivery changes nothing more
        payload, header = _charge_refunded(payment, ADVICE)
        assert post_webhook(client, payload, header).status_code == 200
    payment.refresh_from_db()
    session.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED
    assert session.status == SessionStatus.CANCELLED and session.cancelled_by == "system"
    assert session.cancellation_reason == "The payment was refunded."
    assert not Offer.objects.filter(session=session, status=OfferStatus.OFFERED).exists()
    assert Refund.objects.count() == 1 and not PayoutEntry.objects.exists()


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
def test_a_mechanic_accepting_while_a_dashboard_refund_arrives_never_fails(
    stripe_on, customer_limits_lifted, buyer, crew, start_now
):
    """Accepting locks the session then the payment; the refund webhook takes the same
    order (payments.services.refunds.payment_lock), so on PostgreSQL neither deadlocks.
    Whatever the order, the ledger nets to what the customer finally paid."""
    from autodoctor.payments.services.webhooks import webhook_receive

    online, _offline = crew
    for round_ in range(3):
        session, payment = _paid_by_stripe(buyer, start_now, minute=1 + round_)
        offer = Offer.objects.get(session=session, mechanic=online[round_])
        refund_payload, refund_header = _charge_refunded(payment, 1000, f"ch_{round_}")
        accept_at, taker = later(3 + round_), online[round_]

        def accept_or_refund(
            i, offer=offer, taker=taker, at=accept_at, body=refund_payload, sig=refund_header
        ):
            if i == 0:
                return booking.offer_accept(offer_id=offer.pk, mechanic=taker, now=at)
            return webhook_receive(provider_name="stripe", payload=body, signature=sig)

        outcomes = race(2, accept_or_refund)
        assert outcomes == Counter({"ok": 2}), (round_, outcomes)
        assert ledger(payment) == (ADVICE - 1000, 1399, 600), round_


def test_a_refund_email_is_sent_for_money_or_a_trial_but_not_for_a_free_session(
    buyer, crew, start_now
):
    from autodoctor.notifications.models import Notification
    from autodoctor.notifications.rendering import message_render

    free = start_now(buyer, "free")
    checkout.payment_with_waiver(customer=buyer, session_id=free.pk, accepted=True, now=later(2))
    booking.session_cancel(session_id=free.pk, user=buyer, now=later(3))
    assert not Notification.objects.filter(kind="payment_refunded").exists()  # $0: not news

    trial = start_now(buyer, "trial", now=later(4))
    checkout.payment_with_waiver(customer=buyer, session_id=trial.pk, accepted=True, now=later(5))
    booking.session_cancel(session_id=trial.pk, user=buyer, now=later(6))
    (note,) = Notification.objects.filter(kind="payment_refunded")
    message = message_render(note)
    assert message.subject == "Your trial session can be used again"
    assert "you can use your trial again" in message.body


def test_pages_show_an_unpaid_request_with_a_pay_action_and_a_paid_one_as_now(
    login, buyer, crew, start_now, grant
):
    grant(buyer, ADVICE)
    session = start_now(buyer)
    client = login(buyer)
    detail = client.get(f"/booking/sessions/{session.pk}/").content.decode()
    assert f'href="/payments/start/{session.pk}/"' in detail and "Pay $29.99 CAD" in detail

    paid = client.post(f"/payments/start/{session.pk}/credits/", follow=True)
    assert "Credits: $29.99 CAD" in paid.content.decode()
    # revisiting the checkout of a paid request goes to the waiting page without a new flash
    again = client.get(f"/payments/start/{session.pk}/", follow=True).content.decode()
    assert "Finding your mechanic" in again and "Credits: $29.99 CAD" not in again
    detail = client.get(f"/booking/sessions/{session.pk}/").content.decode()
    assert "/payments/start/" not in detail
    mine = client.get("/payments/").content.decode()
    assert "Now <span" in mine and "(requested" in mine


# --------------------------------------------------------------------------- closing checkouts


def test_cancelling_closes_the_open_simulated_checkout_so_it_cannot_be_paid(
    login, buyer, card_checkout, django_capture_on_commit_callbacks
):
    session, payment = card_checkout
    with django_capture_on_commit_callbacks(execute=True):
        booking.session_cancel(session_id=session.pk, user=buyer, now=later(3))
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED and payment.outcome == "checkout_closed"

    # the payment page left open in another tab can no longer take the money
    with pytest.raises(Conflict) as closed:
        simulated_checkout_finish(
            checkout_id=payment.provider_checkout_id, customer=buyer, outcome="pay"
        )
    assert closed.value.code == "checkout_closed"
    page = login(buyer).post(
        payment.checkout_url.removeprefix("http://testserver"), {"outcome": "pay"}, follow=True
    )
    assert "This checkout is closed; nothing was charged." in page.content.decode()
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED and not Refund.objects.exists()


def test_cancelling_expires_the_stripe_checkout_and_a_just_paid_one_is_refunded(
    client, stripe_on, buyer, crew, start_now, django_capture_on_commit_callbacks
):
    # One request cancelled with its checkout still open: Stripe is asked to expire it.
    open_one = start_now(buyer)
    unpaid = checkout.payment_checkout_start(customer=buyer, session_id=open_one.pk, now=later(2))
    with django_capture_on_commit_callbacks(execute=True):
        booking.session_cancel(session_id=open_one.pk, user=buyer, now=later(3))
    (call,) = stripe_on.calls(f"/v1/checkout/sessions/{unpaid.provider_checkout_id}/expire")
    assert call["method"] == "post"
    unpaid.refresh_from_db()
    assert unpaid.status == PaymentStatus.FAILED and unpaid.outcome == "checkout_closed"

    # Another one the customer paid at Stripe a moment before cancelling: Stripe will not
    # expire it, the payment stays open for its webhook, which refunds it.
    paid_one = start_now(buyer, now=later(4))
    paying = checkout.payment_checkout_start(customer=buyer, session_id=paid_one.pk, now=later(5))
    stripe_on.completed_checkouts.add(paying.provider_checkout_id)
    with django_capture_on_commit_callbacks(execute=True):
        booking.session_cancel(session_id=paid_one.pk, user=buyer, now=later(6))
    paying.refresh_from_db()
    assert paying.status == PaymentStatus.PENDING
    payload, header = signed_event("checkout.session.completed", _start_now_completed(paying))
    with django_capture_on_commit_callbacks(execute=True):
        response = post_webhook(client, payload, header)
    assert response.json()["outcome"] == "refunded_session_closed"
    paying.refresh_from_db()
    assert paying.status == PaymentStatus.REFUNDED


def test_releasing_a_hold_closes_its_checkout_but_an_expired_hold_keeps_it_payable(
    buyer, mechanic, hold, django_capture_on_commit_callbacks
):
    released = hold(buyer, mechanic)
    first = checkout.payment_checkout_start(
        customer=buyer, reservation_id=released.pk, now=later(1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        booking.reservation_release(reservation_id=released.pk, customer=buyer, now=later(2))
    first.refresh_from_db()
    assert first.status == PaymentStatus.FAILED and first.outcome == "checkout_closed"

    lapsed = hold(buyer, mechanic, start=later(60 * 26))
    second = checkout.payment_checkout_start(customer=buyer, reservation_id=lapsed.pk, now=later(3))
    with django_capture_on_commit_callbacks(execute=True):
        booking.holds_expire_all(now=later(30))
    second.refresh_from_db()
    assert second.status == PaymentStatus.PENDING  # the late-payment rule may still take it


# --------------------------------------------------------------------------- nobody accepts


def test_a_paid_request_nobody_accepts_is_closed_and_refunded_in_full(
    settings, customer_limits_lifted, buyer, crew, start_now, grant, mechanic, hold
):
    from autodoctor.notifications.models import Notification
    from autodoctor.notifications.rendering import message_render

    wait = settings.START_NOW_WAIT_MINUTES
    grant(buyer, 2 * ADVICE)
    waiting = start_now(buyer)
    checkout.payment_with_credits(customer=buyer, session_id=waiting.pk, now=later(2))
    taken = start_now(buyer)
    checkout.payment_with_credits(customer=buyer, session_id=taken.pk, now=later(2))
    booking.offer_accept(
        offer_id=Offer.objects.filter(session=taken, kind=OfferKind.TARGETED).first().pk,
        mechanic=crew[0][0],
        now=later(3),
    )
    unpaid = start_now(buyer)
    scheduled = hold(buyer, mechanic).session
    assert balance(buyer) == 0

    assert booking.sessions_untaken_expire(now=later(2 + wait - 1)) == 0  # still in time
    assert booking.sessions_untaken_expire(now=later(2 + wait + 1)) == 1
    assert booking.sessions_untaken_expire(now=later(2 + wait + 2)) == 0  # once

    waiting.refresh_from_db()
    assert waiting.status == SessionStatus.CANCELLED and waiting.cancelled_by == "system"
    assert waiting.cancellation_reason == f"No mechanic was free to take it within {wait} minutes."
    assert not Offer.objects.filter(session=waiting, status=OfferStatus.OFFERED).exists()
    refund = Refund.objects.get()
    assert (refund.amount_cents, refund.destination) == (ADVICE, RefundDestination.CREDITS)
    assert balance(buyer) == ADVICE
    for other in (taken, unpaid, scheduled):
        other.refresh_from_db()
    assert (taken.status, unpaid.status, scheduled.status) == (
        SessionStatus.WAITING,
        SessionStatus.PENDING,
        SessionStatus.PENDING,
    )
    (note,) = Notification.objects.filter(kind="payment_refunded", recipient=buyer)
    body = message_render(note).body
    assert f"No mechanic was free to take it within {wait} minutes." in body
    assert "Refund:  $29.99 CAD as credits on your account" in body


def test_the_untaken_sweep_is_periodic():
    assert (60, "autodoctor.booking.tasks.sessions_untaken_expire") in PERIODIC_TASKS


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
def test_a_mechanic_accepting_as_the_wait_runs_out_either_gets_it_or_is_told_it_closed(
    settings, buyer, crew, start_now, grant
):
    wait = settings.START_NOW_WAIT_MINUTES
    online, _offline = crew
    for round_ in range(3):
        grant(buyer, ADVICE)
        session = start_now(buyer)
        checkout.payment_with_credits(customer=buyer, session_id=session.pk, now=later(2))
        offer = Offer.objects.get(session=session, mechanic=online[0])
        at = later(2 + wait + 1)

        def accept_or_sweep(i, offer=offer, at=at):
            if i == 0:
                return booking.offer_accept(offer_id=offer.pk, mechanic=online[0], now=at)
            return booking.sessions_untaken_expire(now=at)

        outcomes = race(2, accept_or_sweep)
        session.refresh_from_db()
        if session.status == SessionStatus.WAITING:  # the mechanic was first
            assert outcomes == Counter({"ok": 2}), (round_, outcomes)
            assert not Refund.objects.filter(payment__session=session).exists()
            booking.session_cancel(
                session_id=session.pk, user=online[0].user, reason="test tidy-up", now=at
            )
        else:  # the sweep was first: the accept is told the session is gone
            assert session.status == SessionStatus.CANCELLED, round_
            assert outcomes == Counter({"ok": 1, "Conflict": 1}), (round_, outcomes)
            assert Refund.objects.filter(payment__session=session).count() == 1
        # each round: granted, paid, and given back in full (by the sweep or the
        # mechanic's cancel), never twice
        assert balance(buyer) == ADVICE * (round_ + 1), round_


def test_a_cancel_while_the_checkout_is_being_opened_leaves_no_payable_checkout(
    buyer, crew, start_now, monkeypatch, django_capture_on_commit_callbacks
):
    """Tab A presses "pay by card"; while the provider opens the checkout, tab B cancels.
    The cancel found no checkout to close, so opening re-checks under the session lock
    and closes it itself: the customer is not sent to pay for a cancelled request."""
    from autodoctor.payments.providers.simulated import SimulatedProvider

    session = start_now(buyer)
    real_create = SimulatedProvider.checkout_create

    def create_while_the_other_tab_cancels(provider, request):
        with django_capture_on_commit_callbacks(execute=True):
            booking.session_cancel(session_id=session.pk, user=buyer, now=later(2))
        return real_create(provider, request)

    monkeypatch.setattr(SimulatedProvider, "checkout_create", create_while_the_other_tab_cancels)
    with pytest.raises(Conflict) as refused:
        checkout.payment_checkout_start(customer=buyer, session_id=session.pk, now=later(2))
    assert refused.value.code == "session_closed"
    payment = Payment.objects.get()
    assert payment.provider_checkout_id  # it was opened at the provider...
    assert payment.status == PaymentStatus.FAILED and payment.outcome == "checkout_closed"
    with pytest.raises(Conflict):  # ...and can no longer be paid
        simulated_checkout_finish(
            checkout_id=payment.provider_checkout_id, customer=buyer, outcome="pay"
        )


def test_pressing_pay_again_after_paying_changes_nothing(login, buyer, card_checkout):
    session, payment = card_checkout
    client = login(buyer)
    path = payment.checkout_url.removeprefix("http://testserver")
    first = client.post(path, {"outcome": "pay"})
    again = client.post(path, {"outcome": "pay"})
    assert first["Location"] == again["Location"] == f"/booking/sessions/{session.pk}/waiting/"
    assert WebhookEvent.objects.count() == 1  # the second press sent nothing
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED and not Refund.objects.exists()


def test_a_checkout_stripe_could_not_close_at_cancel_is_closed_by_the_periodic_retry(
    stripe_on, buyer, crew, start_now, django_capture_on_commit_callbacks
):
    from autodoctor.payments import tasks as payment_tasks

    session = start_now(buyer)
    payment = checkout.payment_checkout_start(customer=buyer, session_id=session.pk, now=later(2))
    stripe_on.fail_expire = True
    with django_capture_on_commit_callbacks(execute=True):
        booking.session_cancel(session_id=session.pk, user=buyer, now=later(3))
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING  # Stripe was down: still open

    stripe_on.fail_expire = False
    assert (300, "autodoctor.payments.tasks.checkouts_close_retry") in PERIODIC_TASKS
    assert payment_tasks.checkouts_close_retry.call() == 1
    assert payment_tasks.checkouts_close_retry.call() == 0  # nothing left to close
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED and payment.outcome == "checkout_closed"
    expire_path = f"/v1/checkout/sessions/{payment.provider_checkout_id}/expire"
    assert len(stripe_on.calls(expire_path)) == 2  # the failed try, then the retry


def test_a_second_payment_for_a_request_cancelled_after_it_went_out_is_refunded_as_closed(
    buyer, crew, start_now, grant, card_checkout
):
    session, card = card_checkout
    grant(buyer, ADVICE)
    checkout.payment_with_credits(customer=buyer, session_id=session.pk, now=later(3))
    booking.session_cancel(session_id=session.pk, user=buyer, now=later(4))
    result = simulated_event_send(card, paid=True, now=later(5))  # the card lands late
    assert result.outcome == "refunded_session_closed"
    card.refresh_from_db()
    assert card.status == PaymentStatus.REFUNDED and card.outcome == "session_closed"
