"""Workshop bay utilization and visit outcomes on a hand-built week (the week of
tests/analytics/test_metrics.py: Mon 3 – Mon 10 March 2031 in Toronto, EST until the
Sunday); every expected number is worked out here."""

from datetime import UTC, date, datetime, timedelta

import pytest

from autodoctor.analytics import metrics, visits
from autodoctor.analytics.metrics import Period, Scope
from autodoctor.availability.models import DateOverride
from autodoctor.availability.service import workshop_open_minutes
from autodoctor.workshops.models import Visit, VisitStatus
from tests.factories import CustomerFactory, WorkshopFactory, workshop_hours

pytestmark = pytest.mark.django_db

WEEK = Period(datetime(2031, 3, 3, 5, 0, tzinfo=UTC), datetime(2031, 3, 10, 4, 0, tzinfo=UTC))


def est(day: int, hour: int, minute: int = 0) -> datetime:
    """Toronto wall time before the DST change (EST = UTC−5) as UTC."""
    return datetime(2031, 3, day, hour + 5, minute, tzinfo=UTC)


@pytest.fixture
def shop():
    """2 bays, Mon–Fri (days 1–5; 0 is Sunday) 08:00–17:00 with a 12:00–13:00 break (480 min a day); closed on
    Friday 7 March, open Saturday 8 March 09:00–11:00 instead (date overrides)."""
    shop = WorkshopFactory(name="Alpha Garage", max_concurrent_appointments=2)
    workshop_hours(shop, days=range(1, 6), open_=8 * 60, close=17 * 60, break_=(12 * 60, 13 * 60))
    DateOverride.objects.create(workshop=shop, day=date(2031, 3, 7))
    DateOverride.objects.create(
        workshop=shop, day=date(2031, 3, 8), start_minute=9 * 60, end_minute=11 * 60
    )
    return shop


def visit(shop, start, minutes, status, *, bay=1, cancelled_by="", confirmed=False):
    return Visit.objects.create(
        workshop=shop,
        customer=CustomerFactory().user,
        service_type="brakes",
        duration_minutes=minutes,
        starts_at=start,
        ends_at=start + timedelta(minutes=minutes),
        bay=bay,
        status=status,
        cancelled_by=cancelled_by,
        expires_at=start if status in ("requested", "countered") else None,
        confirmed_at=start - timedelta(days=1) if confirmed else None,
    )


@pytest.fixture
def week_of_visits(shop):
    visit(shop, est(4, 9), 120, VisitStatus.COMPLETED, confirmed=True)
    visit(shop, est(5, 9), 60, VisitStatus.NO_SHOW, confirmed=True)
    visit(shop, est(6, 13), 90, VisitStatus.CONFIRMED, bay=2, confirmed=True)
    visit(shop, est(4, 9), 30, VisitStatus.CHECKED_IN, bay=2, confirmed=True)
    # Not booked time: cancelled after confirming, cancelled while asked, waiting, declined.
    visit(
        shop, est(5, 14), 60, VisitStatus.CANCELLED, bay=2, cancelled_by="customer", confirmed=True
    )
    visit(shop, est(6, 15), 60, VisitStatus.CANCELLED, cancelled_by="workshop")
    visit(shop, est(3, 10), 60, VisitStatus.REQUESTED)
    visit(shop, est(4, 13), 60, VisitStatus.DECLINED)
    # Starts after the week (Mon 10 March 10:00 EDT).
    visit(shop, datetime(2031, 3, 10, 14, 0, tzinfo=UTC), 60, VisitStatus.COMPLETED, confirmed=True)


def test_open_minutes_follow_hours_breaks_and_date_overrides(shop):
    closed = WorkshopFactory()
    # Mon–Thu 4 × 480 + Saturday 120; Friday closed; the closed shop has no hours.
    assert workshop_open_minutes([shop.pk, closed.pk], WEEK.start, WEEK.end) == {
        shop.pk: 2040,
        closed.pk: 0,
    }


def test_bay_utilization_is_booked_visit_minutes_over_open_minutes_times_bays(shop, week_of_visits):
    idle = WorkshopFactory(name="Beta Body Shop", max_concurrent_appointments=3)
    result = visits.bay_utilization(WEEK, Scope())
    rows = {r["workshop_id"]: r for r in result["workshops"]}
    # Booked: completed 120 + no-show 60 + confirmed 90 + checked in 30 = 300;
    # capacity 2040 open × 2 bays = 4080.
    assert rows[shop.pk] == {
        "workshop_id": shop.pk,
        "name": "Alpha Garage",
        "bays": 2,
        "open_minutes": 2040,
        "booked_minutes": 300,
        "bay_minutes": 4080,
        "ratio": round(300 / 4080, 4),
    }
    assert rows[idle.pk]["ratio"] is None  # no hours: nothing to divide by
    assert (result["booked_minutes"], result["bay_minutes"]) == (300, 4080)
    assert [r["name"] for r in result["workshops"]] == ["Alpha Garage", "Beta Body Shop"]
    mine = visits.bay_utilization(WEEK, Scope("workshop", idle.pk))
    assert [r["workshop_id"] for r in mine["workshops"]] == [idle.pk]
    assert mine["booked_minutes"] == 0


def test_visit_outcomes_count_no_shows_and_cancellations(shop, week_of_visits):
    other = WorkshopFactory()
    visit(other, est(4, 9), 60, VisitStatus.NO_SHOW, confirmed=True)
    result = visits.visit_outcomes(WEEK, Scope("workshop", shop.pk))
    counts = {row["status"]: row["count"] for row in result["by_status"]}
    assert counts == {
        "requested": 1,
        "countered": 0,
        "confirmed": 1,
        "checked_in": 1,
        "completed": 1,
        "declined": 1,
        "expired": 0,
        "cancelled": 2,
        "no_show": 1,
    }
    assert result["requested"] == 8
    # Agreed: the 4 booked + the one cancelled after confirming = 5; 1 no-show.
    assert (result["agreed"], result["no_show"], result["no_show_rate"]) == (5, 1, 0.2)
    assert (result["cancelled"], result["cancellation_rate"]) == (2, 0.25)
    assert result["cancelled_by"] == {"customer": 1, "workshop": 1}
    assert visits.visit_outcomes(WEEK, Scope())["requested"] == 9


def test_the_dashboard_has_visit_figures_except_for_a_mechanic(shop, week_of_visits):
    now = datetime(2031, 3, 12, 12, 0, tzinfo=UTC)
    board = metrics.dashboard(WEEK, Scope("workshop", shop.pk), now=now, zone="America/Toronto")
    assert board["bays"]["booked_minutes"] == 300
    assert board["visits"]["no_show"] == 1
    from tests.factories import MechanicFactory

    mechanic = MechanicFactory()
    board = metrics.dashboard(WEEK, Scope("mechanic", mechanic.pk), now=now, zone="UTC")
    assert "bays" not in board and "visits" not in board


def _event(v, action, at):
    from autodoctor.workshops.models import VisitEvent

    event = VisitEvent.objects.create(visit=v, action=action)
    VisitEvent.objects.filter(pk=event.pk).update(created_at=at)


def test_response_time_is_request_to_first_answer_median_and_p90(shop):
    """Requests in the week answered after 10, 30, 90 and 240 minutes (a confirm, a
    counter, a decline, a confirm), one never answered, one answered twice (the first
    answer counts: 20 min), one requested before the week (not counted) and one at
    another workshop. Answered: 10, 20, 30, 90, 240 → p50 = the 3rd = 30 min, p90 = the
    ⌈4.5⌉ = 5th = 240 min."""
    at = est(4, 9)
    answers = [
        (10, "confirmed"),
        (30, "countered"),
        (90, "declined"),
        (240, "confirmed"),
    ]
    for n, (minutes, action) in enumerate(answers):
        v = visit(shop, est(6, 8 + n), 30, VisitStatus.CONFIRMED)
        _event(v, "workshops.visit.requested", at)
        _event(v, f"workshops.visit.{action}", at + timedelta(minutes=minutes))
    silent = visit(shop, est(7, 8), 30, VisitStatus.REQUESTED)
    _event(silent, "workshops.visit.requested", at)
    twice = visit(shop, est(7, 9), 30, VisitStatus.CONFIRMED)
    _event(twice, "workshops.visit.requested", at)
    _event(twice, "workshops.visit.countered", at + timedelta(minutes=20))
    _event(twice, "workshops.visit.confirmed", at + timedelta(minutes=50))
    old = visit(shop, est(7, 10), 30, VisitStatus.CONFIRMED)
    _event(old, "workshops.visit.requested", WEEK.start - timedelta(hours=1))
    _event(old, "workshops.visit.confirmed", WEEK.start + timedelta(hours=1))
    other = WorkshopFactory()
    elsewhere = visit(other, est(6, 9), 30, VisitStatus.CONFIRMED)
    _event(elsewhere, "workshops.visit.requested", at)
    _event(elsewhere, "workshops.visit.confirmed", at + timedelta(minutes=1))

    mine = visits.response_time(WEEK, Scope(metrics.WORKSHOP, shop.pk))
    assert mine == {
        "requests": 6,
        "answered": 5,
        "unanswered": 1,
        "median_minutes": 30.0,
        "p90_minutes": 240.0,
    }
    platform = visits.response_time(WEEK, Scope())
    # Six answered at the platform: 1, 10, 20, 30, 90, 240 → p50 the 3rd = 20 min.
    assert platform["requests"] == 7 and platform["answered"] == 6
    assert platform["median_minutes"] == 20.0


def test_response_time_without_requests_is_empty(shop):
    got = visits.response_time(WEEK, Scope(metrics.WORKSHOP, shop.pk))
    assert got["requests"] == 0 and got["median_minutes"] is None
