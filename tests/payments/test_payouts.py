"""Payout routing (plan §2.4) and the earnings report: virtual-only and independent
mechanics are paid 70 % directly, a workshop-affiliated mechanic's share goes to the
workshop; the ledger is immutable; each payee sees only their own earnings."""

import csv
import io

import pytest

from autodoctor.payments.models import ImmutableRecord, PayeeKind, PayoutEntry
from autodoctor.payments.policy import payout_split, reversal_split
from autodoctor.payments.services import checkout, credits
from tests.factories import (
    MechanicFactory,
    UserFactory,
    WorkshopFactory,
    weekly_hours,
    workshop_hours,
)

from .conftest import later

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]

PREMIUM = 4999


@pytest.fixture
def admin(db):
    return UserFactory(role="admin", is_staff=True, is_superuser=True)


@pytest.fixture
def pay(buyer, hold, admin, customer_limits_lifted):
    """Book `mechanic` on the premium plan, paid with credits; returns the payment.
    (One buyer books several mechanics at the same time: the one-active-session rule
    is lifted.)"""

    def _pay(mechanic):
        credits.credits_grant(customer=buyer, amount_cents=PREMIUM, note="", granted_by=admin)
        reservation = hold(buyer, mechanic, plan="premium")
        return checkout.payment_with_credits(
            reservation_id=reservation.pk, customer=buyer, now=later(1)
        )

    return _pay


def _with_hours(mechanic):
    weekly_hours(mechanic)
    if mechanic.workshop:
        workshop_hours(mechanic.workshop)
    return mechanic


def test_virtual_only_mechanic_is_paid_70_percent_directly(pay):
    mechanic = _with_hours(MechanicFactory(payout_account_id="acct_virtual"))
    entry = PayoutEntry.objects.get(payment=pay(mechanic))
    assert entry.mechanic_type == "virtual_only"
    assert (entry.payee_kind, entry.payee_mechanic, entry.payee_workshop) == (
        PayeeKind.MECHANIC,
        mechanic,
        None,
    )
    assert entry.destination_account == "acct_virtual"
    assert (entry.gross_cents, entry.payee_cents, entry.platform_cents) == (4999, 3499, 1500)


def test_independent_workshop_owner_is_paid_directly(pay):
    mechanic = _with_hours(MechanicFactory(independent=True, payout_account_id="acct_owner"))
    entry = PayoutEntry.objects.get(payment=pay(mechanic))
    assert entry.mechanic_type == "independent_workshop"
    assert entry.payee_kind == PayeeKind.MECHANIC and entry.destination_account == "acct_owner"
    assert entry.payee_cents == 3499


def test_workshop_affiliated_mechanic_is_paid_through_the_workshop(pay):
    shop = WorkshopFactory(payout_account_id="acct_shop")
    mechanic = _with_hours(
        MechanicFactory(affiliated=True, workshop=shop, payout_account_id="acct_personal")
    )
    entry = PayoutEntry.objects.get(payment=pay(mechanic))
    assert entry.mechanic_type == "workshop_affiliated"
    assert (entry.payee_kind, entry.payee_workshop, entry.payee_mechanic) == (
        PayeeKind.WORKSHOP,
        shop,
        None,
    )
    assert entry.destination_account == "acct_shop"  # never the mechanic's own account
    assert entry.mechanic == mechanic


def test_shares_always_add_up():
    for gross in (1, 99, 1499, 2999, 4999, 10001):
        split = payout_split(gross, "virtual_only")
        assert split.payee_cents + split.platform_cents == gross
        half = reversal_split(
            gross // 2, earned=split, refunded_before_cents=0, reversed_payee_cents=0
        )
        rest = reversal_split(
            gross - gross // 2,
            earned=split,
            refunded_before_cents=gross // 2,
            reversed_payee_cents=-half.payee_cents,
        )
        assert half.payee_cents + rest.payee_cents == -split.payee_cents  # nets to zero exactly


def test_payout_entries_cannot_be_changed_or_deleted(pay, mechanic):
    entry = PayoutEntry.objects.get(payment=pay(mechanic))
    entry.payee_cents = 1
    with pytest.raises(ImmutableRecord):
        entry.save()
    with pytest.raises(ImmutableRecord):
        entry.delete()
    with pytest.raises(ImmutableRecord):
        PayoutEntry.objects.filter(pk=entry.pk).update(payee_cents=1)
    with pytest.raises(ImmutableRecord):
        PayoutEntry.objects.all().delete()


def test_the_admin_shows_the_ledger_read_only(login, admin, pay, mechanic):
    entry = PayoutEntry.objects.get(payment=pay(mechanic))
    client = login(admin)
    assert client.get("/admin/payments/payoutentry/").status_code == 200
    page = client.get(f"/admin/payments/payoutentry/{entry.pk}/change/")
    assert page.status_code == 200 and 'name="payee_cents"' not in page.content.decode()
    assert (
        client.post(f"/admin/payments/payoutentry/{entry.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert PayoutEntry.objects.filter(pk=entry.pk).exists()


@pytest.mark.parametrize(
    "url",
    [
        "/admin/payments/payment/",
        "/admin/payments/refund/",
        "/admin/payments/creditaccount/",
        "/admin/payments/creditentry/",
        "/admin/payments/waiver/",
        "/admin/payments/webhookevent/",
    ],
)
def test_payment_admin_pages_load(login, admin, pay, mechanic, url):
    pay(mechanic)
    assert login(admin).get(url).status_code == 200


@pytest.fixture
def three_payees(pay):
    virtual = _with_hours(MechanicFactory())
    shop = WorkshopFactory()
    affiliated = _with_hours(MechanicFactory(affiliated=True, workshop=shop))
    other = _with_hours(MechanicFactory())
    pay(virtual)
    pay(affiliated)
    return virtual, shop, affiliated, other


def test_mechanics_see_only_their_own_earnings(login, three_payees, time_machine):
    time_machine.move_to(later(60), tick=False)
    virtual, _shop, affiliated, other = three_payees
    page = login(virtual.user).get("/payments/earnings/?start=2026-11-01&end=2026-11-30")
    assert page.status_code == 200
    assert page.context["report"].totals == {"gross": 4999, "payee": 3499, "platform": 1500}
    assert len(page.context["report"].entries) == 1
    assert "$34.99 CAD" in page.content.decode()
    # the affiliated mechanic's session is payable to the workshop, not to them
    assert (
        login(affiliated.user).get("/payments/earnings/?start=2026-11-01").context["report"].entries
        == []
    )
    assert login(other.user).get("/api/earnings?start=2026-11-01").json()["entries"] == []


def test_the_workshop_sees_its_mechanics_earnings(login, three_payees, time_machine):
    time_machine.move_to(later(60), tick=False)
    _virtual, shop, affiliated, _other = three_payees
    body = login(shop.owner).get("/api/earnings?start=2026-11-01&end=2026-11-30").json()
    assert body["payees"] == [shop.name]
    assert [(e["mechanic_id"], e["payee_kind"], e["payee_cents"]) for e in body["entries"]] == [
        (affiliated.pk, "workshop", 3499)
    ]
    assert (
        WorkshopFactory().owner
        and login(WorkshopFactory().owner).get("/api/earnings").json()["entries"] == []
    )


def test_an_affiliated_mechanic_sees_what_their_sessions_paid_to_the_workshop(
    login, three_payees, time_machine
):
    time_machine.move_to(later(60), tick=False)
    _virtual, shop, affiliated, other = three_payees
    page = login(affiliated.user).get("/payments/earnings/?start=2026-11-01&end=2026-11-30")
    report = page.context["report"]
    assert report.entries == [] and report.paid_to_workshop_cents == 3499  # payable: the shop's
    text = page.content.decode()
    assert f"$34.99 CAD</strong>, paid to {shop.name}" in text
    assert f"$34.99 CAD paid to {shop.name}" in text
    assert login(other.user).get("/payments/earnings/").context["report"].paid_to_workshop == []


def test_customers_have_no_earnings(login, buyer):
    assert login(buyer).get("/payments/earnings/").status_code == 403
    assert login(buyer).get("/api/earnings").status_code == 403


def test_the_earnings_csv_page_and_api(login, three_payees, admin, time_machine):
    time_machine.move_to(later(60), tick=False)
    virtual, *_ = three_payees
    response = login(virtual.user).get(
        "/payments/earnings/?start=2026-11-01&end=2026-11-30&format=csv"
    )
    assert response["Content-Type"] == "text/csv"
    assert 'filename="earnings-2026-11-01-2026-11-30.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["kind"], r["payee_cents"], r["platform_cents"], r["plan"]) for r in rows] == [
        ("earning", "3499", "1500", "premium")
    ]
    assert rows[0]["created_at"].endswith("-05:00")  # the viewer's zone (Toronto, EST)
    api = login(admin).get("/api/earnings?start=2026-11-01&end=2026-11-30&format=csv")
    assert len(list(csv.DictReader(io.StringIO(api.content.decode())))) == 2  # admins see all


def test_the_period_must_make_sense(login, three_payees):
    virtual, *_ = three_payees
    response = login(virtual.user).get("/api/earnings?start=2026-12-01&end=2026-11-01")
    assert response.status_code == 422 and response.json()["field"] == "end"


def test_a_period_outside_the_entries_is_empty(login, three_payees):
    virtual, *_ = three_payees
    body = login(virtual.user).get("/api/earnings?start=2026-10-01&end=2026-10-31").json()
    assert body["entries"] == [] and body["payee_cents"] == 0
