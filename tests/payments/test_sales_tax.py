"""Canadian sales tax (plan §5.4): the province from the postal code, the rates in force
on the payment's date, lines stored on the payment (a later rate change rewrites
nothing), refunds giving tax back in proportion, the 70/30 split on the pre-tax price,
and the total (tax included) charged through the card provider."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from autodoctor.accounts.models import CustomerProfile
from autodoctor.booking import services as booking
from autodoctor.payments.models import (
    Payment,
    PaymentStatus,
    PayoutEntry,
    Refund,
    SalesTaxRate,
    TaxLine,
)
from autodoctor.payments.services import checkout, credits
from autodoctor.payments.services.simulated import simulated_checkout_finish
from autodoctor.payments.tax import province_for_postal_code, tax_quote
from tests.factories import UserFactory

from .conftest import SLOT, later

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock"), pytest.mark.sales_tax]

ADVICE = 2999
HST_ON = 390  # 13 % of 29.99 = 3.8987 → 3.90
TOTAL_ON = ADVICE + HST_ON


@pytest.mark.parametrize(
    ("postal", "province"),
    [
        ("A1C 5M2", "NL"),
        ("B3H 4R2", "NS"),
        ("C1A 7N8", "PE"),
        ("E3B 5H1", "NB"),
        ("G1R 4P5", "QC"),
        ("h2x 1y4", "QC"),
        ("J4K 1A1", "QC"),
        ("K1A 0B1", "ON"),
        ("L5B 3C2", "ON"),
        ("M4C 1B5", "ON"),
        ("N2L 3G1", "ON"),
        ("P3E 2C6", "ON"),
        ("R3C 4T3", "MB"),
        ("S4P 3Y2", "SK"),
        ("T2P 1J9", "AB"),
        ("V6B 1A1", "BC"),
        ("X1A 2N5", "NT"),
        ("Y1A 6E6", "YT"),
    ],
)
def test_the_province_is_the_postal_codes_first_letter(postal, province):
    assert province_for_postal_code(postal) == province


@pytest.mark.parametrize("postal", ["", None, "90210", "D1A 1A1", "  "])
def test_an_unknown_postal_code_falls_back_to_the_platforms_province(settings, postal):
    settings.PLATFORM_PROVINCE = "BC"
    assert province_for_postal_code(postal) == "BC"


@pytest.mark.parametrize(
    ("province", "day", "expected"),
    [
        ("ON", date(2026, 11, 30), [("HST", "13", 390)]),
        ("AB", date(2026, 11, 30), [("GST", "5", 150)]),
        ("NU", date(2026, 11, 30), [("GST", "5", 150)]),
        ("BC", date(2026, 11, 30), [("GST", "5", 150), ("PST", "7", 210)]),
        ("MB", date(2026, 11, 30), [("GST", "5", 150), ("RST", "7", 210)]),
        ("SK", date(2026, 11, 30), [("GST", "5", 150), ("PST", "6", 180)]),
        # 9.975 % of 29.99 = 2.9915 → 2.99
        ("QC", date(2026, 11, 30), [("GST", "5", 150), ("QST", "9.975", 299)]),
        ("NB", date(2026, 11, 30), [("HST", "15", 450)]),
        ("NS", date(2025, 3, 31), [("HST", "15", 450)]),
        ("NS", date(2025, 4, 1), [("HST", "14", 420)]),
    ],
)
def test_the_rates_in_force_on_the_day(province, day, expected):
    quote = tax_quote(subtotal_cents=ADVICE, province=province, day=day)
    assert [(line.kind, line.rate_percent, line.amount_cents) for line in quote.lines] == expected
    assert quote.total_cents == ADVICE + sum(cents for *_, cents in expected)


@pytest.fixture
def admin(db):
    return UserFactory(role="admin", is_staff=True, is_superuser=True)


@pytest.fixture
def paid_by_credits(buyer, mechanic, hold, admin):
    credits.credits_grant(customer=buyer, amount_cents=TOTAL_ON, note="", granted_by=admin)
    reservation = hold(buyer, mechanic)
    return checkout.payment_with_credits(
        reservation_id=reservation.pk, customer=buyer, now=later(1)
    )


def _ledger(payment) -> tuple[int, int, int]:
    rows = PayoutEntry.objects.filter(payment=payment)
    return tuple(
        sum(getattr(r, f) for r in rows) for f in ("gross_cents", "payee_cents", "platform_cents")
    )  # type: ignore[return-value]


def test_paying_stores_the_tax_lines_and_splits_the_pre_tax_price(paid_by_credits):
    payment = paid_by_credits
    assert payment.status == PaymentStatus.SUCCEEDED
    assert (payment.subtotal_cents, payment.tax_cents, payment.amount_cents) == (
        ADVICE,
        HST_ON,
        TOTAL_ON,
    )
    assert payment.tax_province == "ON"
    (line,) = TaxLine.objects.filter(payment=payment)
    assert (line.kind, line.rate_bp, line.amount_cents, line.refund_id) == (
        "HST",
        Decimal("1300.00"),
        HST_ON,
        None,
    )
    # 70/30 of 29.99 (not of 33.89): the tax is the platform's to remit, not shared.
    assert _ledger(payment) == (ADVICE, 2099, 900)


def test_not_enough_credits_for_the_price_with_tax(buyer, mechanic, hold, admin):
    credits.credits_grant(customer=buyer, amount_cents=ADVICE, note="", granted_by=admin)
    reservation = hold(buyer, mechanic)
    with pytest.raises(credits.InsufficientCredits) as refused:
        checkout.payment_with_credits(reservation_id=reservation.pk, customer=buyer, now=later(1))
    assert refused.value.data == {"balance_cents": ADVICE, "needed_cents": TOTAL_ON}


def test_the_customers_province_decides_the_lines(buyer, mechanic, hold, admin):
    CustomerProfile.objects.filter(user=buyer).update(postal_code="H2X 1Y4")
    credits.credits_grant(customer=buyer, amount_cents=10_000, note="", granted_by=admin)
    reservation = hold(buyer, mechanic)
    payment = checkout.payment_with_credits(
        reservation_id=reservation.pk, customer=buyer, now=later(1)
    )
    assert payment.tax_province == "QC"
    assert [(t.kind, t.amount_cents) for t in payment.tax_lines.all()] == [
        ("GST", 150),
        ("QST", 299),
    ]
    assert payment.amount_cents == ADVICE + 449


def test_a_rate_change_never_rewrites_a_paid_receipt(paid_by_credits, client, buyer, settings):
    settings.GST_HST_NUMBER = "123456789 RT0001"
    SalesTaxRate.objects.filter(province="ON", kind="HST").update(effective_to=date(2026, 12, 1))
    SalesTaxRate.objects.create(
        province="ON", kind="HST", rate_bp=Decimal("1500"), effective_from=date(2026, 12, 1)
    )
    line = TaxLine.objects.get(payment=paid_by_credits)
    assert (line.rate_bp, line.amount_cents) == (Decimal("1300.00"), HST_ON)
    client.force_login(buyer)
    page = client.get(f"/payments/receipts/{paid_by_credits.pk}/").content.decode()
    assert "HST 13 %" in page and "$3.90 CAD" in page and "$33.89 CAD" in page
    assert "GST/HST registration 123456789 RT0001" in page
    # ...while a new quote after the change uses the new rate.
    new = tax_quote(subtotal_cents=ADVICE, province="ON", day=date(2026, 12, 2))
    assert new.tax_cents == 450


def test_a_partial_refund_gives_tax_back_in_proportion(paid_by_credits, buyer):
    booking.session_cancel(
        session_id=paid_by_credits.session_id, user=buyer, now=SLOT - timedelta(hours=3)
    )
    refund = Refund.objects.get()
    assert refund.amount_cents == TOTAL_ON // 2 == 1694  # 50 % as credits
    # 1694 / 3389 of the 3.90 HST = 1.9494… → 1.95; the pre-tax part, 14.99, is reversed.
    assert refund.tax_cents == 195
    (back,) = TaxLine.objects.filter(refund=refund)
    assert (back.kind, back.amount_cents, back.rate_bp) == ("HST", -195, Decimal("1300.00"))
    assert _ledger(paid_by_credits) == (ADVICE - 1499, 2099 - 1049, 900 - 450)


def test_a_full_refund_nets_the_tax_and_the_split_to_zero(
    buyer, mechanic, hold, django_capture_on_commit_callbacks
):
    reservation = hold(buyer, mechanic)
    payment = checkout.payment_checkout_start(
        reservation_id=reservation.pk, customer=buyer, now=later(1)
    )
    assert payment.amount_cents == TOTAL_ON  # the card is charged the price with tax
    simulated_checkout_finish(
        checkout_id=payment.provider_checkout_id, customer=buyer, outcome="pay", now=later(2)
    )
    with django_capture_on_commit_callbacks(execute=True):
        booking.session_cancel(session_id=payment.session_id, user=buyer, now=later(10))
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED and payment.refunded_cents == TOTAL_ON
    assert sum(t.amount_cents for t in TaxLine.objects.filter(payment=payment)) == 0
    assert Refund.objects.get().tax_cents == HST_ON
    assert _ledger(payment) == (0, 0, 0)


def test_successive_partial_refunds_net_tax_to_exactly_zero(paid_by_credits):
    from django.db import transaction

    from autodoctor.payments.services.refunds import payment_lock, refund_issue

    for amount in (1000, 1000, 1389):
        with transaction.atomic():
            refund_issue(
                payment_lock(paid_by_credits.pk),
                amount_cents=amount,
                destination="credits",
                reason="test",
            )
    taxes = list(Refund.objects.order_by("pk").values_list("tax_cents", flat=True))
    assert taxes == [115, 115, 160]  # 1000/3389 × 390 = 115.08; the last takes the rest
    assert sum(t.amount_cents for t in TaxLine.objects.filter(payment=paid_by_credits)) == 0
    assert _ledger(paid_by_credits) == (0, 0, 0)


def test_stripe_is_asked_for_the_price_with_tax(stripe_on, buyer, mechanic, hold):
    reservation = hold(buyer, mechanic)
    payment = checkout.payment_checkout_start(
        reservation_id=reservation.pk, customer=buyer, now=later(1)
    )
    (call,) = stripe_on.calls("/v1/checkout/sessions")
    assert call["form"]["line_items[0][price_data][unit_amount]"] == str(TOTAL_ON)
    assert "HST 13 %" in call["form"]["line_items[0][price_data][product_data][description]"]
    assert Payment.objects.get(pk=payment.pk).amount_cents == TOTAL_ON


def test_the_checkout_page_shows_the_tax_and_registration_numbers(
    client, buyer, mechanic, hold, settings
):
    settings.GST_HST_NUMBER = "123456789 RT0001"
    settings.QST_NUMBER = "1234567890 TQ0001"
    reservation = hold(buyer, mechanic)
    client.force_login(buyer)
    page = client.get(f"/payments/checkout/{reservation.pk}/").content.decode()
    assert "Price before tax" in page and "$29.99 CAD" in page
    assert "HST 13 %" in page and "$3.90 CAD" in page
    assert "Pay $33.89 CAD by card" in page
    assert "QST registration 1234567890 TQ0001" in page
