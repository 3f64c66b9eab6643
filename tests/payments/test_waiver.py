"""Free and trial plans: the waiver is accepted (version and time kept), the booking
confirms with no charge, and a trial is used once — enforced by the database."""

import pytest
from django.db import IntegrityError, transaction

from autodoctor.booking import services as booking
from autodoctor.booking.models import ReservationStatus, SessionStatus
from autodoctor.errors import InvalidInput
from autodoctor.payments.models import Payment, PaymentStatus, PayoutEntry, Waiver, WaiverKind
from autodoctor.payments.policy import WAIVER_TEXT_VERSION
from autodoctor.payments.services import checkout
from autodoctor.payments.services.checkout import TrialAlreadyUsed

from .conftest import NOW, SLOT, later

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


def test_a_free_session_needs_the_waiver_accepted(buyer, mechanic, hold):
    reservation = hold(buyer, mechanic, plan="free")
    with pytest.raises(InvalidInput) as refused:
        checkout.payment_with_waiver(
            reservation_id=reservation.pk, customer=buyer, accepted=False, now=later(1)
        )
    assert refused.value.data["field"] == "waiver_accepted"
    reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.RESERVED
    assert not Payment.objects.exists()


def test_accepting_the_waiver_confirms_with_no_charge_and_keeps_version_and_time(
    buyer, mechanic, hold
):
    reservation = hold(buyer, mechanic, plan="free")
    payment = checkout.payment_with_waiver(
        reservation_id=reservation.pk, customer=buyer, accepted=True, now=later(1)
    )
    assert payment.status == PaymentStatus.SUCCEEDED and payment.amount_cents == 0
    reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.CONFIRMED
    assert reservation.session.status == SessionStatus.SCHEDULED
    waiver = Waiver.objects.get(customer=buyer)
    assert waiver.kind == WaiverKind.FREE
    assert waiver.text_version == WAIVER_TEXT_VERSION
    assert waiver.accepted_at is not None and waiver.payment == payment
    assert not PayoutEntry.objects.exists()  # nothing was paid, nobody is owed


def test_free_sessions_can_be_booked_again_but_a_trial_only_once(buyer, mechanic, hold):
    first = hold(buyer, mechanic, plan="trial")
    checkout.payment_with_waiver(
        reservation_id=first.pk, customer=buyer, accepted=True, now=later(1)
    )
    second = hold(buyer, mechanic, plan="trial", start=SLOT.replace(hour=17))
    with pytest.raises(TrialAlreadyUsed):
        checkout.payment_with_waiver(
            reservation_id=second.pk, customer=buyer, accepted=True, now=later(2)
        )
    second.refresh_from_db()
    assert second.status == ReservationStatus.RESERVED
    assert not Payment.objects.filter(reservation=second).exists()  # refused before any payment
    free_one = hold(buyer, mechanic, plan="free", start=SLOT.replace(hour=19))
    assert (
        checkout.payment_with_waiver(
            reservation_id=free_one.pk, customer=buyer, accepted=True, now=later(3)
        ).status
        == PaymentStatus.SUCCEEDED
    )


def test_the_database_refuses_a_second_trial_when_the_check_is_bypassed(
    buyer, mechanic, hold, monkeypatch
):
    """The guarantee is the partial unique index, not the friendly pre-check: with the
    check switched off the second trial's confirmation is refused and rolled back."""
    first = hold(buyer, mechanic, plan="trial")
    checkout.payment_with_waiver(
        reservation_id=first.pk, customer=buyer, accepted=True, now=later(1)
    )
    monkeypatch.setattr(checkout, "trial_available", lambda customer: True)
    second = hold(buyer, mechanic, plan="trial", start=SLOT.replace(hour=17))
    with pytest.raises(TrialAlreadyUsed):
        checkout.payment_with_waiver(
            reservation_id=second.pk, customer=buyer, accepted=True, now=later(2)
        )
    second.refresh_from_db()
    assert second.status == ReservationStatus.RESERVED  # the confirmation rolled back too
    assert second.session.status == SessionStatus.PENDING
    assert Waiver.objects.filter(customer=buyer).count() == 1
    assert Payment.objects.get(reservation=second).status == PaymentStatus.FAILED


def test_the_trial_constraint_holds_for_raw_inserts_too(buyer, mechanic, hold):
    first = hold(buyer, mechanic, plan="trial")
    payment = checkout.payment_with_waiver(
        reservation_id=first.pk, customer=buyer, accepted=True, now=later(1)
    )
    other = Payment.objects.create(
        customer=buyer,
        session=payment.session,
        reservation=first,
        plan=payment.plan,
        method="waiver",
        amount_cents=0,
        status=PaymentStatus.FAILED,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Waiver.objects.create(
            customer=buyer,
            session=payment.session,
            payment=other,
            kind=WaiverKind.TRIAL,
            text_version=WAIVER_TEXT_VERSION,
            accepted_at=NOW,
        )


def test_a_trial_the_mechanic_cancels_is_given_back(buyer, mechanic, hold):
    reservation = hold(buyer, mechanic, plan="trial")
    checkout.payment_with_waiver(
        reservation_id=reservation.pk, customer=buyer, accepted=True, now=later(1)
    )
    booking.session_cancel(
        session_id=reservation.session_id, user=mechanic.user, reason="Sick", now=later(2)
    )
    payment = Payment.objects.get(reservation=reservation)
    assert payment.status == PaymentStatus.REFUNDED
    assert Waiver.objects.get(customer=buyer).voided_at is not None
    again = hold(buyer, mechanic, plan="trial", start=SLOT.replace(hour=17), now=later(3))
    assert (
        checkout.payment_with_waiver(
            reservation_id=again.pk, customer=buyer, accepted=True, now=later(4)
        ).status
        == PaymentStatus.SUCCEEDED
    )


def test_a_trial_the_customer_cancels_late_stays_used(buyer, mechanic, hold):
    reservation = hold(buyer, mechanic, plan="trial")
    checkout.payment_with_waiver(
        reservation_id=reservation.pk, customer=buyer, accepted=True, now=later(1)
    )
    booking.session_cancel(
        session_id=reservation.session_id, user=buyer, now=SLOT.replace(hour=10)
    )  # 5 h before the start
    assert Payment.objects.get(reservation=reservation).status == PaymentStatus.SUCCEEDED
    assert Waiver.objects.get(customer=buyer).voided_at is None


def test_asking_twice_confirms_once(buyer, mechanic, hold):
    reservation = hold(buyer, mechanic, plan="free")
    one = checkout.payment_with_waiver(
        reservation_id=reservation.pk, customer=buyer, accepted=True, now=later(1)
    )
    two = checkout.payment_with_waiver(
        reservation_id=reservation.pk, customer=buyer, accepted=True, now=later(2)
    )
    assert one == two and Payment.objects.count() == 1


def test_api_confirm_needs_the_waiver_in_the_payload(login, buyer, mechanic, hold):
    reservation = hold(buyer, mechanic, plan="free")
    client = login(buyer)
    refused = client.put(
        "/api/slots/confirm", {"reservation_id": reservation.pk}, content_type="application/json"
    )
    assert refused.status_code == 422
    assert refused.json()["field"] == "waiver_accepted"
    ok = client.put(
        "/api/slots/confirm",
        {"reservation_id": reservation.pk, "waiver_accepted": True},
        content_type="application/json",
    )
    assert ok.status_code == 200, ok.content
    assert ok.json()["status"] == "scheduled"
