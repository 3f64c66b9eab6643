"""Availability background jobs: fetching mechanics' external calendars."""

from django.tasks import task

from . import external


@task
def external_calendars_refresh() -> int:
    """Periodic: fetch every external calendar not fetched for
    EXTERNAL_CALENDARS_REFRESH_MINUTES (a bad feed keeps its last good copy)."""
    return external.external_calendars_refresh_due()


@task
def external_calendar_refresh(calendar_id: int) -> bool:
    """On demand ("Refresh now", a newly added calendar): fetch one calendar."""
    return external.external_calendar_refresh(calendar_id=calendar_id)


@task
def offered_refresh() -> int:
    """Periodic: rebuild the offered pieces of mechanics whose hours changed, and move the
    materialized range forward once a day (``availability.offered``)."""
    from django.utils import timezone

    from . import offered

    return offered.refresh_due(timezone.now())
