"""The waitlist under contention (issue 16, part 3), real threads on the test database
(SQLite file or PostgreSQL). One freed slot, 20 customers waiting for it, the offer to
the next customer run from several workers at once: exactly one hold for that slot.

The canary first shows why the overlap guard is needed: workers that read the queue at
different moments each find the slot free for a different entry; without the guard they
all hold it.
"""

import threading
from collections import Counter
from datetime import date

import pytest
import time_machine

from autodoctor.booking import services, waitlist
from autodoctor.booking.models import Reservation, ReservationStatus, WaitlistEntry
from tests.factories import CustomerFactory, MechanicFactory, VehicleFactory, weekly_hours
from tests.racing import race

from .conftest import NOW, SLOT, later
from .test_races import _drop_guard, _restore_guard, overlapping_active_pairs

pytestmark = [pytest.mark.race, pytest.mark.django_db(transaction=True)]

WAITING = 20
WORKERS = 8


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def freed_slot_and_twenty_waiting(db, intake):
    """A mechanic with one slot on SLOT's day, held by someone; 20 customers join the
    waitlist for it; the hold is released (the offer has not run yet)."""
    mechanic = MechanicFactory()
    weekly_hours(mechanic, days=range(7), start=10 * 60, end=10 * 60 + 30)
    first = CustomerFactory().user
    taken = services.reservation_hold(
        customer=first, intake=intake(first), mechanic_id=mechanic.pk, starts_at=SLOT, now=NOW
    )
    for _ in range(WAITING):
        profile = CustomerFactory()
        VehicleFactory(customer=profile)
        waitlist.waitlist_join(
            customer=profile.user,
            intake=intake(profile.user),
            mechanic_id=mechanic.pk,
            first_day=date(2026, 12, 1),
            last_day=date(2026, 12, 1),
            now=NOW,
        )
    services.reservation_release(reservation_id=taken.pk, customer=first, now=later(1))
    return mechanic


@pytest.fixture
def workers_read_the_queue_at_different_moments(monkeypatch):
    """Worker i sees the queue from its i-th entry (the others it read earlier were
    settled meanwhile), and every worker finds its first candidate before anyone holds:
    the window a check-then-insert design leaves open. The canary and the guarded race
    share it, so they differ only in the database guard."""
    barrier = threading.Barrier(WORKERS)
    real_waiting, real_slot = waitlist._waiting, waitlist.slot_for_entry
    local = threading.local()
    order = iter(range(WORKERS))
    order_lock = threading.Lock()

    def rotated(**kwargs):
        if not hasattr(local, "offset"):
            with order_lock:
                local.offset = next(order)
        entries = list(real_waiting(**kwargs))
        return entries[local.offset :] + entries[: local.offset]

    def slot_then_wait(*args, **kwargs):
        found = real_slot(*args, **kwargs)
        if not getattr(local, "waited", False):
            local.waited = True
            barrier.wait(30)
        return found

    monkeypatch.setattr(waitlist, "_waiting", rotated)
    monkeypatch.setattr(waitlist, "slot_for_entry", slot_then_wait)


def offer_from_workers(mechanic):
    return race(
        WORKERS, lambda i: waitlist.waitlist_offer_next(mechanic_id=mechanic.pk, now=later(2))
    )


def holds_for_the_slot(mechanic):
    return Reservation.objects.filter(
        mechanic=mechanic, starts_at=SLOT, status__in=["reserved", "confirmed"]
    ).count()


def test_canary_without_the_database_guard_racing_offers_hold_one_slot_many_times(
    freed_slot_and_twenty_waiting, workers_read_the_queue_at_different_moments
):
    mechanic = freed_slot_and_twenty_waiting
    _drop_guard()
    try:
        outcomes = offer_from_workers(mechanic)
        assert outcomes == Counter({"ok": WORKERS}), outcomes
        assert holds_for_the_slot(mechanic) > 1
        assert overlapping_active_pairs(mechanic.pk) > 0
    finally:
        Reservation.objects.update(status=ReservationStatus.RELEASED)
        _restore_guard()


def test_racing_offers_of_a_freed_slot_hold_it_exactly_once(
    freed_slot_and_twenty_waiting, workers_read_the_queue_at_different_moments
):
    mechanic = freed_slot_and_twenty_waiting
    outcomes = offer_from_workers(mechanic)
    assert outcomes == Counter({"ok": WORKERS}), outcomes
    assert holds_for_the_slot(mechanic) == 1
    assert overlapping_active_pairs(mechanic.pk) == 0
    assert WaitlistEntry.objects.filter(status="offered").count() == 1
    assert WaitlistEntry.objects.filter(status="waiting").count() == WAITING - 1
    # the losers' claim sessions were rolled back with their holds
    assert Reservation.objects.filter(session__metadata__has_key="waitlist_entry_id").count() == 1


def test_twenty_waiting_and_several_workers_give_the_slot_to_the_first_in_line(
    freed_slot_and_twenty_waiting,
):
    mechanic = freed_slot_and_twenty_waiting
    outcomes = offer_from_workers(mechanic)
    assert outcomes == Counter({"ok": WORKERS}), outcomes
    assert holds_for_the_slot(mechanic) == 1
    first_in_line = WaitlistEntry.objects.order_by("created_at", "pk").first()
    assert first_in_line.status == "offered"
    assert WaitlistEntry.objects.filter(status="offered").count() == 1
    # Once the claim is booked the slot is gone for good: another round offers nothing.
    hold = Reservation.objects.get(session_id=first_in_line.claim_session_id)
    services.reservation_confirm(
        reservation_id=hold.pk, customer=first_in_line.customer, now=later(3)
    )
    assert sum(race(WORKERS, lambda i: waitlist.waitlist_offer_next(now=later(4))).values()) == (
        WORKERS
    )
    assert holds_for_the_slot(mechanic) == 1
    first_in_line.refresh_from_db()
    assert first_in_line.status == "booked"
