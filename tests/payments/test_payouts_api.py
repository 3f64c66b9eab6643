# ruff: noqa: F811  (pytest fixtures imported from test_payout_runs)
"""The payout and statement API: payees read their own payout history and yearly
statement (JSON and CSV), admins every run; nobody else."""

import csv
import io

import pytest

from autodoctor.accounts.services import api_token_create
from autodoctor.payments.services.payout_runs import payout_run_start
from tests.factories import CustomerFactory

from .conftest import later
from .test_payout_runs import SHARE, _mechanic, admin, earn  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


def _get(client, user, path):
    token = api_token_create(user=user, name="test").raw
    return client.get(path, HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.fixture
def paid_run(earn, django_capture_on_commit_callbacks):
    ana, bo = _mechanic(payout_account_id="acct_ana"), _mechanic(payout_account_id="acct_bo")
    earn(ana), earn(ana, hours_ahead=2), earn(bo)
    with django_capture_on_commit_callbacks(execute=True):
        run = payout_run_start(now=later(5))
    return run, ana, bo


def test_a_payee_reads_their_own_payout_history(client, paid_run):
    run, ana, _bo = paid_run
    response = _get(client, ana.user, "/api/payouts")
    assert response.status_code == 200
    (payout,) = response.json()
    assert payout["run_id"] == run.pk and payout["payee_id"] == ana.pk
    assert (payout["amount_cents"], payout["status"]) == (2 * SHARE, "paid")
    assert payout["destination_account"] == "acct_ana"
    assert payout["transfer_id"] == f"tr_sim_payout-{run.pk}-mechanic-{ana.pk}"
    assert "acct_bo" not in response.content.decode()


def test_customers_have_no_payouts_and_no_statement(client, paid_run):
    customer = CustomerFactory().user
    assert _get(client, customer, "/api/payouts").status_code == 403
    assert _get(client, customer, "/api/statements/2026").status_code == 403


def test_only_admins_read_payout_runs(client, paid_run, admin):
    run, ana, _bo = paid_run
    assert _get(client, ana.user, "/api/payouts/runs").status_code == 403
    assert _get(client, ana.user, f"/api/payouts/runs/{run.pk}").status_code == 403
    (listed,) = _get(client, admin, "/api/payouts/runs").json()
    assert (listed["id"], listed["payouts_count"], listed["total_cents"]) == (run.pk, 2, 3 * SHARE)
    assert {p["destination_account"] for p in listed["payouts"]} == {"acct_ana", "acct_bo"}
    assert _get(client, admin, f"/api/payouts/runs/{run.pk}").json()["id"] == run.pk
    missing = _get(client, admin, f"/api/payouts/runs/{run.pk + 99}")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_a_payees_statement_in_json_and_csv(client, paid_run):
    _run, ana, bo = paid_run
    response = _get(client, ana.user, "/api/statements/2026")
    assert response.status_code == 200
    (line,) = response.json()
    assert (line["payee_id"], line["payee"], line["sessions"]) == (ana.pk, str(ana), 2)
    assert line["fees_for_services_cents"] == line["paid_out_cents"] == 2 * SHARE
    assert line["payout_account"] == "acct_ana" and line["t4a_required"] is False
    assert str(bo) not in response.content.decode()

    text = _get(client, ana.user, "/api/statements/2026?format=csv")
    assert text["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(text.content.decode())))
    assert [(r["payee_id"], r["fees_for_services_cents"]) for r in rows] == [
        (str(ana.pk), str(2 * SHARE))
    ]
    assert _get(client, ana.user, "/api/statements/2025").json() == []


def test_a_year_out_of_range_is_refused_naming_it(client, paid_run):
    _run, ana, _bo = paid_run
    response = _get(client, ana.user, "/api/statements/1800")
    assert response.status_code == 422 and response.json()["field"] == "year"


def test_admins_read_the_platform_statement(client, paid_run, admin):
    _run, ana, _bo = paid_run
    assert _get(client, ana.user, "/api/statements/2026/platform").status_code == 403
    months = _get(client, admin, "/api/statements/2026/platform").json()
    assert sum(m["fee_cents"] for m in months) > 0
