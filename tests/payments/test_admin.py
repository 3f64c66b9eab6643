"""Payments in the Django admin: list pages cost a fixed number of queries whatever
the number of rows (their related columns are joined, not fetched row by row), and the
grant tool words amounts like the rest of the site."""

import pytest

from autodoctor.booking import services as booking
from autodoctor.payments.models import CreditAccount, CreditEntry, Payment, Refund, Waiver
from autodoctor.payments.services import checkout, credits
from tests.factories import CustomerFactory, MechanicFactory

from .conftest import later

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]

ROWS = 20
CONCERN = "Grinding noise when braking at low speed"


@pytest.fixture
def ledger(admin_user):
    """ROWS customers who paid a start-now session with credits and cancelled it
    (a refund to credits), and ROWS who took a free one with the waiver."""
    MechanicFactory(is_online=True)
    for _ in range(ROWS):
        customer = CustomerFactory().user
        credits.credits_grant(customer=customer, amount_cents=5000, note="", granted_by=admin_user)
        intake = booking.intake_validate(customer=customer, plan="advice", concern=CONCERN)
        session = booking.session_create_immediate(customer=customer, intake=intake, now=later(1))
        checkout.payment_with_credits(customer=customer, session_id=session.pk, now=later(1))
        booking.session_cancel(session_id=session.pk, user=customer, now=later(2))
    for _ in range(ROWS):
        customer = CustomerFactory().user
        intake = booking.intake_validate(customer=customer, plan="free", concern=CONCERN)
        session = booking.session_create_immediate(customer=customer, intake=intake, now=later(1))
        checkout.payment_with_waiver(
            customer=customer, accepted=True, session_id=session.pk, now=later(1)
        )
    assert Payment.objects.count() == 2 * ROWS and Refund.objects.count() == ROWS
    assert Waiver.objects.count() == ROWS and CreditAccount.objects.count() == ROWS
    assert CreditEntry.objects.count() >= 3 * ROWS


@pytest.mark.parametrize("model", ["payment", "refund", "creditaccount", "creditentry", "waiver"])
def test_payment_list_pages_take_a_fixed_number_of_queries(
    login, admin_user, ledger, model, django_assert_max_num_queries
):
    client = login(admin_user)
    client.get(f"/admin/payments/{model}/")  # warm caches (content types, session)
    with django_assert_max_num_queries(12):
        response = client.get(f"/admin/payments/{model}/")
    assert response.status_code == 200


def test_the_grant_tool_words_the_amounts_as_money(login, admin_user):
    customer = CustomerFactory().user
    credits.credits_grant(customer=customer, amount_cents=100000, note="", granted_by=admin_user)
    response = login(admin_user).post(
        "/admin/payments/creditaccount/grant/",
        {"customer_email": customer.email, "amount": "25.50"},
        follow=True,
    )
    assert "Granted $25.50 CAD to" in response.content.decode()
    assert "balance $1,025.50 CAD." in response.content.decode()
