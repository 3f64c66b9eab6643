"""Booking background jobs."""

from django.tasks import task

from . import attachments, lifecycle, services


@task
def holds_expire() -> int:
    """Periodic tidy-up: mark holds past their expiry as expired. Booking never waits for
    it (an expired hold is ignored by every reader and expired lazily by the next booking
    that needs its time); this keeps the table and the customer's page honest."""
    return services.holds_expire_all()


@task
def sessions_untaken_expire() -> int:
    """Periodic: close (and so refund) paid start-now requests nobody accepted in time."""
    return services.sessions_untaken_expire()


@task
def sessions_unpaid_expire() -> int:
    """Periodic tidy-up: cancel "start now" sessions nobody paid for (never offered)."""
    return services.sessions_unpaid_expire()


@task
def requests_unanswered_expire() -> int:
    """Periodic: close (and so refund) booking requests their mechanic did not answer by
    the deadline (BOOKING_REQUEST_RESPONSE_HOURS / BOOKING_REQUEST_CUTOFF_HOURS)."""
    return services.requests_unanswered_expire()


@task
def sessions_advance() -> dict[str, int]:
    """Periodic: sessions move on the clock: both joined → live, past their end plus
    SESSION_END_GRACE_MINUTES → completed, never started → no-show (booking/lifecycle.py)."""
    return lifecycle.sessions_advance()


@task
def waitlist_offer(mechanic_id: int | None = None) -> int:
    """After a booking change freed a mechanic's time: offer it to the waitlist."""
    from .waitlist import waitlist_offer_next

    return waitlist_offer_next(mechanic_id=mechanic_id)


@task
def waitlist_sweep() -> dict[str, int]:
    """Periodic: end entries past their range, lapse untaken claims, offer free time
    (including new hours, which announce nothing) to whoever waits."""
    from .waitlist import waitlist_sweep as sweep

    return sweep()


@task
def intake_uploads_sweep() -> int:
    """Periodic: delete intake photos and video no session claimed within
    INTAKE_PENDING_HOURS (a booking wizard left half-way)."""
    return attachments.attachments_pending_sweep()
