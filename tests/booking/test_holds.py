"""Holds, confirmation, release, expiry (ARCHITECTURE invariants 1 and 4)."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from autodoctor.accounts.models import ApprovalStatus, MechanicProfile, User
from autodoctor.booking import services
from autodoctor.booking.models import Reservation, ReservationStatus, Session, SessionStatus
from autodoctor.errors import Conflict, InvalidInput, NotFound, SlotUnavailable
from tests.factories import CustomerFactory, MechanicFactory, weekly_hours

from .conftest import NOW, SLOT, later

pytestmark = pytest.mark.django_db


def test_hold_creates_a_pending_session_and_a_15_minute_hold(
    booking_customer, available_mechanic, hold
):
    reservation = hold(booking_customer, available_mechanic)
    assert reservation.status == ReservationStatus.RESERVED
    assert reservation.expires_at == NOW + timedelta(minutes=15)
    assert reservation.ends_at - reservation.starts_at == timedelta(minutes=30)
    assert reservation.blocked_until == reservation.ends_at + timedelta(minutes=15)  # buffer
    assert reservation.session.status == SessionStatus.PENDING
    assert reservation.session.scheduled_for == SLOT


def test_second_hold_on_the_same_slot_is_409_with_next_free_slots(
    booking_customer, available_mechanic, hold
):
    hold(booking_customer, available_mechanic)
    with pytest.raises(SlotUnavailable) as err:
        hold(CustomerFactory().user, available_mechanic)
    assert err.value.status == 409
    assert err.value.data["next_free_slots"], "the loser is offered alternatives"
    assert Reservation.objects.count() == 1


def test_hold_inside_the_buffer_after_a_booking_is_refused(
    booking_customer, available_mechanic, hold
):
    hold(booking_customer, available_mechanic)  # 15:00–15:30 UTC, buffer to 15:45
    with pytest.raises(SlotUnavailable):
        hold(CustomerFactory().user, available_mechanic, start=SLOT + timedelta(minutes=30))
    ok = hold(CustomerFactory().user, available_mechanic, start=SLOT + timedelta(minutes=45))
    assert ok.status == ReservationStatus.RESERVED


def test_expired_hold_does_not_block_a_new_booking(booking_customer, available_mechanic, hold):
    first = hold(booking_customer, available_mechanic)
    second = hold(CustomerFactory().user, available_mechanic, now=later(16))  # no sweeper ran
    assert second.status == ReservationStatus.RESERVED
    first.refresh_from_db()
    assert first.status == ReservationStatus.EXPIRED


def test_hold_outside_the_mechanics_hours_is_refused(booking_customer, available_mechanic, hold):
    with pytest.raises(SlotUnavailable):
        hold(booking_customer, available_mechanic, start=SLOT.replace(hour=3))  # 22:00 Toronto
    assert not Session.objects.exists()


def test_a_refusal_names_the_mechanic(booking_customer, available_mechanic, hold):
    """The hold path carries the mechanic's id and fetches the profile only to word a
    refusal: the words still name them."""
    with pytest.raises(SlotUnavailable) as refused:
        hold(booking_customer, available_mechanic, start=SLOT.replace(hour=3))
    assert refused.value.code == "not_available"
    assert str(available_mechanic.user) in refused.value.message


@pytest.mark.parametrize("unbookable", ["pending approval", "account closed"])
def test_a_mechanic_the_public_may_not_book_cannot_be_held(booking_customer, hold, unbookable):
    mechanic = MechanicFactory(
        approval_status=ApprovalStatus.PENDING
        if unbookable == "pending approval"
        else ApprovalStatus.APPROVED
    )
    weekly_hours(mechanic, days=range(7), start=9 * 60, end=17 * 60)
    if unbookable == "account closed":
        User.objects.filter(pk=mechanic.user_id).update(is_active=False)
    with pytest.raises(NotFound):
        hold(booking_customer, mechanic)
    assert not Session.objects.exists() and not Reservation.objects.exists()


def test_a_hold_reads_the_mechanic_only_in_the_availability_load(
    booking_customer, available_mechanic, intake
):
    """One read of the mechanic's profile per hold: the slot check's load, which also
    tells approval, rules and zone (a separate ORM fetch of the profile and its user
    came first, and cost more CPU than any other statement of a hold)."""
    answers = intake(booking_customer)
    with CaptureQueriesContext(connection) as captured:
        services.reservation_hold(
            customer=booking_customer,
            intake=answers,
            mechanic_id=available_mechanic.pk,
            starts_at=SLOT,
            now=NOW,
        )
    profile_table = MechanicProfile._meta.db_table
    reads = [q["sql"] for q in captured if f"FROM {profile_table}" in q["sql"].replace('"', "")]
    assert len(reads) == 1, reads
    assert "approval_status" in reads[0]
    assert Reservation.objects.get().mechanic_id == available_mechanic.pk


def test_database_refuses_overlapping_active_reservations_even_without_the_service(
    booking_customer, available_mechanic, hold
):
    first = hold(booking_customer, available_mechanic)
    with pytest.raises(IntegrityError), transaction.atomic():
        Reservation.objects.create(
            mechanic=available_mechanic,
            session=first.session,
            starts_at=SLOT + timedelta(minutes=10),
            ends_at=SLOT + timedelta(minutes=40),
            blocked_until=SLOT + timedelta(minutes=40),
            status=ReservationStatus.CONFIRMED,
        )


def test_released_rows_do_not_count_for_the_constraint(booking_customer, available_mechanic, hold):
    first = hold(booking_customer, available_mechanic)
    services.reservation_release(reservation_id=first.pk, customer=booking_customer, now=later(1))
    second = hold(CustomerFactory().user, available_mechanic, now=later(2))
    assert second.status == ReservationStatus.RESERVED


def test_confirm_turns_the_hold_into_a_scheduled_session(
    booking_customer, available_mechanic, hold
):
    reservation = hold(booking_customer, available_mechanic)
    services.reservation_confirm(
        reservation_id=reservation.pk, customer=booking_customer, now=later(5)
    )
    reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.CONFIRMED and reservation.expires_at is None
    assert reservation.session.status == SessionStatus.SCHEDULED
    actions = list(reservation.session.events.values_list("action", flat=True))
    assert actions == ["booking.session.held", "booking.session.confirmed"]


def test_confirming_twice_changes_nothing(booking_customer, available_mechanic, hold):
    reservation = hold(booking_customer, available_mechanic)
    services.reservation_confirm(
        reservation_id=reservation.pk, customer=booking_customer, now=later(5)
    )
    services.reservation_confirm(
        reservation_id=reservation.pk, customer=booking_customer, now=later(6)
    )
    assert reservation.session.events.filter(action="booking.session.confirmed").count() == 1


def test_late_confirmation_revives_the_hold_when_the_slot_is_still_free(
    booking_customer, available_mechanic, hold
):
    reservation = hold(booking_customer, available_mechanic)
    services.holds_expire_all(now=later(20))
    reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.EXPIRED
    services.reservation_confirm(
        reservation_id=reservation.pk, customer=booking_customer, now=later(25)
    )
    reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.CONFIRMED


def test_late_confirmation_after_someone_else_took_the_slot_is_409(
    booking_customer, available_mechanic, hold
):
    reservation = hold(booking_customer, available_mechanic)
    other = CustomerFactory().user
    taken = hold(other, available_mechanic, now=later(16))
    services.reservation_confirm(reservation_id=taken.pk, customer=other, now=later(17))
    with pytest.raises(SlotUnavailable):
        services.reservation_confirm(
            reservation_id=reservation.pk, customer=booking_customer, now=later(18)
        )
    assert Reservation.objects.filter(status=ReservationStatus.CONFIRMED).count() == 1


def test_someone_elses_hold_is_not_found(booking_customer, available_mechanic, hold):
    reservation = hold(booking_customer, available_mechanic)
    with pytest.raises(NotFound):
        services.reservation_confirm(
            reservation_id=reservation.pk, customer=CustomerFactory().user, now=later(1)
        )


def test_released_hold_cannot_be_confirmed(booking_customer, available_mechanic, hold):
    reservation = hold(booking_customer, available_mechanic)
    services.reservation_release(
        reservation_id=reservation.pk, customer=booking_customer, now=later(1)
    )
    with pytest.raises(Conflict):
        services.reservation_confirm(
            reservation_id=reservation.pk, customer=booking_customer, now=later(2)
        )
    assert Session.objects.get().status == SessionStatus.CANCELLED


def test_sweeper_marks_expired_holds_and_leaves_live_ones(
    booking_customer, available_mechanic, hold
):
    old = hold(booking_customer, available_mechanic)
    fresh = hold(
        CustomerFactory().user, available_mechanic, start=SLOT + timedelta(hours=2), now=later(10)
    )
    assert services.holds_expire_all(now=later(16)) == 1
    assert services.holds_expire_all(now=later(16)) == 0
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert (old.status, fresh.status) == (ReservationStatus.EXPIRED, ReservationStatus.RESERVED)


@pytest.mark.parametrize(
    ("plan", "concern", "field"),
    [
        ("premium", "short", "concern"),
        ("gold", "A long enough concern", "plan"),
        ("urgent", "abc", "concern"),
    ],
)
def test_intake_rejects_bad_answers_naming_the_field(booking_customer, plan, concern, field):
    with pytest.raises(InvalidInput) as err:
        services.intake_validate(customer=booking_customer, plan=plan, concern=concern)
    assert err.value.data["field"] == field


def test_urgent_accepts_a_five_character_concern(booking_customer):
    assert (
        services.intake_validate(customer=booking_customer, plan="urgent", concern="smoke").concern
        == "smoke"
    )


@pytest.mark.django_db(transaction=True)
def test_the_periodic_sweep_task_runs_through_the_worker(
    booking_customer, available_mechanic, hold
):
    from django.core.management import call_command
    from django.utils import timezone

    from autodoctor.booking.tasks import holds_expire

    reservation = hold(booking_customer, available_mechanic)
    Reservation.objects.filter(pk=reservation.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    result = holds_expire.enqueue()
    call_command("db_worker", batch=True, no_startup_delay=True, verbosity=0)
    result.refresh()
    assert result.return_value == 1
    reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.EXPIRED


@pytest.mark.django_db(transaction=True)
def test_the_unpaid_start_now_sweep_is_periodic_and_runs_through_the_worker(
    booking_customer, intake, settings
):
    from django.core.management import call_command
    from django.utils import timezone

    from autodoctor.booking.models import Session, SessionStatus
    from autodoctor.booking.tasks import sessions_unpaid_expire
    from autodoctor.periodic import PERIODIC_TASKS

    assert "autodoctor.booking.tasks.sessions_unpaid_expire" in {p for _, p in PERIODIC_TASKS}
    session = services.session_create_immediate(
        customer=booking_customer, intake=intake(booking_customer)
    )
    Session.objects.filter(pk=session.pk).update(
        created_at=timezone.now() - timedelta(minutes=settings.UNPAID_SESSION_MINUTES + 1)
    )
    result = sessions_unpaid_expire.enqueue()
    call_command("db_worker", batch=True, no_startup_delay=True, verbosity=0)
    result.refresh()
    assert result.return_value == 1
    session.refresh_from_db()
    assert session.status == SessionStatus.CANCELLED


def test_confirming_a_hold_whose_slot_has_started_is_refused(
    booking_customer, available_mechanic, hold
):
    reservation = hold(booking_customer, available_mechanic)
    with pytest.raises(Conflict) as err:
        services.reservation_confirm(
            reservation_id=reservation.pk,
            customer=booking_customer,
            now=SLOT + timedelta(minutes=1),
        )
    assert err.value.code == "slot_in_past"
    reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.RESERVED
    assert reservation.session.status == SessionStatus.PENDING


def test_only_a_hold_can_be_released(booking_customer, available_mechanic, hold):
    reservation = hold(booking_customer, available_mechanic)
    services.reservation_confirm(
        reservation_id=reservation.pk, customer=booking_customer, now=later(1)
    )
    with pytest.raises(Conflict) as err:
        services.reservation_release(
            reservation_id=reservation.pk, customer=booking_customer, now=later(2)
        )
    assert (err.value.code, err.value.data["current_status"]) == ("not_a_hold", "confirmed")
    reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.CONFIRMED
    assert reservation.session.status == SessionStatus.SCHEDULED


def test_a_start_time_without_a_zone_is_refused_naming_the_field(
    booking_customer, available_mechanic, hold
):
    with pytest.raises(InvalidInput) as err:
        hold(booking_customer, available_mechanic, start=SLOT.replace(tzinfo=None))
    assert err.value.data["field"] == "start"
    assert not Session.objects.exists()


def test_intake_refuses_a_vehicle_from_someone_elses_garage(booking_customer):
    from tests.factories import VehicleFactory

    theirs = VehicleFactory()
    with pytest.raises(InvalidInput) as err:
        services.intake_validate(
            customer=booking_customer,
            plan="advice",
            concern="Grinding noise when braking",
            vehicle_id=theirs.pk,
        )
    assert err.value.message == "That vehicle is not in your garage."
    assert err.value.data["field"] == "vehicle_id"


def test_intake_refuses_an_unknown_session_type(booking_customer):
    with pytest.raises(InvalidInput) as err:
        services.intake_validate(
            customer=booking_customer,
            plan="advice",
            concern="Grinding noise when braking",
            session_type="telepathy",
        )
    assert err.value.data["field"] == "type"
