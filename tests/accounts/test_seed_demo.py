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
    from autodoctor.analytics.models import FactDirty, SessionFact, SessionRating
    from autodoctor.booking.models import Session
    from tests.analytics.raw_metrics import reference_dashboard

    call_command("seed_demo", history=30, quiet=True)
    # The generated sessions' facts were built once after the bulk write.
    assert not FactDirty.objects.exists()
    assert SessionFact.objects.count() == Session.objects.count()
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
    # The facts answer what the raw tables do on a realistic history.
    period = metrics.Period(now - timedelta(days=31), now)
    assert board == reference_dashboard(period, metrics.Scope(), now=now, zone="UTC")


def test_seed_demo_history_keeps_each_mechanic_free_of_overlaps_and_rates_them():
    from decimal import ROUND_HALF_UP, Decimal
    from itertools import pairwise
    from statistics import mean

    from autodoctor.analytics.models import SessionRating
    from autodoctor.booking.models import Reservation

    call_command("seed_demo", history=20, quiet=True)
    active = Reservation.objects.filter(status__in=("reserved", "confirmed"))
    assert active.count() > 100
    by_mechanic: dict[int, list] = {}
    for mid, starts, until in active.values_list("mechanic_id", "starts_at", "blocked_until"):
        by_mechanic.setdefault(mid, []).append((starts, until))
    for spans in by_mechanic.values():
        spans.sort()
        assert all(a[1] <= b[0] for a, b in pairwise(spans))
    # Each rated mechanic's rating is the mean of their ratings (what matching reads).
    scores: dict[int, list[int]] = {}
    for mid, score in SessionRating.objects.values_list("mechanic_id", "score"):
        scores.setdefault(mid, []).append(score)
    assert scores
    for mid, values in scores.items():
        expected = Decimal(str(mean(values))).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        assert MechanicProfile.objects.get(pk=mid).rating == expected


def test_the_bulk_history_writer_goes_through_the_overlap_guard():
    """COPY / executemany do not bypass the database guard: two generated reservations
    of one mechanic that overlap are refused like any other insert."""
    from datetime import UTC, datetime, timedelta

    from django.db import IntegrityError, transaction

    from autodoctor.accounts.management.commands._history import Table, copy_rows
    from autodoctor.booking.models import Reservation
    from tests.factories import MechanicFactory

    mechanic = MechanicFactory()
    at = datetime(2031, 3, 12, 15, 0, tzinfo=UTC)
    table = Table(
        Reservation,
        ("mechanic_id", "starts_at", "ends_at", "blocked_until", "status", "reserved_at"),
    )
    end = at + timedelta(minutes=30)
    rows = [
        (mechanic.pk, at, end, end, "confirmed", at),
        (mechanic.pk, at + timedelta(minutes=10), end, end, "confirmed", at),
    ]
    with pytest.raises(IntegrityError), transaction.atomic():
        copy_rows(table, rows)
    assert not Reservation.objects.filter(mechanic=mechanic).exists()
    copy_rows(table, rows[:1])
    assert Reservation.objects.filter(mechanic=mechanic).count() == 1
