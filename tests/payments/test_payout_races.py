# ruff: noqa: F811  (pytest fixtures imported from test_payout_runs)
"""Two payout runs at once (real threads, SQLite file and PostgreSQL): one pays, the
other finds nothing left (SQLite serialises them) or is refused with 409 (PostgreSQL
refuses its second claim on a ledger row). Nobody is paid twice."""

import pytest

from autodoctor.errors import Conflict
from autodoctor.payments.models import Payout, PayoutEntry, PayoutItem, PayoutStatus
from autodoctor.payments.services.payout_runs import payout_run_start
from tests.racing import race

from .conftest import later
from .test_payout_runs import SHARE, _mechanic, admin, earn  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.race, pytest.mark.django_db(transaction=True)]

RUNS = 4


def test_runs_started_together_pay_each_payee_once(earn, clock):
    payees = [_mechanic(payout_account_id=f"acct_race_{i}") for i in range(3)]
    for mechanic in payees:
        earn(mechanic)

    outcomes = race(RUNS, lambda i: payout_run_start(now=later(5)))

    assert set(outcomes) <= {"ok", Conflict.__name__}, outcomes
    assert outcomes["ok"] >= 1
    payouts = list(Payout.objects.all())
    assert sorted(p.payee_mechanic_id for p in payouts) == sorted(m.pk for m in payees)
    assert {p.amount_cents for p in payouts} == {SHARE}
    assert len({p.run_id for p in payouts}) == 1  # one run claimed everything
    assert all(p.status == PayoutStatus.PAID for p in payouts)
    assert PayoutItem.objects.count() == PayoutEntry.objects.count() == 3
