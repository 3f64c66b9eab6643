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
