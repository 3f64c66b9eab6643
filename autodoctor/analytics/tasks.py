"""Analytics background jobs."""

from django.tasks import task
from django.utils import timezone

from . import facts, nudges


@task
def hours_review_nudges() -> int:
    """Periodic (hourly; each mechanic is emailed at most once per ISO week): the opt-in
    "review your hours" email (analytics.nudges)."""
    return nudges.hours_review_nudges_enqueue(now=timezone.now())


@task
def facts_refresh() -> int:
    """Periodic (every minute): recompute the session facts of the sessions written since
    the last refresh (analytics.facts), so the dashboard's own refresh finds little."""
    return facts.facts_refresh()
