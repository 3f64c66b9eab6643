"""Background jobs of the payments app (registered in PaymentsConfig.ready with
autodoctor.periodic). Both are idempotent: running them twice does nothing twice."""

from django.tasks import task


@task
def refunds_retry() -> int:
    """Send card refunds the provider has not accepted yet (it was down, say)."""
    from .services.refunds import refunds_send_pending

    return refunds_send_pending()


@task
def checkouts_close_retry() -> int:
    """Close checkouts a cancel could not close at once (the provider was unreachable)."""
    from .services.checkout import checkouts_close_stranded

    return checkouts_close_stranded()


@task
def simulated_checkouts_expire() -> int:
    """The simulated provider's side of Stripe's `checkout.session.expired`."""
    from .providers import simulated_allowed
    from .services.simulated import simulated_checkouts_expire as expire

    return expire() if simulated_allowed() else 0


@task
def payouts_run() -> int:
    """Start a payout run when the last one is PAYOUT_INTERVAL_DAYS old (weekly)."""
    from .services.payout_runs import payout_run_if_due

    run = payout_run_if_due()
    return run.payouts_count if run else 0


@task
def payouts_retry() -> int:
    """Send payouts whose transfer failed or never went out (same idempotency key)."""
    from .services.payout_runs import payouts_send_unpaid

    return payouts_send_unpaid()
