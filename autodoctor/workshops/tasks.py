"""Workshop background jobs."""

from django.tasks import task

from . import services


@task
def visits_expire() -> int:
    """Periodic: requests and offered times nobody answered in time lapse and the
    customer is told. Booking never waits for it (a lapsed visit holds no bay)."""
    return services.visits_expire()
