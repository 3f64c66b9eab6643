"""Credits: a ledger per customer, a balance the database keeps at or above zero,
debited in the same transaction as the confirmation; admins grant credits."""

import pytest
from django.db import IntegrityError, transaction

from autodoctor.booking.models import ReservationStatus, SessionEvent, SessionStatus
from autodoctor.payments.models import (
    CreditAccount,
    CreditEntry,
    CreditEntryKind,
    ImmutableRecord,
    Payment,
    PaymentStatus,
    PayoutEntry,
)
from autodoctor.payments.services import checkout, credits
from autodoctor.payments.services.credits import InsufficientCredits
from tests.factories import UserFactory

from .conftest import later

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]

ADVICE = 2999


@pytest.fixture
def admin(db):
    return UserFactory(role="admin", is_staff=True, is_superuser=True)


def test_paying_with_credits_debits_the_ledger_and_confirms(buyer, mechanic, hold, admin):
    credits.credits_grant(customer=buyer, amount_cents=5000, note="welcome", granted_by=admin)
    reservation = hold(buyer, mechanic)
    payment = checkout.payment_with_credits(
        reservation_id=reservation.pk, customer=buyer, now=later(1)
    )

    assert payment.status == PaymentStatus.SUCCEEDED and payment.amount_cents == ADVICE
    reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.CONFIRMED
    assert reservation.session.status == SessionStatus.SCHEDULED
    assert CreditAccount.objects.get(customer=buyer).balance_cents == 5000 - ADVICE
    debit = CreditEntry.objects.get(kind=CreditEntryKind.DEBIT)
    assert debit.delta_cents == -ADVICE and debit.balance_after_cents == 5000 - ADVICE
    assert debit.payment == payment
    assert PayoutEntry.objects.get(payment=payment).gross_cents == ADVICE
    assert SessionEvent.objects.filter(action="payments.payment.succeeded").count() == 1


def test_not_enough_credits_is_a_402_and_nothing_is_confirmed(buyer, mechanic, hold, admin):
    credits.credits_grant(customer=buyer, amount_cents=1000, note="", granted_by=admin)
    reservation = hold(buyer, mechanic)
    with pytest.raises(InsufficientCredits) as refused:
        checkout.payment_with_credits(reservation_id=reservation.pk, customer=buyer, now=later(1))
    assert refused.value.status == 402
    reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.RESERVED
    assert CreditAccount.objects.get(customer=buyer).balance_cents == 1000
    assert not CreditEntry.objects.filter(kind=CreditEntryKind.DEBIT).exists()


def test_the_debit_is_refused_inside_the_confirmation_when_the_precheck_is_bypassed(
    buyer, mechanic, hold, admin, monkeypatch
):
    """The balance check that counts runs under the account's row lock inside the
    confirm transaction; a refused debit rolls the confirmation back."""
    credits.credits_grant(customer=buyer, amount_cents=1000, note="", granted_by=admin)
    monkeypatch.setattr(checkout, "credit_balance_cents", lambda customer: 10**6)
    reservation = hold(buyer, mechanic)
    with pytest.raises(InsufficientCredits):
        checkout.payment_with_credits(reservation_id=reservation.pk, customer=buyer, now=later(1))
    reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.RESERVED
    assert reservation.session.status == SessionStatus.PENDING
    assert Payment.objects.get(reservation=reservation).status == PaymentStatus.FAILED
    assert not PayoutEntry.objects.exists()


def test_the_database_refuses_a_negative_balance(buyer):
    account = CreditAccount.objects.create(customer=buyer, balance_cents=100)
    with pytest.raises(IntegrityError), transaction.atomic():
        CreditAccount.objects.filter(pk=account.pk).update(balance_cents=-1)


def test_credit_entries_cannot_be_edited_or_deleted(buyer, admin):
    entry = credits.credits_grant(customer=buyer, amount_cents=500, note="", granted_by=admin)
    entry.note = "changed"
    with pytest.raises(ImmutableRecord):
        entry.save()
    with pytest.raises(ImmutableRecord):
        entry.delete()
    with pytest.raises(ImmutableRecord):
        CreditEntry.objects.filter(pk=entry.pk).update(note="changed")
    with pytest.raises(ImmutableRecord):
        CreditEntry.objects.all().delete()


def test_only_customers_get_positive_grants(buyer, mechanic, admin):
    with pytest.raises(Exception, match="positive"):
        credits.credits_grant(customer=buyer, amount_cents=0, note="", granted_by=admin)
    with pytest.raises(Exception, match="customers"):
        credits.credits_grant(customer=mechanic.user, amount_cents=100, note="", granted_by=admin)


def test_an_admin_grants_credits_from_the_admin(login, admin, buyer):
    client = login(admin)
    page = client.get("/admin/payments/creditaccount/grant/")
    assert page.status_code == 200 and "Grant credits" in page.content.decode()
    response = client.post(
        "/admin/payments/creditaccount/grant/",
        {"customer_email": buyer.email, "amount": "25.50", "note": "sorry for the wait"},
    )
    assert response.status_code == 302
    entry = CreditEntry.objects.get()
    assert entry.kind == CreditEntryKind.GRANT and entry.delta_cents == 2550
    assert entry.created_by == admin and entry.note == "sorry for the wait"
    assert CreditAccount.objects.get(customer=buyer).balance_cents == 2550
    assert "Grant credits" in client.get("/admin/payments/creditaccount/").content.decode()


def test_the_grant_form_names_a_wrong_customer(login, admin, mechanic):
    response = login(admin).post(
        "/admin/payments/creditaccount/grant/",
        {"customer_email": mechanic.user.email, "amount": "5"},
    )
    assert response.status_code == 200
    assert "No customer with this email." in response.content.decode()
    assert not CreditEntry.objects.exists()


def test_api_confirm_with_credits_and_the_credits_endpoint(login, buyer, mechanic, hold, admin):
    credits.credits_grant(customer=buyer, amount_cents=4000, note="", granted_by=admin)
    reservation = hold(buyer, mechanic)
    client = login(buyer)
    response = client.put(
        "/api/slots/confirm",
        {"reservation_id": reservation.pk, "use_credits": True},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "scheduled"
    body = client.get("/api/credits").json()
    assert body["balance_cents"] == 4000 - ADVICE
    assert [e["kind"] for e in body["entries"]] == ["debit", "grant"]
