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
