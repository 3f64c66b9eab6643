"""The opt-in weekly "review your hours" email (plan §13.3), a mechanic's own reminder.

Sent, at most once per ISO week (the dedupe key), to a mechanic who
- turned on `NotificationPreference.hours_review_weekly` (off by default),
- manages their own hours (not workshop-affiliated: their workshop's hours apply),
- has weekly hours that did not change for HOURS_REVIEW_STALE_WEEKS weeks (the newest
  WeeklyBlock's `created_at`: every edit rewrites the week), and
- had utilization below HOURS_REVIEW_LOW_UTILIZATION over those weeks (booked ÷ offered
  minutes, as metrics.utilization; no offered minutes → no email).
Informational only (plan §5.3): nothing is ranked, nothing changes unless they edit.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max

from autodoctor.accounts.mechanic_types import MechanicType, mechanic_type_expression
from autodoctor.accounts.models import MechanicProfile

from .metrics import MECHANIC, Period, Scope, utilization


def dedupe_key(mechanic_id: int, now: datetime) -> str:
    year, week, _ = now.isocalendar()
    return f"hours_review:{mechanic_id}:{year}-W{week:02d}"


def hours_review_nudges_enqueue(*, now: datetime) -> int:
    """Queue this week's emails; returns how many were queued (0 on a second run)."""
    from autodoctor.notifications.services import notification_create

    weeks = settings.HOURS_REVIEW_STALE_WEEKS
    since = now - timedelta(weeks=weeks)
    candidates = list(
        MechanicProfile.objects.filter(user__notification_preference__hours_review_weekly=True)
        .annotate(kind=mechanic_type_expression(), last_edit=Max("weekly_blocks__created_at"))
        .exclude(kind=MechanicType.WORKSHOP_AFFILIATED)
        .filter(last_edit__lt=since)
        .select_related("user")
    )
    period = Period(since, now)
    queued = 0
    for mechanic in candidates:  # opted-in, stale ones only: a handful
        ratio = utilization(period, Scope(MECHANIC, mechanic.pk), now=now)["ratio"]
        if ratio is None or ratio >= settings.HOURS_REVIEW_LOW_UTILIZATION:
            continue
        with transaction.atomic(durable=True):
            created = notification_create(
                recipient=mechanic.user,
                kind="hours_review",
                session=None,
                context={
                    "weeks": weeks,
                    "booked_percent": round(ratio * 100),
                    "account_link": {"purpose": "hours"},
                },
                dedupe_key=dedupe_key(mechanic.pk, now),
                now=now,
            )
        queued += created is not None
    return queued
