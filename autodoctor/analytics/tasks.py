"""Analytics background jobs."""

from django.tasks import task
from django.utils import timezone

from . import nudges


@task
def hours_review_nudges() -> int:
    """Periodic (hourly; each mechanic is emailed at most once per ISO week): the opt-in
    "review your hours" email (analytics.nudges)."""
    return nudges.hours_review_nudges_enqueue(now=timezone.now())
