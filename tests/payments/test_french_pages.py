"""Payments pages in Canadian French: the checkout and the payments page, money as
« 29,99 $ CAD », the refused-payment messages in French."""

import html

import pytest
from django.utils import translation

from autodoctor.payments.services import credits
from tests.factories import UserFactory

from .conftest import later

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


@pytest.fixture(autouse=True)
def _back_to_the_default_language():
    """A request activates its user's language for the thread; later tests expect none."""
    yield
    translation.deactivate()


@pytest.fixture
def at_checkout(time_machine):
    time_machine.move_to(later(2), tick=False)


def body(response) -> str:
    """The page's text with entities decoded and every run of spaces (no-break ones
    included, as money is written in French) as one space."""
    return " ".join(html.unescape(response.content.decode()).split())


def _in_french(user):
    user.language = "fr-ca"
    user.save(update_fields=["language"])
    return user


def test_checkout_and_payments_page_in_french(login, buyer, mechanic, hold, at_checkout):
    _in_french(buyer)
    admin = UserFactory(role="admin", is_staff=True, is_superuser=True)
    credits.credits_grant(customer=buyer, amount_cents=3000, note="", granted_by=admin)
    reservation = hold(buyer, mechanic)
    client = login(buyer)
    page = body(client.get(f"/payments/checkout/{reservation.pk}/"))
    assert "Confirmer et payer" in page and "Payer par carte" in page
    assert "Payer 29,99 $ CAD avec des crédits" in page
    assert "Pay $29.99" not in page
    client.post(f"/payments/checkout/{reservation.pk}/credits/")
    mine = body(client.get("/payments/"))
    assert "Paiements et crédits" in mine and "Solde de crédits : 0,01 $ CAD" in mine
    assert "Payé pour une séance" in mine  # the credit entry's choice label


def test_an_english_buyer_still_sees_english(login, buyer, mechanic, hold, at_checkout):
    reservation = hold(buyer, mechanic)
    page = body(login(buyer).get(f"/payments/checkout/{reservation.pk}/"))
    assert "Confirm and pay" in page and "Confirmer" not in page


def test_a_refusal_is_worded_in_french(login, buyer):
    _in_french(buyer)
    response = login(buyer).get("/payments/receipts/999999/")
    assert response.status_code == 404
    assert "Ce paiement n'existe pas." in body(response)
