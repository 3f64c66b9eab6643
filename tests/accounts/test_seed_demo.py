import pytest
from django.core.management import call_command

from autodoctor.accounts.mechanic_types import MechanicType, mechanic_type
from autodoctor.accounts.models import MechanicProfile, User, Workshop
from autodoctor.availability.models import WeeklyBlock

pytestmark = pytest.mark.django_db


def counts() -> tuple[int, int, int, int]:
    return (
        User.objects.count(),
        MechanicProfile.objects.count(),
        Workshop.objects.count(),
        WeeklyBlock.objects.count(),
    )


def test_seed_demo_is_idempotent_and_covers_every_type():
    call_command("seed_demo", quiet=True)
    first = counts()
    call_command("seed_demo", quiet=True)
    assert counts() == first
    kinds = {mechanic_type(m) for m in MechanicProfile.objects.all()}
    assert kinds == set(MechanicType)
    assert MechanicProfile.objects.count() >= 20
    assert Workshop.objects.values("time_zone").distinct().count() >= 3


def test_seed_demo_generates_bench_mechanics_once():
    call_command("seed_demo", mechanics=50, quiet=True)
    total = MechanicProfile.objects.count()
    call_command("seed_demo", mechanics=50, quiet=True)
    assert MechanicProfile.objects.count() == total
    assert User.objects.filter(email__startswith="bench-mechanic-").count() == 50


def test_seed_demo_gives_the_workshop_visits_in_each_tab_once():
    from autodoctor.workshops.models import Visit
    from autodoctor.workshops.selectors import workshop_tab_counts

    call_command("seed_demo", quiet=True)
    call_command("seed_demo", quiet=True)
    shop = Workshop.objects.get(name="Queen Street Auto")
    tabs = workshop_tab_counts(shop.pk)
    assert (tabs["pending"], tabs["confirmed"], tabs["completed"]) == (1, 1, 1)
    confirmed = Visit.objects.get(workshop=shop, status="confirmed")
    assert confirmed.assigned_mechanic.user.email.startswith("mechanic.affiliated@")


def test_seed_demo_history_is_a_realistic_mix_made_once():
    from datetime import timedelta

    from django.utils import timezone

    from autodoctor.analytics import metrics
    from autodoctor.analytics.models import SessionRating
    from autodoctor.booking.models import Session

    call_command("seed_demo", history=30, quiet=True)
    sessions = Session.objects.filter(metadata__has_key="demo_history")
    first = (sessions.count(), SessionRating.objects.count())
    mechanics = MechanicProfile.objects.count()
    # About 0.9 sessions a mechanic-day (module docstring): far from 0 and from 3.
    assert 0.5 * mechanics * 30 < first[0] < 1.5 * mechanics * 30
    call_command("seed_demo", history=30, quiet=True)
    assert (sessions.count(), SessionRating.objects.count()) == first

    now = timezone.now()
    board = metrics.dashboard(
        metrics.Period(now - timedelta(days=31), now), metrics.Scope(), now=now, zone="UTC"
    )
    mix, rel = board["booking_mix"], board["reliability"]
    assert 0.6 < mix["share_advance"] < 0.8
    assert len(mix["by_plan"]) > 1
    assert rel["cancelled_by"]["customer"] > rel["cancelled_by"]["mechanic"] > 0
    assert rel["mechanic_no_show"] > 0 and rel["customer_no_show"] > 0
    assert rel["reschedule_rate"] > 0
    assert board["start_now"]["untaken"] > 0 and board["start_now"]["wait_median_minutes"]
    assert board["lead_time"]["median_minutes"] > 60
    assert 0 < board["utilization"]["ratio"] < 1
    assert board["satisfaction"]["count"] > 0
    assert SessionRating.objects.exclude(comment="").exists()
    assert SessionRating.objects.filter(comment="").exists()
