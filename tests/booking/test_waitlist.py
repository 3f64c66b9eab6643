"""The waitlist (issue 16, part 3): joining, leaving, the order freed time is offered in,
claims that lapse and pass on, entries that expire. Time is frozen at conftest.NOW."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.test import override_settings
from django.urls import reverse

from autodoctor.booking import services, waitlist
from autodoctor.booking.models import (
    Reservation,
    ReservationStatus,
    Session,
    SessionStatus,
    WaitlistEntry,
    WaitlistStatus,
)
from autodoctor.errors import Conflict, DomainError, InvalidInput
from autodoctor.notifications.models import Notification
from autodoctor.notifications.rendering import message_render
from tests.factories import CustomerFactory, MechanicFactory, VehicleFactory, weekly_hours

from .conftest import NOW, SLOT, later

pytestmark = pytest.mark.django_db

DAY = date(2026, 12, 1)  # SLOT's day (Tuesday, Toronto)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def one_slot_mechanic(db):
    """Free 10:00–10:30 Toronto each day: one advice-length slot a day (SLOT on DAY)."""
    mechanic = MechanicFactory()
    weekly_hours(mechanic, days=range(7), start=10 * 60, end=10 * 60 + 30)
    return mechanic


def new_customer():
    profile = CustomerFactory()
    VehicleFactory(customer=profile)
    return profile.user


@pytest.fixture
def join(intake):
    def _join(customer, mechanic=None, first=DAY, last=DAY, plan="advice", now=NOW):
        return waitlist.waitlist_join(
            customer=customer,
            intake=intake(customer, plan),
            mechanic_id=mechanic.pk if mechanic else None,
            first_day=first,
            last_day=last,
            now=now,
        )

    return _join


@pytest.fixture
def slot_taken_then_freed(one_slot_mechanic, hold, join):
    """Someone holds SLOT; three customers join the waitlist for that day in order; then
    the hold is released. Returns (mechanic, [entries in joining order])."""
    other = new_customer()
    taken = hold(other, one_slot_mechanic)
    entries = [join(new_customer(), one_slot_mechanic) for _ in range(3)]
    assert waitlist.waitlist_offer_next(now=NOW) == 0  # nothing free yet
    services.reservation_release(reservation_id=taken.pk, customer=other, now=later(1))
    return one_slot_mechanic, entries


def active_holds_at(mechanic, start):
    return Reservation.objects.filter(
        mechanic=mechanic, starts_at=start, status__in=["reserved", "confirmed"]
    )


def fresh(entry):
    entry.refresh_from_db()
    return entry


def test_a_freed_slot_is_held_for_the_first_customer_who_joined(slot_taken_then_freed):
    mechanic, (first, second, third) = slot_taken_then_freed
    assert waitlist.waitlist_offer_next(mechanic_id=mechanic.pk, now=later(2)) == 1
    first = fresh(first)
    assert first.status == WaitlistStatus.OFFERED
    assert first.claim_expires_at == later(2) + timedelta(minutes=10)
    hold = active_holds_at(mechanic, SLOT).get()
    assert hold.status == ReservationStatus.RESERVED
    assert hold.session_id == first.claim_session_id
    assert hold.session.customer == first.customer
    assert hold.expires_at == first.claim_expires_at
    assert [fresh(e).status for e in (second, third)] == ["waiting", "waiting"]


def test_the_claim_email_links_to_the_claim_page(slot_taken_then_freed):
    mechanic, (first, *_rest) = slot_taken_then_freed
    waitlist.waitlist_offer_next(mechanic_id=mechanic.pk, now=later(2))
    first = fresh(first)
    note = Notification.objects.get(recipient=first.customer, kind="waitlist_claim")
    rendered = message_render(note)
    assert reverse("booking:waitlist_claim", args=[first.claim_session_id]) in rendered.body
    assert "10 minutes" in rendered.body
    assert "Tue 1 Dec 2026, 10:00" in rendered.subject


@override_settings(WAITLIST_CLAIM_MINUTES=3)
def test_the_claim_lasts_waitlist_claim_minutes(slot_taken_then_freed):
    _mechanic, (first, *_rest) = slot_taken_then_freed
    waitlist.waitlist_offer_next(now=later(2))
    assert fresh(first).claim_expires_at == later(5)


def test_offering_twice_changes_nothing(slot_taken_then_freed):
    mechanic, _entries = slot_taken_then_freed
    assert waitlist.waitlist_offer_next(now=later(2)) == 1
    assert waitlist.waitlist_offer_next(now=later(3)) == 0
    assert waitlist.waitlist_offer_next(mechanic_id=mechanic.pk, now=later(3)) == 0
    assert active_holds_at(mechanic, SLOT).count() == 1
    assert Session.objects.filter(metadata__has_key="waitlist_entry_id").count() == 1


def test_an_untaken_claim_passes_to_the_next_customer(slot_taken_then_freed, frozen):
    mechanic, (first, second, third) = slot_taken_then_freed
    waitlist.waitlist_offer_next(now=later(2))
    frozen.move_to(later(13))  # the 10 minutes ran out
    result = waitlist.waitlist_sweep(now=later(13))
    assert result == {"expired": 0, "lapsed": 1, "offered": 1}
    assert fresh(first).status == WaitlistStatus.LAPSED
    second = fresh(second)
    assert second.status == WaitlistStatus.OFFERED
    hold = active_holds_at(mechanic, SLOT).get()
    assert hold.session_id == second.claim_session_id
    assert fresh(third).status == WaitlistStatus.WAITING
    # The lapsed claim is not announced as an ordinary expired checkout hold.
    assert not Notification.objects.filter(recipient=first.customer, kind="hold_expired")
    assert Notification.objects.filter(recipient=second.customer, kind="waitlist_claim").exists()


def test_a_lapsed_claim_passes_on_even_when_a_booking_expired_it_first(
    slot_taken_then_freed, frozen
):
    """holds_expire (the checkout sweep, or a booking's lazy expiry) lapses the entry too."""
    _mechanic, (first, second, _third) = slot_taken_then_freed
    waitlist.waitlist_offer_next(now=later(2))
    services.holds_expire_all(now=later(13))
    assert fresh(first).status == WaitlistStatus.LAPSED
    assert waitlist.waitlist_offer_next(now=later(13)) == 1
    assert fresh(second).status == WaitlistStatus.OFFERED


def test_booking_the_held_time_settles_the_entry(slot_taken_then_freed):
    mechanic, (first, second, _third) = slot_taken_then_freed
    waitlist.waitlist_offer_next(now=later(2))
    first = fresh(first)
    hold = active_holds_at(mechanic, SLOT).get()
    services.reservation_confirm(reservation_id=hold.pk, customer=first.customer, now=later(4))
    assert fresh(first).status == WaitlistStatus.BOOKED
    assert Session.objects.get(pk=first.claim_session_id).status == SessionStatus.SCHEDULED
    assert waitlist.waitlist_offer_next(now=later(20)) == 0
    assert fresh(second).status == WaitlistStatus.WAITING


def test_leaving_with_a_held_time_releases_it_to_the_next(slot_taken_then_freed):
    mechanic, (first, second, _third) = slot_taken_then_freed
    waitlist.waitlist_offer_next(now=later(2))
    first = fresh(first)
    left = waitlist.waitlist_leave(entry_id=first.pk, customer=first.customer, now=later(3))
    assert left.status == WaitlistStatus.LEFT
    assert not active_holds_at(mechanic, SLOT).exists()
    assert Session.objects.get(pk=first.claim_session_id).status == SessionStatus.CANCELLED
    assert waitlist.waitlist_offer_next(now=later(3)) == 1
    assert fresh(second).status == WaitlistStatus.OFFERED


def test_leaving_a_waiting_entry_takes_it_off_the_list(slot_taken_then_freed):
    _mechanic, (first, second, _third) = slot_taken_then_freed
    waitlist.waitlist_leave(entry_id=first.pk, customer=first.customer, now=later(2))
    waitlist.waitlist_leave(entry_id=first.pk, customer=first.customer, now=later(2))  # twice
    assert fresh(first).status == WaitlistStatus.LEFT
    waitlist.waitlist_offer_next(now=later(2))
    assert fresh(second).status == WaitlistStatus.OFFERED


def test_nobody_else_can_leave_an_entry(slot_taken_then_freed):
    _mechanic, (first, second, _third) = slot_taken_then_freed
    with pytest.raises(DomainError) as refused:
        waitlist.waitlist_leave(entry_id=first.pk, customer=second.customer, now=later(2))
    assert refused.value.status == 404
    assert fresh(first).status == WaitlistStatus.WAITING


def test_entries_expire_after_their_range(one_slot_mechanic, join, frozen):
    entry = join(new_customer(), one_slot_mechanic, first=DAY, last=DAY)
    # 2026-12-02 00:00 Toronto = 05:00 UTC: the range is over.
    after = datetime(2026, 12, 2, 5, 1, tzinfo=UTC)
    frozen.move_to(after)
    assert waitlist.waitlist_sweep(now=after)["expired"] == 1
    assert fresh(entry).status == WaitlistStatus.EXPIRED


def test_an_entry_waits_through_its_range_when_its_mechanic_is_busy(one_slot_mechanic, hold, join):
    hold(new_customer(), one_slot_mechanic)
    entry = join(new_customer(), one_slot_mechanic)
    assert waitlist.waitlist_sweep(now=later(10)) == {"expired": 0, "lapsed": 0, "offered": 0}
    assert fresh(entry).status == WaitlistStatus.WAITING


def test_any_mechanic_takes_another_mechanics_free_time(one_slot_mechanic, hold, join):
    hold(new_customer(), one_slot_mechanic)
    specific = join(new_customer(), one_slot_mechanic)
    anyone = join(new_customer())
    other = MechanicFactory()
    weekly_hours(other, days=range(7), start=14 * 60, end=14 * 60 + 30)  # new hours
    assert waitlist.waitlist_sweep(now=later(5))["offered"] == 1
    assert fresh(specific).status == WaitlistStatus.WAITING
    anyone = fresh(anyone)
    assert anyone.status == WaitlistStatus.OFFERED
    assert Reservation.objects.get(session_id=anyone.claim_session_id).mechanic == other


def test_a_free_time_too_short_for_the_plan_is_not_offered(one_slot_mechanic, join):
    entry = join(new_customer(), one_slot_mechanic, plan="premium")  # 60 min; the gap is 30
    assert waitlist.waitlist_offer_next(now=later(1)) == 0
    assert fresh(entry).status == WaitlistStatus.WAITING


def test_time_outside_the_range_is_not_offered(one_slot_mechanic, hold, join):
    hold(new_customer(), one_slot_mechanic)  # DAY's slot; Dec 2's is free
    entry = join(new_customer(), one_slot_mechanic, first=DAY, last=DAY)
    assert waitlist.waitlist_offer_next(now=later(1)) == 0
    assert fresh(entry).status == WaitlistStatus.WAITING


def test_a_cancelled_booking_wakes_the_waitlist_after_commit(
    slot_taken_then_freed, monkeypatch, django_capture_on_commit_callbacks, intake, hold
):
    mechanic, _entries = slot_taken_then_freed
    woken = []
    monkeypatch.setattr(waitlist, "_enqueue_offer", woken.append)
    customer = new_customer()
    reservation = hold(customer, mechanic, start=SLOT + timedelta(days=1))
    services.reservation_confirm(reservation_id=reservation.pk, customer=customer, now=later(1))
    with django_capture_on_commit_callbacks(execute=True):
        services.session_cancel(session_id=reservation.session_id, user=customer, now=later(2))
    assert woken == [mechanic.pk]


def test_join_refuses_a_range_longer_than_sixty_days(join):
    with pytest.raises(InvalidInput) as refused:
        join(new_customer(), first=DAY, last=DAY + timedelta(days=60))
    assert refused.value.data["field"] == "last_day"
    join(new_customer(), first=DAY, last=DAY + timedelta(days=59))


def test_join_refuses_a_range_in_the_past_or_backwards(join):
    with pytest.raises(InvalidInput):
        join(new_customer(), first=date(2026, 11, 29), last=DAY)
    with pytest.raises(InvalidInput):
        join(new_customer(), first=DAY, last=DAY - timedelta(days=1))


def test_join_refuses_the_same_wait_twice_and_past_the_limit(join, one_slot_mechanic):
    customer = new_customer()
    join(customer, one_slot_mechanic)
    with pytest.raises(Conflict):
        join(customer, one_slot_mechanic)
    with override_settings(WAITLIST_ENTRIES_PER_CUSTOMER=2):
        join(customer)
        with pytest.raises(DomainError) as refused:
            join(customer, first=DAY + timedelta(days=3), last=DAY + timedelta(days=4))
    assert refused.value.status == 429
    assert WaitlistEntry.objects.filter(customer=customer).count() == 2
