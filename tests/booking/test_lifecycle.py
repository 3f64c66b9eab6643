"""Offers, immediate matching, the state machine, reschedule and cancel."""

from datetime import timedelta

import pytest
from django.db import OperationalError
from django.test import override_settings

from autodoctor.accounts.models import MechanicProfile
from autodoctor.availability.models import MechanicSettings
from autodoctor.booking import services
from autodoctor.booking.models import (
    Offer,
    OfferKind,
    OfferStatus,
    Reservation,
    ReservationStatus,
    SessionStatus,
)
from autodoctor.booking.selectors import offers_visible_to
from autodoctor.errors import (
    Busy,
    Conflict,
    DomainError,
    InvalidInput,
    InvalidTransition,
    NotFound,
    SlotUnavailable,
)
from tests.factories import CustomerFactory, MechanicFactory, start_now_published

from .conftest import SLOT, later

pytestmark = pytest.mark.django_db


def confirmed(customer, mechanic, hold, start=SLOT):
    reservation = hold(customer, mechanic, start=start)
    services.reservation_confirm(reservation_id=reservation.pk, customer=customer, now=later(1))
    reservation.session.refresh_from_db()
    return reservation.session


def test_a_start_now_session_goes_out_to_mechanics_only_once_paid_and_only_once(
    booking_customer, intake
):
    MechanicFactory(is_online=True)
    session = services.session_create_immediate(
        customer=booking_customer, intake=intake(booking_customer)
    )
    assert session.awaiting_payment and not Offer.objects.filter(session=session).exists()
    assert list(session.events.values_list("action", flat=True)) == ["booking.session.created"]

    # Without a payment, or with one that is not this session's, payments refuses and
    # the whole publication rolls back.
    for reference, code in (("", "payment_required"), ("payment:999", "payment_mismatch")):
        with pytest.raises(DomainError) as err:
            services.session_publish(
                session_id=session.pk, customer=booking_customer, payment_reference=reference
            )
        assert err.value.code == code
        session.refresh_from_db()
        assert session.awaiting_payment and not Offer.objects.filter(session=session).exists()

    paid = start_now_published(booking_customer, intake(booking_customer))
    reference = paid.metadata["payment_reference"]
    services.session_publish(  # a replayed payment
        session_id=paid.pk, customer=booking_customer, payment_reference=reference
    )
    assert not paid.awaiting_payment and paid.offered_at is not None
    assert paid.offers.filter(kind=OfferKind.BROADCAST).count() == 1
    assert paid.events.filter(action="booking.session.requested").count() == 1


def test_publishing_is_refused_for_a_cancelled_or_someone_elses_session(booking_customer, intake):
    session = services.session_create_immediate(
        customer=booking_customer, intake=intake(booking_customer)
    )
    with pytest.raises(NotFound):
        services.session_publish(
            session_id=session.pk, customer=CustomerFactory().user, payment_reference=""
        )
    services.session_cancel(session_id=session.pk, user=booking_customer, reason="")
    with pytest.raises(Conflict) as err:
        services.session_publish(
            session_id=session.pk, customer=booking_customer, payment_reference="payment:1"
        )
    assert err.value.code == "session_closed"
    assert not Offer.objects.filter(session=session).exists()


def test_unpaid_start_now_sessions_are_cancelled_after_the_limit_and_nobody_is_told(
    customer_limits_lifted, booking_customer, intake, settings, time_machine
):
    from autodoctor.notifications.models import Notification

    settings.UNPAID_SESSION_MINUTES = 45
    time_machine.move_to(later(0))
    stale = services.session_create_immediate(
        customer=booking_customer, intake=intake(booking_customer)
    )
    published = start_now_published(booking_customer, intake(booking_customer))
    time_machine.move_to(later(30))
    fresh = services.session_create_immediate(
        customer=booking_customer, intake=intake(booking_customer)
    )
    assert services.sessions_unpaid_expire(now=later(46)) == 1
    assert services.sessions_unpaid_expire(now=later(46)) == 0
    stale.refresh_from_db(), published.refresh_from_db(), fresh.refresh_from_db()
    assert stale.status == SessionStatus.CANCELLED and stale.cancelled_by == "system"
    assert published.status == fresh.status == SessionStatus.PENDING
    assert not Notification.objects.filter(session=stale).exists()


def test_the_migration_marks_sessions_offered_before_it_as_published(
    customer_limits_lifted, booking_customer, intake
):
    import importlib

    from django.apps import apps as django_apps

    migration = importlib.import_module("autodoctor.booking.migrations.0003_session_offered_at")
    old = start_now_published(booking_customer, intake(booking_customer))
    unpaid = services.session_create_immediate(
        customer=booking_customer, intake=intake(booking_customer)
    )
    type(old).objects.filter(pk=old.pk).update(offered_at=None)
    migration.mark_published(django_apps, None)
    old.refresh_from_db(), unpaid.refresh_from_db()
    assert old.offered_at == old.created_at
    assert unpaid.offered_at is None


def test_immediate_session_works_when_no_mechanic_has_any_hours(booking_customer, intake):
    mechanics = [MechanicFactory(is_online=i == 0) for i in range(5)]
    session = start_now_published(booking_customer, intake(booking_customer))
    assert session.status == SessionStatus.PENDING and session.mechanic is None
    kinds = sorted(session.offers.values_list("kind", flat=True))
    assert kinds == ["broadcast", "targeted", "targeted", "targeted"]
    best = session.offers.filter(kind=OfferKind.TARGETED).order_by("-score").first()
    assert best.mechanic == mechanics[0]  # online now: +50
    assert "online now" in best.reasons


def test_first_accept_wins_and_everyone_else_sees_already_taken(booking_customer, intake):
    a, b = MechanicFactory(), MechanicFactory()
    session = start_now_published(booking_customer, intake(booking_customer))
    offer_a = session.offers.get(mechanic=a)
    offer_b = session.offers.get(mechanic=b)
    services.offer_accept(offer_id=offer_a.pk, mechanic=a)
    with pytest.raises(Conflict) as err:
        services.offer_accept(offer_id=offer_b.pk, mechanic=b)
    assert err.value.code in {"already_taken", "not_found"} or isinstance(err.value, Conflict)
    session.refresh_from_db()
    assert session.status == SessionStatus.WAITING and session.mechanic == a
    assert Reservation.objects.get(session=session).status == ReservationStatus.CONFIRMED


def test_broadcast_opens_to_other_mechanics_only_after_the_targeted_window(
    booking_customer, intake
):
    targeted = [MechanicFactory(is_online=True) for _ in range(3)]
    outsider = MechanicFactory()
    session = start_now_published(booking_customer, intake(booking_customer))
    assert not offers_visible_to(outsider).exists()
    with override_settings(TARGETED_OFFER_SECONDS=0):
        visible = list(offers_visible_to(outsider))
        assert [o.kind for o in visible] == ["broadcast"]
        assert not offers_visible_to(targeted[0]).filter(kind="broadcast").exists()
        services.offer_accept(offer_id=visible[0].pk, mechanic=outsider)
    session.refresh_from_db()
    assert session.mechanic == outsider


def test_declining_is_free_and_records_nothing_about_the_mechanic(booking_customer, intake):
    mechanic = MechanicFactory()
    session = start_now_published(booking_customer, intake(booking_customer))
    offer = session.offers.get(mechanic=mechanic)
    services.offer_decline(offer_id=offer.pk, mechanic=mechanic)
    offer.refresh_from_db()
    assert offer.status == OfferStatus.DECLINED
    session.refresh_from_db()
    assert session.status == SessionStatus.PENDING  # still open to others


def test_no_acceptance_rate_or_decline_counter_exists_anywhere():
    # plan §5.3: no acceptance-rate metric, no penalty fields, on any model (the check
    # the admins' compliance page shows, analytics.compliance).
    from autodoctor.analytics.compliance import forbidden_fields

    assert forbidden_fields() == []


def test_mechanic_who_reviews_requests_gets_a_request_not_a_booking(
    booking_customer, available_mechanic, hold
):
    MechanicSettings.objects.filter(mechanic=available_mechanic).update(allow_instant_booking=False)
    reservation = hold(booking_customer, available_mechanic)
    services.reservation_confirm(
        reservation_id=reservation.pk, customer=booking_customer, now=later(1)
    )
    session = reservation.session
    session.refresh_from_db()
    assert session.status == SessionStatus.PENDING
    request = Offer.objects.get(session=session, kind=OfferKind.REQUEST)
    # An injected now: with the real clock past SLOT, the request has expired.
    Offer.objects.filter(pk=request.pk).update(offered_at=later(1))
    services.offer_accept(offer_id=request.pk, mechanic=available_mechanic, now=later(2))
    session.refresh_from_db()
    assert session.status == SessionStatus.SCHEDULED


def test_declined_request_frees_the_slot_and_cancels(booking_customer, available_mechanic, hold):
    MechanicSettings.objects.filter(mechanic=available_mechanic).update(allow_instant_booking=False)
    reservation = hold(booking_customer, available_mechanic)
    services.reservation_confirm(
        reservation_id=reservation.pk, customer=booking_customer, now=later(1)
    )
    request = Offer.objects.get(session=reservation.session, kind=OfferKind.REQUEST)
    services.offer_decline(offer_id=request.pk, mechanic=available_mechanic)
    reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.RELEASED
    assert reservation.session.status == SessionStatus.CANCELLED


def test_illegal_transition_is_409_naming_the_current_state(
    booking_customer, available_mechanic, hold
):
    session = confirmed(booking_customer, available_mechanic, hold)
    with pytest.raises(InvalidTransition) as err:
        services.session_end(session_id=session.pk, user=booking_customer)
    assert err.value.data["current_status"] == "scheduled"
    assert "scheduled" in err.value.message


def test_scheduled_session_starts_from_fifteen_minutes_before(
    booking_customer, available_mechanic, hold
):
    session = confirmed(booking_customer, available_mechanic, hold)
    with pytest.raises(Conflict):
        services.session_start(
            session_id=session.pk, user=booking_customer, now=SLOT - timedelta(minutes=16)
        )
    started = services.session_start(
        session_id=session.pk, user=available_mechanic.user, now=SLOT - timedelta(minutes=15)
    )
    assert started.status == SessionStatus.LIVE
    ended = services.session_end(session_id=session.pk, user=available_mechanic.user)
    assert ended.status == SessionStatus.COMPLETED


def test_strangers_cannot_touch_a_session(booking_customer, available_mechanic, hold):
    session = confirmed(booking_customer, available_mechanic, hold)
    with pytest.raises(NotFound):
        services.session_cancel(session_id=session.pk, user=CustomerFactory().user, reason="x")
    with pytest.raises(NotFound):
        services.session_start(session_id=session.pk, user=MechanicFactory().user, now=SLOT)


def test_cancel_releases_the_slot_at_once(booking_customer, available_mechanic, hold):
    session = confirmed(booking_customer, available_mechanic, hold)
    services.session_cancel(
        session_id=session.pk, user=booking_customer, reason="car fixed", now=later(2)
    )
    session.refresh_from_db()
    assert (session.status, session.cancelled_by) == (SessionStatus.CANCELLED, "customer")
    assert not Reservation.objects.filter(status__in=["reserved", "confirmed"]).exists()
    again = hold(CustomerFactory().user, available_mechanic, now=later(3))
    assert again.status == ReservationStatus.RESERVED


def test_mechanic_must_give_a_reason_to_cancel(booking_customer, available_mechanic, hold):
    session = confirmed(booking_customer, available_mechanic, hold)
    with pytest.raises(Exception) as err:
        services.session_cancel(session_id=session.pk, user=available_mechanic.user, reason="")
    assert getattr(err.value, "data", {}).get("field") == "reason"


def test_reschedule_moves_the_booking_and_counts(booking_customer, available_mechanic, hold):
    session = confirmed(booking_customer, available_mechanic, hold)
    new = SLOT + timedelta(hours=2)
    moved = services.session_reschedule(
        session_id=session.pk, user=booking_customer, new_start=new, now=later(3)
    )
    assert moved.scheduled_for == new and moved.reschedule_count == 1
    active = Reservation.objects.get(session=session, status=ReservationStatus.CONFIRMED)
    assert active.starts_at == new
    assert (
        Reservation.objects.filter(session=session, status=ReservationStatus.RELEASED).count() == 1
    )
    assert session.events.filter(action="booking.session.rescheduled").count() == 1


def test_reschedule_to_an_overlapping_later_time_does_not_collide_with_itself(
    booking_customer, available_mechanic, hold
):
    session = confirmed(booking_customer, available_mechanic, hold)
    moved = services.session_reschedule(
        session_id=session.pk,
        user=available_mechanic.user,
        new_start=SLOT + timedelta(minutes=15),
        now=later(3),
    )
    assert moved.scheduled_for == SLOT + timedelta(minutes=15)


def test_reschedule_into_a_taken_slot_keeps_the_old_booking(
    booking_customer, available_mechanic, hold
):
    session = confirmed(booking_customer, available_mechanic, hold)
    other = confirmed(
        CustomerFactory().user, available_mechanic, hold, start=SLOT + timedelta(hours=3)
    )
    with pytest.raises(SlotUnavailable):
        services.session_reschedule(
            session_id=session.pk,
            user=booking_customer,
            new_start=other.scheduled_for,
            now=later(3),
        )
    session.refresh_from_db()
    assert session.scheduled_for == SLOT and session.reschedule_count == 0
    assert (
        Reservation.objects.get(session=session, status=ReservationStatus.CONFIRMED).starts_at
        == SLOT
    )


def test_reschedule_inside_the_cutoff_is_refused(booking_customer, available_mechanic, hold):
    session = confirmed(booking_customer, available_mechanic, hold)
    with pytest.raises(Conflict) as err:
        services.session_reschedule(
            session_id=session.pk,
            user=booking_customer,
            new_start=SLOT + timedelta(hours=2),
            now=SLOT - timedelta(minutes=30),
        )
    assert err.value.code == "reschedule_cutoff"


def test_matching_for_a_scheduled_time_keeps_only_free_mechanics(
    booking_customer, available_mechanic, intake
):
    from autodoctor.booking.matching import MatchCriteria, mechanics_ranked

    MechanicFactory()  # no hours
    matches = mechanics_ranked(
        MatchCriteria(concern="brakes squeal", scheduled_for=SLOT, duration_minutes=30),
        now=later(0),
    )
    assert [m.mechanic_id for m in matches] == [available_mechanic.pk]
    assert MechanicProfile.objects.count() == 2


def test_start_now_matching_skips_mechanics_who_could_not_accept_for_a_booking(
    booking_customer, intake, hold
):
    """Accepting pins [now, now + 15 min + the mechanic's 15-min buffer); a booking at
    15:00-15:30 UTC (blocked until 15:45 by its own buffer) rules out 14:31 to 15:44."""
    from autodoctor.booking.matching import MatchCriteria, mechanics_ranked
    from tests.factories import weekly_hours

    busy, free = MechanicFactory(is_online=True, rating="5.0"), MechanicFactory(is_online=True)
    weekly_hours(busy, days=range(7))
    booked = hold(CustomerFactory().user, busy)  # 15:00-15:30 UTC on SLOT's day
    services.reservation_confirm(
        reservation_id=booked.pk, customer=booked.session.customer, now=later(1)
    )
    criteria = MatchCriteria(concern="brakes squeal", duration_minutes=15)

    def ranked(minutes_from_slot: int) -> list[int]:
        at = SLOT + timedelta(minutes=minutes_from_slot)
        return [m.mechanic_id for m in mechanics_ranked(criteria, now=at)]

    for minutes in (-29, -10, 5, 44):  # inside the booking, or too close to it
        assert ranked(minutes) == [free.pk], minutes
    for minutes in (-31, 46):  # clear of it, buffers included
        assert ranked(minutes) == [busy.pk, free.pk], minutes  # the better-rated first


def test_start_now_matching_reads_each_mechanics_own_buffer_before_a_booking(
    booking_customer, intake, hold
):
    """A one-hour buffer rules out 75 minutes before a booking for a 15-minute request;
    a mechanic without a settings row has the default 15-minute buffer (30 minutes)."""
    from autodoctor.availability.models import MechanicSettings
    from autodoctor.booking.matching import MatchCriteria, mechanics_ranked
    from tests.factories import weekly_hours

    slow = MechanicFactory(is_online=True, rating="5.0", settings__buffer_minutes=60)
    plain = MechanicFactory(is_online=True, rating="4.5")
    for mechanic in (slow, plain):
        weekly_hours(mechanic, days=range(7))
        booked = hold(CustomerFactory().user, mechanic)  # 15:00-15:30 UTC on SLOT's day
        services.reservation_confirm(
            reservation_id=booked.pk, customer=booked.session.customer, now=later(1)
        )
    MechanicSettings.objects.filter(mechanic=plain).delete()
    criteria = MatchCriteria(concern="brakes squeal", duration_minutes=15)

    def ranked(minutes_before: int) -> list[int]:
        at = SLOT - timedelta(minutes=minutes_before)
        return [m.mechanic_id for m in mechanics_ranked(criteria, now=at)]

    assert ranked(74) == [plain.pk]  # pins up to 15:01 for the one-hour buffer
    assert ranked(75) == [slow.pk, plain.pk]  # up to 15:00 exactly: clear
    assert ranked(29) == []  # both ruled out: the default buffer pins up to 15:01
    assert ranked(30) == [plain.pk]  # the default pins up to 15:00 exactly: clear


def test_an_expired_hold_does_not_block_accepting_an_immediate_session(
    booking_customer, intake, hold
):
    # Regression: the accept path inserted its reservation without expiring stale holds.
    from tests.factories import weekly_hours

    mechanic = MechanicFactory()
    weekly_hours(mechanic, days=range(7))
    stale = hold(CustomerFactory().user, mechanic)  # 15:00-15:30 UTC, expires NOW+15 min
    session = start_now_published(booking_customer, intake(booking_customer))
    offer = session.offers.get(mechanic=mechanic)
    services.offer_accept(offer_id=offer.pk, mechanic=mechanic, now=SLOT + timedelta(minutes=5))
    stale.refresh_from_db()
    assert stale.status == ReservationStatus.EXPIRED
    session.refresh_from_db()
    assert session.status == SessionStatus.WAITING


def test_accepting_a_start_now_session_that_overlaps_the_mechanics_booking_is_refused(
    booking_customer, intake, hold
):
    from tests.factories import weekly_hours

    mechanic = MechanicFactory()
    weekly_hours(mechanic, days=range(7))
    booked = hold(CustomerFactory().user, mechanic)  # 15:00-15:30 UTC on SLOT's day
    services.reservation_confirm(
        reservation_id=booked.pk, customer=booked.session.customer, now=later(1)
    )
    session = start_now_published(booking_customer, intake(booking_customer))
    offer = session.offers.get(mechanic=mechanic)
    with pytest.raises(Conflict) as err:
        services.offer_accept(offer_id=offer.pk, mechanic=mechanic, now=SLOT + timedelta(minutes=5))
    assert err.value.code == "overlaps_your_booking"
    session.refresh_from_db()
    offer.refresh_from_db()
    assert (session.status, session.mechanic_id) == (SessionStatus.PENDING, None)
    assert offer.status == OfferStatus.OFFERED
    assert not Reservation.objects.filter(session=session).exists()


def test_a_new_start_without_a_zone_is_refused_and_the_booking_stays(
    booking_customer, available_mechanic, hold
):
    session = confirmed(booking_customer, available_mechanic, hold)
    with pytest.raises(InvalidInput) as err:
        services.session_reschedule(
            session_id=session.pk,
            user=booking_customer,
            new_start=(SLOT + timedelta(hours=2)).replace(tzinfo=None),
            now=later(3),
        )
    assert err.value.data["field"] == "start"
    session.refresh_from_db()
    assert (session.scheduled_for, session.reschedule_count) == (SLOT, 0)


# --------------------------------------------------------------------------- transactions


class _DeadlockCause(Exception):
    """What psycopg raises for a deadlock: its sqlstate is 40P01."""

    sqlstate = "40P01"


def _deadlock() -> OperationalError:
    error = OperationalError("deadlock detected")
    error.__cause__ = _DeadlockCause()
    return error


@pytest.fixture
def no_retry_pause(monkeypatch):
    monkeypatch.setattr(services.time, "sleep", lambda seconds: None)


def test_a_transaction_that_keeps_deadlocking_is_tried_three_times_then_busy(no_retry_pause):
    attempts = []

    def work():
        attempts.append(1)
        raise _deadlock()

    with pytest.raises(Busy) as err:
        services.run_booking_transaction(work)
    assert len(attempts) == 3
    assert (err.value.code, err.value.status) == ("busy", 503)
    assert isinstance(err.value.__cause__, OperationalError)


def test_a_transaction_that_deadlocks_once_succeeds_on_the_retry(no_retry_pause):
    attempts = []

    def work():
        attempts.append(1)
        if len(attempts) == 1:
            raise _deadlock()
        return "booked"

    assert services.run_booking_transaction(work) == "booked"
    assert len(attempts) == 2


def test_an_operational_error_that_is_not_a_deadlock_is_raised_at_once(no_retry_pause):
    attempts = []

    def work():
        attempts.append(1)
        raise OperationalError("no such table: booking_session")

    with pytest.raises(OperationalError):
        services.run_booking_transaction(work)
    assert len(attempts) == 1
