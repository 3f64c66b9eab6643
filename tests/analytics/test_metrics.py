"""Each metric on a small hand-built history; every expected number is worked out here,
in the test, not read back from the code. The week is Mon 3 – Mon 10 March 2031 in
Toronto, across the DST change (Sunday 9 March, 02:00 EST → 03:00 EDT)."""

from datetime import UTC, datetime, timedelta

import pytest

from autodoctor.analytics import metrics
from autodoctor.analytics.metrics import Period, Scope
from autodoctor.analytics.models import SessionRating
from autodoctor.availability.models import TimeOff, TimeOffStatus
from autodoctor.booking.models import Offer, SessionEvent
from tests.factories import MechanicFactory, WorkshopFactory, weekly_hours

from .conftest import booking, earning

pytestmark = pytest.mark.django_db

# Monday 3 March 00:00 EST → Monday 10 March 00:00 EDT.
WEEK = Period(datetime(2031, 3, 3, 5, 0, tzinfo=UTC), datetime(2031, 3, 10, 4, 0, tzinfo=UTC))
NOW = datetime(2031, 3, 12, 12, 0, tzinfo=UTC)
PLATFORM = Scope()


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2031, 3, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def mechanic():
    return MechanicFactory(user__full_name="Ada Mechanic")


def test_booking_mix_counts_advance_and_start_now_bookings_only(mechanic):
    booking(mechanic, created=utc(3, 15), scheduled_for=utc(4, 15))
    booking(mechanic, created=utc(6, 18), scheduled_for=utc(6, 19))
    booking(
        mechanic,
        created=utc(5, 12),
        scheduled_for=utc(8, 12),
        status="cancelled",
        reservation_status="released",
        cancelled_by="customer",
    )
    booking(mechanic, created=utc(4, 13), offered_at=utc(4, 13, 5), status="completed")
    booking(
        None,
        created=utc(4, 14),
        offered_at=utc(4, 14, 2),
        status="cancelled",
        cancelled_by="system",
    )
    # Not bookings: unpaid start-now, an expired hold, one made before the week.
    booking(None, created=utc(4, 15), status="pending")
    booking(
        mechanic, created=utc(5, 9), scheduled_for=utc(7, 15), confirmed=False, status="cancelled"
    )
    booking(mechanic, created=utc(2, 12), scheduled_for=utc(4, 18))
    mix = metrics.booking_mix(WEEK, PLATFORM)
    assert (mix["advance"], mix["immediate"], mix["total"]) == (3, 2, 5)
    assert mix["share_advance"] == 0.6  # 3 / 5
    assert [(r["advance"], r["immediate"]) for r in mix["by_week"]] == [(3, 2)]
    assert mix["by_plan"][0]["plan__code"] == "advice"
    mine = metrics.booking_mix(WEEK, Scope("mechanic", mechanic.pk))
    assert (mine["advance"], mine["immediate"]) == (3, 1)  # the untaken one is nobody's


def test_lead_time_median_p90_and_histogram_by_hand(mechanic):
    booking(mechanic, created=utc(6, 18), scheduled_for=utc(6, 19))  # 60 min
    booking(mechanic, created=utc(3, 15), scheduled_for=utc(4, 15))  # 24 h = 1440 min
    booking(mechanic, created=utc(5, 12), scheduled_for=utc(8, 12))  # 72 h = 4320 min
    booking(mechanic, created=utc(4, 13), offered_at=utc(4, 13), status="completed")  # start-now
    lead = metrics.lead_time(WEEK, PLATFORM)
    assert lead["count"] == 3
    assert lead["median_minutes"] == 1440  # nearest rank ⌈0.5·3⌉ = 2nd of 60, 1440, 4320
    assert lead["p90_minutes"] == 4320  # ⌈0.9·3⌉ = 3rd
    # Bucket bounds are [low, high): exactly 24 h is "1–3 days", exactly 3 days "3–7 days".
    assert [b["count"] for b in lead["histogram"]] == [1, 0, 1, 1, 0]


def test_lead_time_without_bookings_is_empty_not_an_error():
    lead = metrics.lead_time(WEEK, PLATFORM)
    assert (lead["count"], lead["median_minutes"], lead["p90_minutes"]) == (0, None, None)


def test_utilization_is_booked_over_offered_minutes_across_dst(mechanic):
    weekly_hours(mechanic, days=range(5), start=9 * 60, end=17 * 60)  # Mon–Fri 09–17 local
    TimeOff.objects.create(  # Wed 12:00–14:00 EST
        mechanic=mechanic, starts_at=utc(5, 17), ends_at=utc(5, 19), status=TimeOffStatus.APPROVED
    )
    booking(mechanic, created=utc(3, 12), scheduled_for=utc(4, 15), minutes=30)
    booking(mechanic, created=utc(3, 12), scheduled_for=utc(6, 19), minutes=60)
    # Not booked time: released, and a confirmed one starting after the week.
    booking(
        mechanic,
        created=utc(3, 12),
        scheduled_for=utc(7, 15),
        status="cancelled",
        reservation_status="released",
    )
    booking(mechanic, created=utc(3, 12), scheduled_for=utc(10, 15))
    idle = MechanicFactory(user__full_name="Bo No-Hours")
    result = metrics.utilization(WEEK, PLATFORM, now=NOW)
    rows = {r["mechanic_id"]: r for r in result["mechanics"]}
    # 5 days × 480 min − 120 min time off = 2280; booked 30 + 60 = 90.
    assert (rows[mechanic.pk]["booked_minutes"], rows[mechanic.pk]["available_minutes"]) == (
        90,
        2280,
    )
    assert rows[mechanic.pk]["ratio"] == round(90 / 2280, 4)
    assert rows[idle.pk] == {
        "mechanic_id": idle.pk,
        "name": "Bo No-Hours",
        "booked_minutes": 0,
        "available_minutes": 0,
        "ratio": None,
    }
    assert (result["booked_minutes"], result["available_minutes"]) == (90, 2280)


def test_utilization_of_a_workshop_covers_only_its_mechanics(mechanic):
    shop = WorkshopFactory()
    own = MechanicFactory(workshop=shop, account_type="workshop_mechanic")
    result = metrics.utilization(WEEK, Scope("workshop", shop.pk), now=NOW)
    assert [r["mechanic_id"] for r in result["mechanics"]] == [own.pk]


def test_peak_times_place_sessions_and_bookings_in_the_viewers_zone(mechanic):
    booking(mechanic, created=utc(3, 14, 30), scheduled_for=utc(4, 15))  # Tue 10:00 EST
    booking(mechanic, created=utc(8, 23), scheduled_for=utc(9, 18))  # Sun 14:00 EDT (after DST)
    peaks = metrics.peak_times(WEEK, PLATFORM, zone="America/Toronto")
    sessions = {
        (d, h): n for d, row in enumerate(peaks["sessions"]) for h, n in enumerate(row) if n
    }
    assert sessions == {(1, 10): 1, (6, 14): 1}
    made = {(d, h): n for d, row in enumerate(peaks["bookings"]) for h, n in enumerate(row) if n}
    assert made == {(0, 9): 1, (5, 18): 1}  # Mon 09:30 EST, Sat 18:00 EST
    assert peaks["zone"] == "America/Toronto"


def _cancelled(mechanic, *, by, hours_before, no_show=False, created=None):
    session = booking(
        mechanic,
        created=created or utc(3, 12),
        scheduled_for=utc(6, 15),
        status="cancelled",
        reservation_status="released",
        cancelled_by=by,
    )
    SessionEvent.objects.create(
        session=session,
        action="booking.session.cancelled",
        data={"by": by, "hours_before_start": hours_before, "mechanic_no_show": no_show},
    )
    return session


def test_reliability_rates_by_who_and_how_late(mechanic):
    _cancelled(mechanic, by="customer", hours_before=50)
    _cancelled(mechanic, by="customer", hours_before=1.5)
    _cancelled(mechanic, by="customer", hours_before=-0.5, no_show=True)  # mechanic absent
    _cancelled(mechanic, by="mechanic", hours_before=-0.3, no_show=True)  # customer absent
    booking(mechanic, created=utc(3, 13), scheduled_for=utc(7, 15), reschedule_count=2)
    for day in (4, 5, 6):
        booking(mechanic, created=utc(day, 13), offered_at=utc(day, 13), status="completed")
    r = metrics.reliability(WEEK, PLATFORM)
    assert (r["bookings"], r["cancelled"]) == (8, 4)
    assert r["cancellation_rate"] == 0.5  # 4 / 8
    assert r["cancelled_by"] == {"customer": 3, "mechanic": 1, "admin": 0, "system": 0}
    assert [b["count"] for b in r["cancelled_how_late"]] == [2, 1, 0, 1]
    assert (r["mechanic_no_show"], r["customer_no_show"]) == (1, 1)
    assert r["no_show_rate"] == 0.25  # 2 / 8
    assert (r["rescheduled"], r["reschedule_rate"]) == (1, 0.125)


def test_no_shows_closed_by_the_clock_count_on_the_side_that_did_not_join(mechanic):
    for side in ("mechanic", "customer", "customer"):
        session = _cancelled(mechanic, by="system", hours_before=-0.3)
        event = session.events.get()
        event.data = {**event.data, "no_show": side, f"{side}_no_show": True}
        event.save()
    _cancelled(mechanic, by="system", hours_before=None)  # an untaken request: not a no-show
    r = metrics.reliability(WEEK, PLATFORM)
    assert (r["mechanic_no_show"], r["customer_no_show"]) == (1, 2)
    assert r["no_show_rate"] == 0.75  # 3 / 4


def test_start_now_wait_and_untaken_share(mechanic):
    waits = [2, 10, 4]  # minutes from sent out to accepted
    for i, minutes in enumerate(waits):
        sent = utc(4, 10 + i)
        session = booking(mechanic, created=sent, offered_at=sent, status="completed")
        Offer.objects.create(
            session=session,
            mechanic=mechanic,
            kind="targeted",
            status="accepted",
            responded_at=sent + timedelta(minutes=minutes),
        )
    booking(
        None, created=utc(5, 10), offered_at=utc(5, 10), status="cancelled", cancelled_by="system"
    )
    result = metrics.start_now(WEEK)
    assert (result["sent"], result["untaken"], result["untaken_share"]) == (4, 1, 0.25)
    assert result["wait_median_minutes"] == 4  # 2, 4, 10: the 2nd
    assert result["wait_p90_minutes"] == 10


def test_revenue_nets_refunds_and_splits_payee_and_platform(mechanic):
    shop = WorkshopFactory(name="Shop One")
    affiliated = MechanicFactory(workshop=shop, account_type="workshop_mechanic")
    s1 = booking(mechanic, created=utc(3, 12), offered_at=utc(3, 12), status="completed")
    s2 = booking(mechanic, created=utc(4, 12), offered_at=utc(4, 12), status="completed")
    s3 = booking(affiliated, created=utc(5, 12), offered_at=utc(5, 12), status="completed")
    earning(s1, mechanic, gross=4000, payee=2800, created=utc(3, 13))
    earning(s2, mechanic, gross=2000, payee=1400, created=utc(4, 13), refund=True)
    earning(s3, affiliated, gross=5000, payee=3500, created=utc(5, 13), workshop=shop)
    s4 = booking(affiliated, created=utc(5, 12), offered_at=utc(5, 12), status="completed")
    earning(s4, affiliated, gross=999, payee=1, created=utc(11, 13), workshop=shop)  # after
    total = metrics.revenue(WEEK, PLATFORM)
    # gross 4000 + 2000 − 2000 + 5000; payee 2800 + 1400 − 1400 + 3500.
    assert (total["gross"], total["payee"], total["platform"]) == (
        9000,
        6300,
        2700,
    )
    assert total["refunded"] == -2000
    assert metrics.revenue(WEEK, Scope("mechanic", mechanic.pk))["gross"] == 4000
    assert metrics.revenue(WEEK, Scope("workshop", shop.pk))["payee"] == 3500


def test_satisfaction_scheduled_and_immediate_side_by_side(mechanic):
    def rate(session, score, day=6):
        SessionRating.objects.create(
            session=session,
            mechanic=mechanic,
            customer=session.customer,
            score=score,
            created_at=utc(day, 12),
            updated_at=utc(day, 12),
        )

    for score in (5, 4):
        rate(
            booking(
                mechanic, created=utc(3, 12), scheduled_for=utc(4, 15 + score), status="completed"
            ),
            score,
        )
    rate(booking(mechanic, created=utc(3, 12), offered_at=utc(3, 12), status="completed"), 2)
    rate(
        booking(mechanic, created=utc(3, 12), offered_at=utc(3, 12), status="completed"), 1, day=11
    )  # outside the week
    s = metrics.satisfaction(WEEK, PLATFORM)
    assert (s["count"], s["average"]) == (3, round(11 / 3, 2))
    assert (s["scheduled_count"], s["scheduled_average"]) == (2, 4.5)
    assert (s["immediate_count"], s["immediate_average"]) == (1, 2.0)


def test_no_metric_counts_acceptance_or_declines():
    """plan §5.3: no acceptance rate or decline count exists, by name, anywhere here."""
    from autodoctor.analytics.compliance import METRIC_WORDS, forbidden_metric_terms

    assert "offerstatus.declined" in METRIC_WORDS
    assert forbidden_metric_terms() == []
    board = metrics.dashboard(
        WEEK, Scope("mechanic", MechanicFactory().pk), now=NOW, zone="America/Toronto"
    )
    assert "start_now" not in board  # the wait is a platform figure, never per mechanic
