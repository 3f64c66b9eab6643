"""Workshop visits through the services: the request from a completed session, bay
capacity (listing and guard agree), the workshop's workflow and the customer's answers."""

from datetime import timedelta

import pytest

from autodoctor.availability import service as availability
from autodoctor.booking.models import Reservation, ReservationStatus
from autodoctor.errors import (
    Conflict,
    InvalidInput,
    InvalidTransition,
    NotAllowed,
    NotFound,
    SlotUnavailable,
)
from autodoctor.workshops import services
from autodoctor.workshops.models import Visit, VisitEvent, VisitStatus
from autodoctor.workshops.services import VisitRequest
from tests.factories import MechanicFactory, UserFactory, WorkshopFactory, workshop_hours

from .conftest import HOUR, NOW, TUESDAY_10

pytestmark = pytest.mark.django_db


def request(session, workshop, start=TUESDAY_10, now=NOW, **extra):
    return services.visit_request_from_session(
        customer=session.customer,
        session_id=session.pk,
        request=VisitRequest(workshop_id=workshop.pk, starts_at=start, **extra),
        now=now,
    )


def test_request_copies_the_session_and_holds_a_bay_for_the_response_window(
    workshop, completed_session
):
    session = completed_session()
    visit = request(session, workshop, mode="wait", notes="Can you check the pads too?")
    assert visit.status == VisitStatus.REQUESTED
    assert (visit.vehicle_label, visit.concern) == (session.vehicle_label, session.concern)
    assert visit.duration_minutes == availability.DEFAULT_VISIT_MINUTES
    assert visit.ends_at - visit.starts_at == HOUR
    assert visit.expires_at == NOW + timedelta(hours=24)
    assert visit.bay == 1 and visit.mode == "wait"
    assert VisitEvent.objects.filter(visit=visit, action="workshops.visit.requested").exists()
    # The held bay is gone from the listing: one bay left at 10:00, so it is still listed…
    listed = availability.visit_slots(workshop, TUESDAY_10, TUESDAY_10 + HOUR, HOUR, now=NOW)
    assert [s.start for s in listed][:1] == [TUESDAY_10]


def test_a_request_lapses_at_the_start_when_that_comes_before_the_window(
    workshop, completed_session
):
    now = TUESDAY_10 - timedelta(hours=3)
    visit = request(completed_session(), workshop, now=now)
    assert visit.expires_at == TUESDAY_10


def test_only_a_completed_session_of_ones_own_can_be_followed_up(workshop, completed_session):
    session = completed_session()
    session.status = "scheduled"
    session.save()
    with pytest.raises(Conflict, match="completed"):
        request(session, workshop)
    other = completed_session()
    with pytest.raises(NotFound):
        services.visit_request_from_session(
            customer=session.customer,
            session_id=other.pk,
            request=VisitRequest(workshop_id=workshop.pk, starts_at=TUESDAY_10),
            now=NOW,
        )


def test_one_open_visit_per_session(workshop, completed_session):
    session = completed_session()
    request(session, workshop)
    with pytest.raises(Conflict, match="already have an open visit"):
        request(session, workshop, start=TUESDAY_10 + 2 * HOUR)


def test_full_bays_refuse_with_the_next_free_times(workshop, completed_session):
    request(completed_session(), workshop)
    request(completed_session(), workshop)  # both bays at 10:00
    assert not availability.visit_bookable(workshop, TUESDAY_10, HOUR, now=NOW)
    with pytest.raises(SlotUnavailable) as refused:
        request(completed_session(), workshop)
    assert refused.value.data["next_free_slots"][0] == (TUESDAY_10 + HOUR).isoformat()
    assert Visit.objects.count() == 2


def test_listing_never_offers_a_time_no_single_bay_can_take(workshop, completed_session):
    """2 bays: 10:00–11:00 in bay 1 and 11:00–12:00 in bay 2 (bay 1 taken at 11:00 by
    a third visit that ends early). 10:30 overlaps only one visit at any instant, yet no
    bay is free for all of 10:30–11:30; counting alone would list it."""
    half = timedelta(minutes=30)
    a = request(completed_session(), workshop)  # 10:00-11:00 bay 1
    b = request(completed_session(), workshop, start=TUESDAY_10 + HOUR)  # 11:00-12:00 bay 1
    # Put b in bay 2 so bay 1 is free 11:00-12:00 but busy 10:00-11:00, bay 2 the reverse.
    Visit.objects.filter(pk=b.pk).update(bay=2)
    c = request(completed_session(), workshop, start=TUESDAY_10 + HOUR)  # bay 1, 11:00-12:00
    assert (a.bay, c.bay) == (1, 1)
    starts = {
        s.start
        for s in availability.visit_slots(
            workshop, TUESDAY_10, TUESDAY_10 + 3 * HOUR, HOUR, now=NOW
        )
    }
    assert TUESDAY_10 + half not in starts and TUESDAY_10 + 2 * HOUR in starts
    with pytest.raises(SlotUnavailable):
        request(completed_session(), workshop, start=TUESDAY_10 + half)


def test_closed_days_and_hours_are_not_offered(workshop, completed_session):
    with pytest.raises(SlotUnavailable, match=r"no free bay|closed"):
        request(completed_session(), workshop, start=TUESDAY_10 + 7 * HOUR)  # 17:00 closes
    with pytest.raises(SlotUnavailable, match="notice"):
        request(completed_session(), workshop, now=TUESDAY_10 - HOUR)


def test_confirm_with_a_mechanic_blocks_their_remote_time(
    workshop, shop_mechanic, completed_session
):
    visit = request(completed_session(), workshop)
    staff = workshop.staff_user
    visit = services.visit_confirm(
        user=staff, visit_id=visit.pk, mechanic_id=shop_mechanic.pk, bay=2, now=NOW
    )
    assert (visit.status, visit.bay, visit.assigned_mechanic_id) == (
        "confirmed",
        2,
        shop_mechanic.pk,
    )
    pin = Reservation.objects.get(pk=visit.mechanic_reservation_id)
    assert pin.session_id is None and pin.status == ReservationStatus.CONFIRMED
    assert not availability.is_available(shop_mechanic, TUESDAY_10, TUESDAY_10 + HOUR, now=NOW)
    # Another visit at the same time cannot take the same mechanic.
    other = request(completed_session(), workshop)
    with pytest.raises(SlotUnavailable, match=r"not free|already has"):
        services.visit_confirm(user=staff, visit_id=other.pk, mechanic_id=shop_mechanic.pk, now=NOW)
    assert Visit.objects.get(pk=other.pk).status == "requested"


def test_only_the_workshops_own_mechanics_can_be_assigned(workshop, completed_session):
    visit = request(completed_session(), workshop)
    outsider = MechanicFactory()
    with pytest.raises(InvalidInput, match="own mechanics"):
        services.visit_confirm(
            user=workshop.staff_user, visit_id=visit.pk, mechanic_id=outsider.pk, now=NOW
        )


def test_who_may_act(workshop, completed_session):
    visit = request(completed_session(), workshop)
    other_shop = WorkshopFactory()
    with pytest.raises(NotFound):
        services.visit_confirm(user=other_shop.owner, visit_id=visit.pk, now=NOW)
    with pytest.raises(NotAllowed):
        services.visit_confirm(user=visit.customer, visit_id=visit.pk, now=NOW)
    with pytest.raises(NotFound):
        services.visit_cancel(user=UserFactory(), visit_id=visit.pk, now=NOW)
    services.visit_confirm(user=workshop.owner, visit_id=visit.pk, now=NOW)  # the owner may


def test_counter_offer_accepted(workshop, completed_session):
    visit = request(completed_session(), workshop)
    later = TUESDAY_10 + 3 * HOUR
    visit = services.visit_counter(
        user=workshop.staff_user,
        visit_id=visit.pk,
        starts_at=later,
        reason="Fully booked at 10",
        now=NOW,
    )
    assert (visit.status, visit.starts_at, visit.requested_starts_at) == (
        "countered",
        later,
        TUESDAY_10,
    )
    assert visit.sequence == 1
    with pytest.raises(NotAllowed):
        services.visit_counter_accept(customer=workshop.staff_user, visit_id=visit.pk, now=NOW)
    visit = services.visit_counter_accept(
        customer=visit.customer, visit_id=visit.pk, now=NOW + HOUR
    )
    assert visit.status == "confirmed" and visit.expires_at is None


def test_counter_offer_lapses_and_cannot_be_accepted_after(workshop, completed_session):
    visit = request(completed_session(), workshop)
    visit = services.visit_counter(
        user=workshop.staff_user, visit_id=visit.pk, starts_at=TUESDAY_10 + 2 * HOUR, now=NOW
    )
    after = visit.expires_at + timedelta(seconds=1)
    with pytest.raises(InvalidTransition, match="lapsed"):
        services.visit_counter_accept(customer=visit.customer, visit_id=visit.pk, now=after)
    assert services.visits_expire(now=after) == 1
    assert services.visits_expire(now=after) == 0  # idempotent
    assert Visit.objects.get(pk=visit.pk).status == "expired"


def test_counter_declined_frees_the_time(workshop, completed_session):
    visit = request(completed_session(), workshop)
    services.visit_counter(
        user=workshop.staff_user, visit_id=visit.pk, starts_at=TUESDAY_10 + HOUR, now=NOW
    )
    visit = services.visit_counter_decline(customer=visit.customer, visit_id=visit.pk, now=NOW)
    assert (visit.status, visit.cancelled_by) == ("cancelled", "customer")


def test_decline_needs_a_reason_and_only_from_requested(workshop, completed_session):
    visit = request(completed_session(), workshop)
    with pytest.raises(InvalidInput, match="why"):
        services.visit_decline(user=workshop.staff_user, visit_id=visit.pk, reason=" ", now=NOW)
    visit = services.visit_decline(
        user=workshop.staff_user, visit_id=visit.pk, reason="We do not service EVs", now=NOW
    )
    assert visit.status == "declined"
    with pytest.raises(InvalidTransition, match="declined"):
        services.visit_confirm(user=workshop.staff_user, visit_id=visit.pk, now=NOW)


def test_an_unanswered_request_expires_and_stops_holding(workshop, completed_session):
    visit = request(completed_session(), workshop)
    request(completed_session(), workshop)
    later = NOW + timedelta(hours=25)
    # Without the job, the lapsed request already stops blocking the listing.
    assert availability.visit_bookable(workshop, TUESDAY_10, HOUR, now=later)
    assert services.visits_expire(now=later) == 2
    assert Visit.objects.get(pk=visit.pk).status == "expired"
    with pytest.raises(InvalidTransition):
        services.visit_confirm(user=workshop.staff_user, visit_id=visit.pk, now=later)


def test_a_new_request_expires_a_lapsed_one_in_its_way(workshop, completed_session):
    request(completed_session(), workshop)
    request(completed_session(), workshop)
    later = NOW + timedelta(hours=25)
    visit = request(completed_session(), workshop, now=later)
    assert visit.bay == 1
    assert Visit.objects.filter(status="expired").count() == 2


def test_lifecycle_check_in_complete_and_no_show(workshop, completed_session):
    staff = workshop.staff_user
    visit = request(completed_session(), workshop)
    services.visit_confirm(user=staff, visit_id=visit.pk, now=NOW)
    with pytest.raises(InvalidTransition, match="day of the visit"):
        services.visit_check_in(user=staff, visit_id=visit.pk, now=NOW)
    services.visit_check_in(user=staff, visit_id=visit.pk, now=TUESDAY_10)
    visit = services.visit_complete(
        user=staff, visit_id=visit.pk, notes="Pads and rotors replaced", now=TUESDAY_10 + HOUR
    )
    assert (visit.status, visit.workshop_notes) == ("completed", "Pads and rotors replaced")
    with pytest.raises(InvalidTransition):
        services.visit_cancel(user=visit.customer, visit_id=visit.pk, now=TUESDAY_10 + HOUR)

    other = request(completed_session(), workshop)
    services.visit_confirm(user=staff, visit_id=other.pk, now=NOW)
    with pytest.raises(InvalidTransition, match="15 minutes"):
        services.visit_no_show(user=staff, visit_id=other.pk, now=TUESDAY_10)
    assert (
        services.visit_no_show(user=staff, visit_id=other.pk, now=TUESDAY_10 + HOUR).status
        == "no_show"
    )


def test_customer_cancel_frees_the_bay_and_the_mechanic(workshop, shop_mechanic, completed_session):
    visit = request(completed_session(), workshop)
    services.visit_confirm(
        user=workshop.staff_user, visit_id=visit.pk, mechanic_id=shop_mechanic.pk, now=NOW
    )
    visit = services.visit_cancel(
        user=visit.customer, visit_id=visit.pk, reason="Fixed it myself", now=NOW
    )
    assert (visit.status, visit.cancelled_by) == ("cancelled", "customer")
    assert Reservation.objects.get(visit__isnull=True, mechanic=shop_mechanic).status == "released"
    assert availability.is_available(shop_mechanic, TUESDAY_10, TUESDAY_10 + HOUR, now=NOW)


def test_workshop_reschedule_keeps_it_confirmed_and_moves_the_mechanic(
    workshop, shop_mechanic, completed_session
):
    visit = request(completed_session(), workshop)
    services.visit_confirm(
        user=workshop.staff_user, visit_id=visit.pk, mechanic_id=shop_mechanic.pk, now=NOW
    )
    moved = services.visit_reschedule(
        user=workshop.staff_user, visit_id=visit.pk, starts_at=TUESDAY_10 + 2 * HOUR, now=NOW
    )
    assert (moved.status, moved.sequence, moved.assigned_mechanic_id) == (
        "confirmed",
        1,
        shop_mechanic.pk,
    )
    assert availability.is_available(shop_mechanic, TUESDAY_10, TUESDAY_10 + HOUR, now=NOW)
    assert not availability.is_available(
        shop_mechanic, TUESDAY_10 + 2 * HOUR, TUESDAY_10 + 3 * HOUR, now=NOW
    )


def test_customer_reschedule_asks_the_workshop_again(workshop, completed_session):
    visit = request(completed_session(), workshop)
    services.visit_confirm(user=workshop.staff_user, visit_id=visit.pk, now=NOW)
    moved = services.visit_reschedule(
        user=visit.customer, visit_id=visit.pk, starts_at=TUESDAY_10 + HOUR, now=NOW
    )
    assert moved.status == "requested" and moved.expires_at == NOW + timedelta(hours=24)


def test_fewer_bays_than_booked_is_refused_naming_the_visits(workshop, completed_session):
    from autodoctor.accounts.workshops import WorkshopChanges, workshop_update

    a = request(completed_session(), workshop)
    b = request(completed_session(), workshop)
    assert (a.bay, b.bay) == (1, 2)
    with pytest.raises(Conflict, match=f"#{b.pk}"):
        workshop_update(
            user=workshop.owner, workshop_id=workshop.pk, changes=WorkshopChanges(bays=1), now=NOW
        )
    workshop.refresh_from_db()
    assert workshop.max_concurrent_appointments == 2
    # A visit in bay 2 that a lower bay can take is moved instead of refusing.
    services.visit_cancel(user=a.customer, visit_id=a.pk, now=NOW)
    workshop_update(
        user=workshop.owner, workshop_id=workshop.pk, changes=WorkshopChanges(bays=1), now=NOW
    )
    assert Visit.objects.get(pk=b.pk).bay == 1


def test_workshop_hours_and_overrides_shape_the_listing(completed_session):
    from autodoctor.availability.models import DateOverride

    shop = WorkshopFactory(max_concurrent_appointments=1)
    workshop_hours(shop, days=range(7), open_=9 * 60, close=12 * 60, break_=(10 * 60, 11 * 60))
    DateOverride.objects.create(workshop=shop, day=TUESDAY_10.date() + timedelta(days=1))  # closed
    day = availability.visit_slots(
        shop, TUESDAY_10 - 2 * HOUR, TUESDAY_10 + 22 * HOUR, HOUR, now=NOW
    )
    local = [
        s.start.astimezone(__import__("zoneinfo").ZoneInfo("America/Toronto")).strftime("%H:%M")
        for s in day
    ]
    assert local == ["09:00", "11:00"]
    closed = availability.visit_slots(
        shop, TUESDAY_10 + 22 * HOUR, TUESDAY_10 + 46 * HOUR, HOUR, now=NOW
    )
    assert closed == []


def test_the_diagnosis_decides_the_work_and_its_length(workshop, completed_session):
    from autodoctor.booking.models import Diagnosis

    session = completed_session()
    Diagnosis.objects.create(
        session=session,
        findings="Front pads worn to 2 mm, rotor scored",
        service_type="brakes",
        estimated_labour_minutes=120,
        urgency="soon",
        written_by=session.mechanic,
    )
    visit = request(session, workshop)
    assert (visit.service_type, visit.duration_minutes) == ("brakes", 120)
    assert visit.ends_at - visit.starts_at == 2 * HOUR


def test_workshop_duration_for_the_service_type_when_no_diagnosis(workshop, completed_session):
    from autodoctor.availability.models import WorkshopVisitSettings

    WorkshopVisitSettings.objects.create(workshop=workshop, durations={"diagnostic": 90})
    visit = request(completed_session(), workshop)
    assert visit.duration_minutes == 90
