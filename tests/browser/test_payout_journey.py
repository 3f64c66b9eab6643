"""A mechanic sees their payout after a run (issue 18), in chromium: an admin starts a
payout run from the runs page; the mechanic's Earnings page then lists the transfer
(run, account, amount, Paid, the transfer id) and another mechanic's is not there.

Real clock and live server; the simulated provider makes the transfers offline."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from autodoctor.accounts.models import Role
from autodoctor.payments.models import Payout
from tests.factories import CustomerFactory, MechanicFactory, UserFactory, weekly_hours

from .helpers import book, first_slot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def simulated_payments(settings):
    settings.STRIPE_SECRET_KEY = ""
    settings.STRIPE_WEBHOOK_SECRET = ""
    settings.SIMULATED_PAYMENTS_ALLOWED = True
    settings.SIMULATED_PAYMENTS_SECRET = "browser-test-secret"


def test_a_mechanic_sees_their_payout_after_a_run(open_page):
    now = timezone.now()
    ada = MechanicFactory(user__full_name="Ada Payee", payout_account_id="acct_ada_browser")
    bo = MechanicFactory(user__full_name="Bo Other", payout_account_id="acct_bo_browser")
    for mechanic in (ada, bo):
        weekly_hours(mechanic, days=range(7), start=0, end=24 * 60)
        start = first_slot(mechanic, after=now + timedelta(days=1), minutes=15, now=now)
        book(CustomerFactory().user, mechanic, start=start, plan="advice", now=now)

    admin = UserFactory(role=Role.ADMIN, is_staff=True, is_superuser=True)
    page = open_page(admin)
    page.goto("/payments/payouts/runs/")
    page.get_by_role("button", name="Start a payout run now").click()
    expect(page.locator(".flash-success")).to_contain_text("2 transfer(s)")

    payout = Payout.objects.get(payee_mechanic=ada)
    assert payout.status == "paid"
    mechanic_page = open_page(ada.user)
    mechanic_page.goto("/payments/earnings/")
    payouts = mechanic_page.locator("#payouts")
    row = payouts.locator("tr", has_text=f"#{payout.run_id}")
    expect(row).to_contain_text("acct_ada_browser")
    expect(row).to_contain_text(payout.amount_label)
    expect(row).to_contain_text("Paid")
    expect(row).to_contain_text(payout.transfer_id)
    expect(payouts).not_to_contain_text("acct_bo_browser")
