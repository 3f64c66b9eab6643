# ruff: noqa: F811  (pytest fixtures imported from test_payout_runs)
"""Yearly earnings statements (T4A/T5018-style totals, page and CSV) and the admin's
platform fee and sales tax per month."""

import csv
import io

import pytest

from autodoctor.booking import services as booking
from autodoctor.errors import InvalidInput
from autodoctor.payments import selectors
from autodoctor.payments.services.payout_runs import payout_run_start

from .conftest import later
from .test_payout_runs import SHARE, _mechanic, admin, earn  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock"), pytest.mark.sales_tax]

ADVICE = 2999
HST = 390


def test_a_payees_year(earn, django_capture_on_commit_callbacks, client):
    ana = _mechanic(payout_account_id="acct_ana")
    bo = _mechanic(payout_account_id="acct_bo")
    earn(ana), earn(bo)
    cancelled = earn(ana, hours_ahead=2)
    booking.session_cancel(
        session_id=cancelled.session_id, user=ana.user, reason="Sick", now=later(3)
    )
    with django_capture_on_commit_callbacks(execute=True):
        payout_run_start(now=later(5))

    (mine,) = selectors.earnings_statements(ana.user, year=2026)
    assert (mine.sessions, mine.gross_cents, mine.earned_cents) == (2, ADVICE, SHARE)
    assert mine.platform_cents == ADVICE - SHARE and mine.reversed_cents == -SHARE
    assert mine.paid_out_cents == SHARE and mine.account == "acct_ana"
    assert not mine.slip_required  # $20.99 is under the $500 T4A threshold
    assert selectors.earnings_statements(ana.user, year=2025) == []

    client.force_login(ana.user)
    page = client.get("/payments/statements/2026/").content.decode()
    assert "Fees for services (T4A box 048)" in page and "$20.99 CAD" in page
    assert str(bo) not in page
    rows = list(
        csv.DictReader(
            io.StringIO(client.get("/payments/statements/2026/?format=csv").content.decode())
        )
    )
    assert [(r["payee_id"], r["fees_for_services_cents"], r["paid_out_cents"]) for r in rows] == [
        (str(ana.pk), str(SHARE), str(SHARE))
    ]


def test_the_slip_threshold_is_over_500_dollars():
    line = selectors.PayeeYear("mechanic", 1, "A", "", "", 1, 0, 0, 50_000, 0, 0)
    assert not line.slip_required
    assert selectors.PayeeYear("mechanic", 1, "A", "", "", 1, 0, 0, 50_001, 0, 0).slip_required


def test_a_year_out_of_range_is_refused(admin):
    with pytest.raises(InvalidInput):
        selectors.earnings_statements(admin, year=1999)


def test_admins_see_every_payee_and_the_platform_fee_and_tax_per_month(
    earn,
    admin,
    client,
):
    ana, bo = _mechanic(payout_account_id="acct_ana"), _mechanic(payout_account_id="acct_bo")
    earn(ana), earn(bo)
    assert len(selectors.earnings_statements(admin, year=2026)) == 2
    months = selectors.platform_statement(admin, year=2026)
    november = months[10]
    assert november.fee_cents == 2 * (ADVICE - SHARE)
    assert november.tax_cents == {"HST": 2 * HST}
    assert sum(m.fee_cents for m in months) == november.fee_cents

    client.force_login(admin)
    page = client.get("/payments/statements/2026/platform/").content.decode()
    assert "November 2026" in page and "$7.80 CAD" in page and "$18.00 CAD" in page
    client.force_login(ana.user)
    assert client.get("/payments/statements/2026/platform/").status_code == 403
