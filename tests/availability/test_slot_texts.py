"""The slot list route's remembered texts (`service.available_slots_json`, issue 15): a
list computed once from the mechanic's hours is served again while those rows stay the
same, with busy time, notice and advance taken out for each call, and never served once
a row changed."""

import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from autodoctor.availability import engine, service, wire
from autodoctor.availability.models import DateOverride, MechanicSettings, TimeOff, WeeklyBlock
from autodoctor.booking.models import Reservation, ReservationStatus
from tests.factories import MechanicFactory, weekly_hours

pytestmark = pytest.mark.django_db

# Monday 2026-03-02 06:00 in Toronto; the list asks for Monday to Thursday.
NOW = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)
START = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)  # Monday 00:00 Toronto
END = START + timedelta(days=4)
HALF_HOUR = timedelta(minutes=30)
ZONE = "America/Vancouver"  # the viewer's zone, not the mechanic's


@pytest.fixture
def mechanic():
    mechanic = MechanicFactory(
        settings__min_notice_minutes=120,
        settings__max_advance_days=2,
        settings__buffer_minutes=15,
        settings__slot_step_minutes=15,
    )
    weekly_hours(mechanic, days=range(7), start=9 * 60, end=17 * 60)
    return mechanic


@pytest.fixture
def engine_runs(monkeypatch):
    """How many times the engine listed slots."""
    runs = []
    real = engine.bookable_slots

    def counted(**kwargs):
        runs.append(kwargs["window"])
        return real(**kwargs)

    monkeypatch.setattr(engine, "bookable_slots", counted)
    service._slot_texts.cache_clear()
    return runs


def listed(mechanic, now):
    return service.available_slots_json(mechanic.pk, START, END, HALF_HOUR, ZONE, now=now)


def computed(mechanic, now):
    """What the list is, worked out without anything remembered."""
    slots = service.available_slots(mechanic, START, END, HALF_HOUR, now=now)
    return wire.slots_json(mechanic.pk, ZONE, 30, slots)


def booked(mechanic, start, status=ReservationStatus.CONFIRMED):
    """A 30-minute reservation at ``start`` with the mechanic's 15-minute buffer (a hold
    expires 15 minutes after NOW)."""
    return Reservation.objects.create(
        mechanic=mechanic,
        starts_at=start,
        ends_at=start + HALF_HOUR,
        blocked_until=start + HALF_HOUR + timedelta(minutes=15),
        status=status,
        expires_at=NOW + timedelta(minutes=15) if status == ReservationStatus.RESERVED else None,
    )


def test_a_list_is_computed_once_and_cut_for_each_moment(mechanic, engine_runs):
    first = json.loads(listed(mechanic, NOW))
    # notice: 2 h, so nothing before 08:00 Toronto would count; hours open at 09:00
    assert first["slots"][0]["start"] == "2026-03-02T14:00:00Z"
    # advance: 2 days, so no start after Wednesday 06:00 Toronto, before it opens:
    # the last is Tuesday 16:30, the last 30-minute slot before 17:00
    assert first["slots"][-1]["start"] == "2026-03-03T21:30:00Z"
    assert len(engine_runs) == 1
    # Moments across the day: the notice eats the morning, the advance adds Wednesday.
    for minutes in (0, 1, 59, 60, 61, 180, 181, 7 * 60, 24 * 60 + 3 * 60 + 15, 26 * 60):
        now = NOW + timedelta(minutes=minutes)
        assert listed(mechanic, now) == computed(mechanic, now), minutes
    # every one of those was cut from the list computed first (the computed() reference
    # calls the engine itself, once each)
    assert len(engine_runs) == 1 + 10


def test_a_moment_past_the_advance_window_lists_the_next_days_slots(mechanic, engine_runs):
    listed(mechanic, NOW)
    later = NOW + timedelta(days=1, hours=4)  # Tuesday 10:00 Toronto
    slots = json.loads(listed(mechanic, later))["slots"]
    assert slots[0]["start"] == "2026-03-03T17:00:00Z"  # Tuesday 12:00 Toronto: 2 h notice
    assert slots[-1]["start"] == "2026-03-05T15:00:00Z"  # Thursday 10:00: 2 days ahead
    assert len(engine_runs) == 1


@pytest.mark.parametrize(
    "write",
    [
        "hold",
        "confirmed_booking",
        "released_hold",
        "time_off",
        "weekly_hours",
        "date_override",
        "settings",
    ],
)
def test_any_write_that_changes_slots_is_seen_on_the_next_read(mechanic, engine_runs, write):
    before = listed(mechanic, NOW)
    tuesday_ten = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)
    if write in ("hold", "confirmed_booking", "released_hold"):
        status = {
            "hold": ReservationStatus.RESERVED,
            "confirmed_booking": ReservationStatus.CONFIRMED,
            "released_hold": ReservationStatus.RESERVED,
        }[write]
        reservation = booked(mechanic, tuesday_ten, status)
        if write == "released_hold":
            listed(mechanic, NOW)  # remembered with the hold in it
            Reservation.objects.filter(pk=reservation.pk).update(status=ReservationStatus.RELEASED)
    elif write == "time_off":
        TimeOff.objects.create(
            mechanic=mechanic,
            starts_at=tuesday_ten,
            ends_at=tuesday_ten + timedelta(hours=2),
            status="approved",
        )
    elif write == "weekly_hours":
        WeeklyBlock.objects.filter(mechanic=mechanic, day_of_week=2).update(end_minute=12 * 60)
    elif write == "date_override":
        DateOverride.objects.create(
            mechanic=mechanic, day=tuesday_ten.date(), start_minute=None, end_minute=None
        )
    else:
        MechanicSettings.objects.filter(mechanic=mechanic).update(slot_step_minutes=30)
    after = listed(mechanic, NOW)
    assert after == computed(mechanic, NOW)
    if write == "released_hold":
        assert after == before
    else:
        assert after != before


def test_an_expired_hold_stops_blocking_without_a_write(mechanic, engine_runs):
    tuesday_ten = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)
    booked(mechanic, tuesday_ten, ReservationStatus.RESERVED)
    held = listed(mechanic, NOW)
    assert '"start":"2026-03-03T15:00:00Z"' not in held
    lapsed = NOW + timedelta(minutes=16)
    assert '"start":"2026-03-03T15:00:00Z"' in listed(mechanic, lapsed)
    assert listed(mechanic, lapsed) == computed(mechanic, lapsed)


def test_the_viewers_zone_is_part_of_what_is_remembered(mechanic, engine_runs):
    vancouver = listed(mechanic, NOW)
    toronto = service.available_slots_json(
        mechanic.pk, START, END, HALF_HOUR, "America/Toronto", now=NOW
    )
    assert json.loads(vancouver)["slots"][0]["start_local"] == "2026-03-02T06:00:00-08:00"
    assert json.loads(toronto)["slots"][0]["start_local"] == "2026-03-02T09:00:00-05:00"
    assert len(engine_runs) == 2


def test_bookings_and_holds_are_taken_out_without_computing_the_list_again(mechanic, engine_runs):
    listed(mechanic, NOW)
    tuesday_ten = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)
    for hour in range(3):
        booked(mechanic, tuesday_ten + timedelta(hours=hour))
        body = listed(mechanic, NOW)
        # the 15-minute buffer blocks 09:45 onwards: 09:15-09:45 fits, 09:30-10:00 not
        assert '"start":"2026-03-03T14:15:00Z"' in body
        assert '"start":"2026-03-03T14:30:00Z"' not in body
        assert f'"start":"2026-03-03T{15 + hour}:45:00Z"' in body  # 30 min after the end
    runs = len(engine_runs)
    assert runs == 1  # the hours did not change: the first list, cut three ways
    assert listed(mechanic, NOW) == computed(mechanic, NOW)


@pytest.mark.parametrize("seed", range(12))
def test_cutting_busy_time_out_equals_computing_with_it(busy, seed):
    """Random busy time (overlapping, touching, longer than a day), buffers,
    steps, lengths and moments, for a virtual mechanic and for an independent one whose
    hours are the intersection of its own and its workshop's (pieces that overlap)."""
    from tests.factories import workshop_hours

    rng = random.Random(seed)
    settings = {
        "settings__buffer_minutes": rng.choice([0, 5, 15, 60]),
        "settings__slot_step_minutes": rng.choice([5, 15, 20, 30]),
        "settings__min_notice_minutes": rng.choice([0, 45, 120]),
        "settings__max_advance_days": rng.choice([1, 2, 30]),
    }
    mechanic = MechanicFactory(independent=bool(seed % 2), **settings)
    if seed % 2:
        workshop_hours(mechanic.workshop, days=range(7), open_=8 * 60 + 5, close=18 * 60)
    weekly_hours(mechanic, days=range(7), start=9 * 60 + 10, end=12 * 60)
    weekly_hours(mechanic, days=range(7), start=12 * 60, end=17 * 60 + 20)
    duration = timedelta(minutes=rng.choice([15, 30, 45, 90]))
    for _ in range(rng.randrange(0, 25)):
        begin = START + timedelta(minutes=rng.randrange(0, 4 * 24 * 60))
        length = timedelta(minutes=rng.choice([5, 15, 30, 60, 240, 26 * 60]))
        busy.add(mechanic, begin, begin + length)
    for _ in range(4):
        now = NOW + timedelta(minutes=rng.randrange(0, 3 * 24 * 60))
        body = service.available_slots_json(mechanic.pk, START, END, duration, ZONE, now=now)
        slots = service.available_slots(mechanic, START, END, duration, now=now)
        assert body == wire.slots_json(mechanic.pk, ZONE, duration // timedelta(minutes=1), slots)
