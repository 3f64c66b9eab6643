"""Payout runs: each payee's unpaid net earnings in one transfer per run (simulated
provider offline, Stripe Connect `Transfer` mocked), claimed in the run's transaction,
never paid twice — not by a second run, not by a retry, not by two runs at once."""

from datetime import timedelta
from unittest import mock

import pytest
import stripe
from django.db import transaction

from autodoctor.booking import services as booking
from autodoctor.payments.models import Payout, PayoutEntry, PayoutItem, PayoutRun, PayoutStatus
from autodoctor.payments.services import checkout, credits
from autodoctor.payments.services.payout_runs import (
    payout_run_if_due,
    payout_run_start,
    payout_send,
    payouts_send_unpaid,
)
from tests.factories import (
    CustomerFactory,
    MechanicFactory,
    UserFactory,
    VehicleFactory,
    weekly_hours,
    workshop_hours,
)

from .conftest import NOW, SLOT, later

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]

ADVICE = 2999
SHARE = 2099  # 70 % of 29.99, rounded half up


@pytest.fixture
def admin(db):
    return UserFactory(role="admin", is_staff=True, is_superuser=True)


@pytest.fixture
def earn(hold, admin):
    """A new customer books `mechanic` (advice plan, credits); returns the payment."""

    def _earn(mechanic, *, hours_ahead: int = 0):
        buyer = CustomerFactory()
        VehicleFactory(customer=buyer)
        # Enough for the price with tax, for tests that run with the tax rates.
        credits.credits_grant(
            customer=buyer.user, amount_cents=2 * ADVICE, note="", granted_by=admin
        )
        reservation = hold(buyer.user, mechanic, start=SLOT + timedelta(hours=hours_ahead))
        return checkout.payment_with_credits(
            reservation_id=reservation.pk, customer=buyer.user, now=later(1)
        )

    return _earn


def _mechanic(**kwargs):
    mechanic = MechanicFactory(**kwargs)
    weekly_hours(mechanic)
    if mechanic.workshop:
        workshop_hours(mechanic.workshop)
    return mechanic


def _sent(run):
    return {p.payee_key: (p.amount_cents, p.status) for p in run.payouts.all()}


def test_a_run_pays_each_payee_their_net_once(earn, django_capture_on_commit_callbacks):
    ana, bo = _mechanic(payout_account_id="acct_ana"), _mechanic(payout_account_id="acct_bo")
    shop_mechanic = _mechanic(affiliated=True)
    shop_mechanic.workshop.payout_account_id = "acct_shop"
    shop_mechanic.workshop.save()
    earn(ana), earn(ana, hours_ahead=2), earn(bo), earn(shop_mechanic)

    with django_capture_on_commit_callbacks(execute=True):
        run = payout_run_start(now=later(5))

    assert (run.payouts_count, run.total_cents) == (3, 4 * SHARE)
    assert _sent(run) == {
        f"mechanic-{ana.pk}": (2 * SHARE, PayoutStatus.PAID),
        f"mechanic-{bo.pk}": (SHARE, PayoutStatus.PAID),
        f"workshop-{shop_mechanic.workshop_id}": (SHARE, PayoutStatus.PAID),
    }
    ana_payout = run.payouts.get(payee_mechanic=ana)
    assert ana_payout.destination_account == "acct_ana"
    assert ana_payout.transfer_id == f"tr_sim_payout-{run.pk}-mechanic-{ana.pk}"
    assert ana_payout.items.count() == 2
    assert PayoutEntry.objects.filter(payout_item__isnull=True).count() == 0


def test_a_run_done_twice_pays_nothing_twice(earn, django_capture_on_commit_callbacks):
    ana = _mechanic(payout_account_id="acct_ana")
    earn(ana)
    with django_capture_on_commit_callbacks(execute=True):
        first = payout_run_start(now=later(5))
    with django_capture_on_commit_callbacks(execute=True):
        second = payout_run_start(now=later(6))
    assert first.payouts_count == 1 and second.payouts_count == 0
    # Sending an already-paid payout again does not call the provider.
    payout = first.payouts.get()
    with mock.patch(
        "autodoctor.payments.providers.simulated.SimulatedProvider.transfer_create"
    ) as t:
        assert payout_send(payout.pk).status == PayoutStatus.PAID
    t.assert_not_called()
    assert Payout.objects.count() == 1 and PayoutItem.objects.count() == 1


def test_new_earnings_after_a_run_go_in_the_next_one(earn, django_capture_on_commit_callbacks):
    ana = _mechanic(payout_account_id="acct_ana")
    earn(ana)
    with django_capture_on_commit_callbacks(execute=True):
        payout_run_start(now=later(5))
    earn(ana, hours_ahead=2)
    with django_capture_on_commit_callbacks(execute=True):
        second = payout_run_start(now=later(10))
    assert _sent(second) == {f"mechanic-{ana.pk}": (SHARE, PayoutStatus.PAID)}


def test_a_refund_after_a_payout_is_netted_in_the_next_run(
    earn, django_capture_on_commit_callbacks
):
    ana = _mechanic(payout_account_id="acct_ana")
    paid = earn(ana)
    with django_capture_on_commit_callbacks(execute=True):
        payout_run_start(now=later(5))
    # The mechanic cancels: a full reversal (-2099) is written after the payout.
    booking.session_cancel(session_id=paid.session_id, user=ana.user, reason="Sick", now=later(8))
    with django_capture_on_commit_callbacks(execute=True):
        owing = payout_run_start(now=later(9))
    assert owing.payouts_count == 0  # nets to less than zero: nothing sent, carried on
    earn(ana, hours_ahead=2)
    earn(ana, hours_ahead=4)
    with django_capture_on_commit_callbacks(execute=True):
        later_run = payout_run_start(now=later(12))
    assert _sent(later_run) == {f"mechanic-{ana.pk}": (SHARE, PayoutStatus.PAID)}
    assert later_run.payouts.get().items.count() == 3  # the reversal and two earnings


def test_a_payee_without_a_payout_account_waits(earn, django_capture_on_commit_callbacks):
    ana = _mechanic(payout_account_id="")
    earn(ana)
    with django_capture_on_commit_callbacks(execute=True):
        assert payout_run_start(now=later(5)).payouts_count == 0
    ana.payout_account_id = "acct_ana_new"
    ana.save()
    with django_capture_on_commit_callbacks(execute=True):
        run = payout_run_start(now=later(6))
    assert run.payouts.get().destination_account == "acct_ana_new"


def test_stripe_connect_transfers_with_a_key_per_run_and_payee(
    stripe_on, earn, django_capture_on_commit_callbacks
):
    ana = _mechanic(payout_account_id="acct_ana")
    earn(ana)
    transfer = mock.Mock(id="tr_1Test")
    with (
        mock.patch.object(stripe.Transfer, "create", return_value=transfer) as create,
        django_capture_on_commit_callbacks(execute=True),
    ):
        run = payout_run_start(now=later(5))
    create.assert_called_once()
    kwargs = create.call_args.kwargs
    assert kwargs["amount"] == SHARE and kwargs["currency"] == "cad"
    assert kwargs["destination"] == "acct_ana"
    assert kwargs["idempotency_key"] == f"payout-{run.pk}-mechanic-{ana.pk}"
    assert kwargs["api_key"] == "sk_test_not_a_real_key"
    payout = run.payouts.get()
    assert (payout.status, payout.transfer_id, payout.provider) == ("paid", "tr_1Test", "stripe")


def test_a_failed_transfer_is_retried_with_the_same_key(
    stripe_on, earn, django_capture_on_commit_callbacks
):
    ana = _mechanic(payout_account_id="acct_ana")
    earn(ana)
    down = stripe.APIConnectionError("Stripe is down (test)")
    with (
        mock.patch.object(stripe.Transfer, "create", side_effect=down),
        django_capture_on_commit_callbacks(execute=True),
    ):
        run = payout_run_start(now=later(5))
    payout = run.payouts.get()
    assert payout.status == PayoutStatus.FAILED and "not accepted" in payout.failure_message
    assert payout.attempts == 1
    # The item stays claimed: the next run does not pay it again.
    assert payout_run_start(now=later(6)).payouts_count == 0

    with mock.patch.object(stripe.Transfer, "create", return_value=mock.Mock(id="tr_2")) as create:
        assert payouts_send_unpaid(now=later(7)) == 1
    assert create.call_args.kwargs["idempotency_key"] == payout.idempotency_key
    payout.refresh_from_db()
    assert (payout.status, payout.transfer_id, payout.attempts) == ("paid", "tr_2", 2)
    assert payouts_send_unpaid(now=later(8)) == 0


def test_runs_are_weekly_by_default(earn, settings, django_capture_on_commit_callbacks):
    assert settings.PAYOUT_INTERVAL_DAYS == 7
    with django_capture_on_commit_callbacks(execute=True):
        first = payout_run_if_due(now=NOW)
    assert first is not None
    assert payout_run_if_due(now=NOW + timedelta(days=6, hours=23)) is None
    assert payout_run_if_due(now=NOW + timedelta(days=8)) is not None
    assert PayoutRun.objects.count() == 2


def test_payouts_cannot_claim_a_row_twice(earn):
    ana = _mechanic(payout_account_id="acct_ana")
    earn(ana)
    run = payout_run_start(now=later(5))
    from django.db import IntegrityError

    other = Payout.objects.create(
        run=run,
        payee_kind="mechanic",
        payee_mechanic=ana,
        destination_account="acct_ana",
        amount_cents=1,
        provider="simulated",
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        PayoutItem.objects.create(payout=other, entry=PayoutEntry.objects.get())


def test_payees_see_their_payouts_and_admins_each_run(
    client, earn, admin, django_capture_on_commit_callbacks
):
    ana, bo = _mechanic(payout_account_id="acct_ana"), _mechanic(payout_account_id="acct_bo")
    earn(ana), earn(bo)
    with django_capture_on_commit_callbacks(execute=True):
        run = payout_run_start(now=later(5))
    client.force_login(ana.user)
    page = client.get("/payments/earnings/").content.decode()
    assert "Payouts" in page and f"payout-{run.pk}-mechanic-{ana.pk}" in page
    assert "acct_ana" in page and "acct_bo" not in page  # only their own
    assert client.get("/payments/payouts/runs/").status_code == 403

    client.force_login(admin)
    page = client.get("/payments/payouts/runs/").content.decode()
    assert f"Run #{run.pk}" in page and "acct_ana" in page and "acct_bo" in page
    earn(ana, hours_ahead=2)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/payments/payouts/runs/start/")
    assert response.status_code == 302
    assert PayoutRun.objects.latest("created_at").payouts_count == 1


def test_admins_see_failing_transfers(
    stripe_on, client, earn, admin, django_capture_on_commit_callbacks
):
    ana = _mechanic(payout_account_id="acct_ana")
    earn(ana)
    with (
        mock.patch.object(stripe.Transfer, "create", side_effect=stripe.APIConnectionError("down")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        payout_run_start(now=later(5))
    client.force_login(admin)
    page = client.get("/payments/payouts/runs/").content.decode()
    assert "Failing transfers" in page and "not accepted" in page
    assert client.get("/admin/payments/payout/").status_code == 200
    assert client.get("/admin/payments/payoutrun/").status_code == 200
