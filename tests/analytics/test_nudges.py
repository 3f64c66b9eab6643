"""The opt-in weekly "review your hours" email (analytics.nudges), with frozen time.

Every mechanic below works Mon–Fri 09:00–17:00 UTC (40 h = 2,400 min a week, 9,600
min over the 4 stale weeks); "low" utilization is below 20 % = 1,920 min booked."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from autodoctor.analytics.nudges import dedupe_key, hours_review_nudges_enqueue
from autodoctor.availability.models import WeeklyBlock
from autodoctor.notifications.models import Notification, NotificationPreference, OutboxMessage
from tests.factories import MechanicFactory, WorkshopFactory, weekly_hours

from .conftest import booking

pytestmark = pytest.mark.django_db

# Wednesday 2031-03-12 12:00 UTC (ISO week 11); the hours were written 5 weeks before.
NOW = datetime(2031, 3, 12, 12, 0, tzinfo=UTC)
WRITTEN = NOW - timedelta(weeks=5)


def mechanic(name, *, opted_in=True, written=WRITTEN, **extra):
    with time_machine.travel(written, tick=False):
        profile = MechanicFactory(user__full_name=name, **extra)
        weekly_hours(profile, days=range(1, 6), start=9 * 60, end=17 * 60)
    NotificationPreference.objects.create(user=profile.user, hours_review_weekly=opted_in)
    return profile


def run(at=NOW) -> int:
    with time_machine.travel(at, tick=False):
        return hours_review_nudges_enqueue(now=at)


def recipients() -> set[str]:
    return set(
        Notification.objects.filter(kind="hours_review").values_list(
            "recipient__full_name", flat=True
        )
    )


def test_stale_hours_and_low_use_get_one_email_a_week(settings):
    assert settings.HOURS_REVIEW_STALE_WEEKS == 4
    quiet = mechanic("Quiet Stale")
    booking(quiet, created=NOW - timedelta(days=9), scheduled_for=NOW - timedelta(days=8))
    busy = mechanic("Busy Stale")
    # 2,000 of 9,600 offered minutes booked: 20.8 % — not low.
    for day in range(1, 21):
        at = NOW - timedelta(days=day, hours=-1)
        booking(busy, created=at - timedelta(days=1), scheduled_for=at, minutes=100)
    mechanic("Fresh Hours", written=NOW - timedelta(weeks=3))
    mechanic("Not Opted In", opted_in=False)
    shop = WorkshopFactory()
    mechanic("Shop Hours", workshop=shop, account_type="workshop_mechanic")
    MechanicFactory(user__full_name="No Preference Row")

    assert run() == 1
    assert recipients() == {"Quiet Stale"}
    note = Notification.objects.get(kind="hours_review")
    assert note.dedupe_key == dedupe_key(quiet.pk, NOW) == f"hours_review:{quiet.pk}:2031-W11"
    assert note.context["booked_percent"] == 0  # 30 of 9,600 minutes
    assert OutboxMessage.objects.filter(notification=note, channel="email").count() == 1

    # The hourly job runs again the same week: nothing new, also on Sunday night.
    assert run(NOW + timedelta(hours=1)) == 0
    assert run(datetime(2031, 3, 16, 23, 59, tzinfo=UTC)) == 0
    # Next ISO week (Monday 17 March): one more.
    assert run(datetime(2031, 3, 17, 0, 1, tzinfo=UTC)) == 1
    assert Notification.objects.filter(kind="hours_review").count() == 2


def test_editing_the_hours_stops_the_email(settings):
    quiet = mechanic("Quiet Stale")
    WeeklyBlock.objects.filter(mechanic=quiet).update(created_at=NOW - timedelta(days=10))
    assert run() == 0
    settings.HOURS_REVIEW_STALE_WEEKS = 1  # the setting decides what "stale" means
    assert run() == 1


def test_no_hours_at_all_is_no_email():
    profile = MechanicFactory(user__full_name="No Hours")
    NotificationPreference.objects.create(user=profile.user, hours_review_weekly=True)
    assert run() == 0


def test_the_flag_is_off_by_default():
    assert NotificationPreference().hours_review_weekly is False
