"""The dashboard adds booking mix, lead-time buckets and reliability up from one grouped
scan (`metrics.booking_cells`). On a random history the sums must match what is counted
here session by session from the parameters the history was built with."""

import random
from datetime import UTC, datetime, timedelta

import pytest

from autodoctor.analytics import metrics
from autodoctor.analytics.metrics import LEAD_BUCKETS, Period, Scope
from autodoctor.booking.models import Plan
from tests.factories import MechanicFactory

from .conftest import booking

pytestmark = pytest.mark.django_db

START = datetime(2031, 2, 3, 5, 0, tzinfo=UTC)  # three weeks, Monday to Monday
PERIOD = Period(START, START + timedelta(days=21))
NOW = START + timedelta(days=40)


def _bucket(lead: timedelta) -> int:
    for i, (_label, low, high) in enumerate(LEAD_BUCKETS):
        if low <= lead and (high is None or lead < high):
            return i
    raise AssertionError(lead)


@pytest.mark.parametrize("seed", [5, 6])
def test_dashboard_cells_add_up_to_the_bookings_counted_one_by_one(seed):
    rng = random.Random(seed)
    plans = list(Plan.objects.all())
    mechanics = [MechanicFactory() for _ in range(3)]
    expected = {"advance": 0, "immediate": 0, "cancelled": 0, "rescheduled": 0}
    by_plan: dict[str, int] = {}
    leads: list[int] = []
    histogram = [0] * len(LEAD_BUCKETS)
    for _ in range(40):
        created = START + timedelta(minutes=rng.randint(-600, 22 * 1440))
        advance = rng.random() < 0.6
        confirmed = rng.random() < 0.8
        sent = rng.random() < 0.8
        cancelled = rng.random() < 0.3
        moved = rng.randint(0, 2) if rng.random() < 0.3 else 0
        lead = timedelta(minutes=rng.choice([30, 119, 120, 600, 1440, 4000, 10080, 20000]))
        session = booking(
            rng.choice(mechanics),
            created=created,
            scheduled_for=created + lead if advance else None,
            offered_at=None if advance or not sent else created,
            confirmed=confirmed,
            status="cancelled" if cancelled else ("scheduled" if advance else "waiting"),
            cancelled_by="customer" if cancelled else "",
            reschedule_count=moved,
        )
        plan = rng.choice(plans)
        type(session).objects.filter(pk=session.pk).update(plan=plan)
        in_period = PERIOD.start <= created < PERIOD.end
        is_booking = (advance and confirmed) or (not advance and sent)
        if not (in_period and is_booking):
            continue
        expected["advance" if advance else "immediate"] += 1
        expected["cancelled"] += cancelled
        expected["rescheduled"] += moved > 0
        by_plan[plan.code] = by_plan.get(plan.code, 0) + 1
        if advance:
            leads.append(int(lead.total_seconds()))
            histogram[_bucket(lead)] += 1

    board = metrics.dashboard(PERIOD, Scope(), now=NOW, zone="America/Toronto")
    mix, lead_time, reliability = board["booking_mix"], board["lead_time"], board["reliability"]
    assert (mix["advance"], mix["immediate"]) == (expected["advance"], expected["immediate"])
    assert {p["plan__code"]: p["advance"] + p["immediate"] for p in mix["by_plan"]} == by_plan
    assert sum(w["advance"] + w["immediate"] for w in mix["by_week"]) == sum(by_plan.values())
    assert [h["count"] for h in lead_time["histogram"]] == histogram
    leads.sort()
    median = leads[-(-50 * len(leads) // 100) - 1] if leads else None
    assert lead_time["median_minutes"] == (None if median is None else round(median / 60, 1))
    assert reliability["bookings"] == expected["advance"] + expected["immediate"]
    assert reliability["cancelled"] == expected["cancelled"]
    assert reliability["cancelled_by"]["customer"] == expected["cancelled"]
    assert reliability["rescheduled"] == expected["rescheduled"]
    # The metric functions called on their own give the dashboard's answers.
    assert metrics.booking_mix(PERIOD, Scope()) == mix
    assert metrics.lead_time(PERIOD, Scope()) == lead_time
    assert metrics.reliability(PERIOD, Scope()) == reliability
