"""The admin filters (plan, mechanic type, province) narrow every metric; the expected
numbers are counted by hand from the history below.

Ada (virtual-only, M5V: Ontario), Bo (virtual-only, V6K: British Columbia), Cy
(workshop-affiliated, M4C: Ontario). Bookings made 3 days before NOW, 2 days before NOW:

    session  mechanic  plan     kind       minutes  outcome               rating
    A1       Ada       advice   advance    30       booked                5
    A2       Ada       premium  advance    60       booked
    A3       Ada       advice   start-now  30       completed
    B1       Bo        advice   advance    45       booked                3
    C1       Cy        advice   advance    30       booked
    C2       Cy        advice   advance    30       cancelled by customer
    D        nobody    advice   start-now  30       closed untaken
"""

from datetime import timedelta

import pytest
import time_machine

from autodoctor.analytics import metrics
from autodoctor.analytics.models import SessionRating
from autodoctor.booking.models import Plan, Session
from autodoctor.errors import InvalidInput
from tests.factories import MechanicFactory, WorkshopFactory, weekly_hours

from .conftest import NOW, booking

pytestmark = pytest.mark.django_db

PERIOD = metrics.Period(NOW - timedelta(days=7), NOW)
MADE, AT = NOW - timedelta(days=3), NOW - timedelta(days=2)


def _rate(session, score):
    SessionRating.objects.create(
        session=session,
        mechanic=session.mechanic,
        customer=session.customer,
        score=score,
        created_at=NOW - timedelta(days=1),
        updated_at=NOW - timedelta(days=1),
    )


@pytest.fixture
def history():
    return build_history()


def build_history() -> dict:
    """The history of the module docstring (also used by test_api_filters.py)."""
    ada = MechanicFactory(user__full_name="Ada Ontario", postal_code="M5V 2T6")
    bo = MechanicFactory(user__full_name="Bo Columbia", postal_code="v6k 1p3")
    cy = MechanicFactory(
        user__full_name="Cy Workshop",
        postal_code="M4C 1A1",
        workshop=WorkshopFactory(postal_code="M4C 1A2"),
        account_type="workshop_mechanic",
    )
    for mechanic in (ada, bo, cy):
        weekly_hours(mechanic, days=range(7), start=0, end=24 * 60)
    a1 = booking(ada, created=MADE, scheduled_for=AT)
    a2 = booking(ada, created=MADE, scheduled_for=AT + timedelta(hours=1), minutes=60)
    Session.objects.filter(pk=a2.pk).update(plan=Plan.objects.get(code="premium"))
    booking(ada, created=MADE, offered_at=MADE, status="completed")
    b1 = booking(bo, created=MADE, scheduled_for=AT, minutes=45)
    booking(cy, created=MADE, scheduled_for=AT)
    booking(
        cy,
        created=MADE,
        scheduled_for=AT + timedelta(hours=1),
        status="cancelled",
        cancelled_by="customer",
        reservation_status="released",
    )
    booking(None, created=MADE, offered_at=MADE, status="cancelled", cancelled_by="system")
    _rate(a1, 5)
    _rate(b1, 3)
    return {"ada": ada, "bo": bo, "cy": cy}


def board(**filters):
    with time_machine.travel(NOW, tick=False):
        return metrics.dashboard(PERIOD, metrics.Scope(**filters), now=NOW, zone="UTC")


def names(result) -> list[str]:
    return [m["name"] for m in result["utilization"]["mechanics"]]


def test_without_filters_everything_counts(history):
    b = board()
    # D went out to mechanics (paid): a start-now booking, though nobody took it.
    assert (b["booking_mix"]["advance"], b["booking_mix"]["immediate"]) == (5, 2)
    assert b["utilization"]["booked_minutes"] == 30 + 60 + 45 + 30
    assert b["start_now"]["sent"] == 2 and b["start_now"]["untaken"] == 1
    assert b["satisfaction"]["average"] == 4.0


def test_province_keeps_the_mechanics_with_its_postal_letters(history):
    b = board(province="ON")  # Ada and Cy
    assert names(b) == ["Ada Ontario", "Cy Workshop"]
    assert (b["booking_mix"]["advance"], b["booking_mix"]["immediate"]) == (4, 1)  # A1 A2 C1 C2, A3
    assert b["utilization"]["booked_minutes"] == 30 + 60 + 30  # A1 A2 C1
    assert b["lead_time"]["count"] == 4
    assert b["reliability"]["cancelled"] == 1 and b["reliability"]["bookings"] == 5
    assert b["start_now"]["sent"] == 1 and b["start_now"]["untaken"] == 0  # D has nobody
    assert b["satisfaction"]["count"] == 1 and b["satisfaction"]["average"] == 5
    assert sum(sum(row) for row in b["peak_times"]["sessions"]) == 3
    # Workshops by their own postal code: Cy's workshop is in Ontario.
    assert len(b["bays"]["workshops"]) == 1
    bc = board(province="BC")  # Bo only (a lower-case postal code too)
    assert names(bc) == ["Bo Columbia"]
    assert bc["utilization"]["booked_minutes"] == 45
    assert bc["satisfaction"]["average"] == 3 and bc["bays"]["workshops"] == []


def test_mechanic_type_uses_the_shared_type_rule(history):
    b = board(mechanic_type="workshop_affiliated")  # Cy
    assert names(b) == ["Cy Workshop"]
    assert b["booking_mix"]["total"] == 2
    assert b["reliability"]["cancellation_rate"] == 0.5
    assert b["utilization"]["booked_minutes"] == 30
    virtual = board(mechanic_type="virtual_only")  # Ada, Bo
    assert virtual["booking_mix"]["total"] == 4  # A1 A2 A3 B1 (D has no mechanic)
    assert virtual["start_now"]["sent"] == 1


def test_plan_keeps_its_sessions_and_all_offered_minutes(history):
    b = board(plan="advice")
    assert (b["booking_mix"]["advance"], b["booking_mix"]["immediate"]) == (4, 2)  # not A2
    assert [p["plan__code"] for p in b["booking_mix"]["by_plan"]] == ["advice"]
    assert b["utilization"]["booked_minutes"] == 30 + 45 + 30  # A1 B1 C1
    # Offered minutes are not per plan: the 3 mechanics' 7 days around the clock.
    assert b["utilization"]["available_minutes"] == board()["utilization"]["available_minutes"]
    assert b["start_now"]["sent"] == 2
    premium = board(plan="premium", province="ON")
    assert premium["booking_mix"]["total"] == 1 and premium["utilization"]["booked_minutes"] == 60
    assert premium["satisfaction"]["count"] == 0


def test_an_unknown_province_is_refused():
    with pytest.raises(InvalidInput):
        board(province="ZZ")


def test_the_admin_page_applies_the_filters(history, admin_user, login):
    with time_machine.travel(NOW, tick=False):
        client = login(admin_user)
        page = client.get("/analytics/?days=7&province=BC").content.decode()
        assert "Bo Columbia" in page and "Ada Ontario" not in page
        assert 'name="province"' in page
        csv = client.get("/analytics/?days=7&province=BC&format=csv&table=utilization")
        assert b"Bo Columbia" in csv.content and b"Ada Ontario" not in csv.content
        # An unknown filter value is ignored by the form: everyone is shown.
        page = client.get("/analytics/?days=7&province=ZZ").content.decode()
        assert "Bo Columbia" in page and "Ada Ontario" in page
