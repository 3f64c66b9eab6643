"""The availability service: one mechanic's slots, by the rules of plan §2.3 and §6.2."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from autodoctor.availability import engine
from autodoctor.availability.engine import Interval
from autodoctor.availability.models import DateOverride, MechanicSettings, TimeOff
from autodoctor.availability.service import (
    BUSY_SOURCES,
    BookingRules,
    available_slots,
    booking_rules,
    daily_slot_counts,
    default_booking_rules,
    free_intervals,
    is_available,
    local_instant,
)
from autodoctor.errors import NotFound
from tests.factories import MechanicFactory, weekly_hours, workshop_hours

pytestmark = pytest.mark.django_db

SUN, MON, TUE, WED, THU, FRI, SAT = range(7)
TORONTO = ZoneInfo("America/Toronto")
MINUTES = timedelta(minutes=1)
HALF_HOUR = timedelta(minutes=30)
HOUR = timedelta(hours=1)


def toronto(y: int, mo: int, d: int, h: int = 0, mi: int = 0, fold: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=TORONTO, fold=fold)


def local_starts(slots, zone=TORONTO) -> list[str]:
    return [s.start.astimezone(zone).strftime("%H:%M") for s in slots]


def monday_slots(mechanic, now, duration=HALF_HOUR):
    """Slots on Monday 2026-03-02 (Toronto)."""
    return available_slots(mechanic, toronto(2026, 3, 2), toronto(2026, 3, 3), duration, now=now)


def relaxed(**extra):
    """A mechanic whose notice and buffer do not get in the way of an example."""
    settings = {"min_notice_minutes": 0, "buffer_minutes": 0, "slot_step_minutes": 30}
    settings.update(extra.pop("settings", {}))
    return MechanicFactory(**{f"settings__{k}": v for k, v in settings.items()}, **extra)


# ---------------------------------------------------------------- sources by type (§2.3)


def test_virtual_only_mechanic_offers_slots_from_own_weekly_blocks(now):
    mechanic = relaxed()
    weekly_hours(mechanic, days=[MON], start=9 * 60, end=11 * 60)
    assert local_starts(monday_slots(mechanic, now)) == ["09:00", "09:30", "10:00", "10:30"]


def test_affiliated_mechanic_follows_workshop_hours_only_and_the_break_is_not_bookable(now):
    mechanic = relaxed(affiliated=True)
    weekly_hours(mechanic, days=[MON], start=6 * 60, end=8 * 60)  # ignored: workshop decides
    workshop_hours(mechanic.workshop, days=[MON], open_=9 * 60, close=12 * 60, break_=(600, 660))
    assert local_starts(monday_slots(mechanic, now)) == ["09:00", "09:30", "11:00", "11:30"]


def test_independent_owner_is_bookable_only_when_own_hours_and_workshop_overlap(now):
    mechanic = relaxed(independent=True)
    weekly_hours(mechanic, days=[MON], start=8 * 60, end=11 * 60)
    workshop_hours(mechanic.workshop, days=[MON], open_=9 * 60, close=17 * 60)
    assert local_starts(monday_slots(mechanic, now)) == ["09:00", "09:30", "10:00", "10:30"]


def test_independent_owner_without_workshop_hours_has_no_slots(now):
    mechanic = relaxed(independent=True)
    weekly_hours(mechanic, days=[MON])
    assert monday_slots(mechanic, now) == []


def test_a_closed_workshop_day_gives_its_mechanics_no_slots(now):
    mechanic = relaxed(affiliated=True)
    workshop_hours(mechanic.workshop, days=[MON])
    mechanic.workshop.hours.update(is_open=False)
    assert monday_slots(mechanic, now) == []


def test_workshop_hours_are_read_in_the_workshop_zone_not_the_mechanics(now):
    mechanic = relaxed(affiliated=True, workshop__time_zone="America/Vancouver")
    workshop_hours(mechanic.workshop, days=[MON], open_=9 * 60, close=10 * 60)
    # 09:00 in Vancouver is 12:00 in Toronto.
    assert local_starts(monday_slots(mechanic, now)) == ["12:00", "12:30"]


def test_slot_grid_is_anchored_at_each_blocks_start(now):
    mechanic = relaxed()
    weekly_hours(mechanic, days=[MON], start=9 * 60 + 10, end=10 * 60 + 10)
    assert local_starts(monday_slots(mechanic, now)) == ["09:10", "09:40"]


def test_touching_blocks_let_a_slot_run_across_the_join(now):
    mechanic = relaxed(settings={"slot_step_minutes": 45})
    weekly_hours(mechanic, days=[MON], start=9 * 60, end=10 * 60)
    weekly_hours(mechanic, days=[MON], start=10 * 60, end=11 * 60)
    # 09:45–10:45 crosses 10:00; each block keeps its own grid (10:00 starts the second).
    assert local_starts(monday_slots(mechanic, now, duration=HOUR)) == ["09:00", "09:45", "10:00"]
    assert is_available(mechanic, toronto(2026, 3, 2, 9, 30), toronto(2026, 3, 2, 10, 30), now=now)


def test_an_unknown_mechanic_is_not_found(now):
    with pytest.raises(NotFound):
        available_slots(999_999, toronto(2026, 3, 2), toronto(2026, 3, 3), HALF_HOUR, now=now)


def test_an_inactive_mechanic_is_never_available(now):
    mechanic = relaxed(user__is_active=False)
    weekly_hours(mechanic, days=[MON])
    assert monday_slots(mechanic, now) == []


# ---------------------------------------------------------------- settings


def test_a_mechanic_without_a_settings_row_uses_the_plan_defaults(now):
    mechanic = MechanicFactory()
    MechanicSettings.objects.filter(mechanic=mechanic).delete()
    assert booking_rules(mechanic) == default_booking_rules()
    assert default_booking_rules() == BookingRules.from_minutes(
        buffer=15, notice=120, advance_days=30, step=15, instant=True
    )
    weekly_hours(mechanic, days=[MON], start=7 * 60, end=9 * 60)
    # now is 06:00: two hours of notice leave 08:00 onwards, on the 15-minute grid.
    assert local_starts(monday_slots(mechanic, now)) == ["08:00", "08:15", "08:30"]


def test_minimum_notice_hides_slots_that_start_too_soon(now):
    mechanic = relaxed(settings={"min_notice_minutes": 4 * 60})
    weekly_hours(mechanic, days=[MON], start=9 * 60, end=11 * 60)
    assert local_starts(monday_slots(mechanic, now)) == ["10:00", "10:30"]


def test_maximum_advance_hides_slots_too_far_ahead(now):
    mechanic = relaxed(settings={"max_advance_days": 1})
    weekly_hours(mechanic, days=[MON, TUE], start=5 * 60, end=7 * 60)
    slots = available_slots(mechanic, toronto(2026, 3, 2), toronto(2026, 3, 4), HALF_HOUR, now=now)
    # now + 1 day = Tuesday 06:00: Tuesday 06:00 is the last start allowed.
    assert [s.start.astimezone(TORONTO).strftime("%a %H:%M") for s in slots] == [
        "Mon 06:00",
        "Mon 06:30",
        "Tue 05:00",
        "Tue 05:30",
        "Tue 06:00",
    ]


# ---------------------------------------------------------------- date overrides


def test_a_date_override_replaces_the_weekly_hours_of_that_date(now):
    mechanic = relaxed()
    weekly_hours(mechanic, days=[MON], start=9 * 60, end=12 * 60)
    DateOverride.objects.create(
        mechanic=mechanic, day=date(2026, 3, 2), start_minute=780, end_minute=840
    )
    assert local_starts(monday_slots(mechanic, now)) == ["13:00", "13:30"]


def test_a_closed_override_removes_the_whole_day(now):
    mechanic = relaxed()
    weekly_hours(mechanic, days=[MON])
    DateOverride.objects.create(mechanic=mechanic, day=date(2026, 3, 2))
    assert monday_slots(mechanic, now) == []


def test_an_override_can_open_a_day_without_weekly_hours(now):
    mechanic = relaxed()
    DateOverride.objects.create(
        mechanic=mechanic, day=date(2026, 3, 7), start_minute=600, end_minute=660
    )
    slots = available_slots(mechanic, toronto(2026, 3, 7), toronto(2026, 3, 8), HALF_HOUR, now=now)
    assert local_starts(slots) == ["10:00", "10:30"]


def test_a_workshop_override_applies_to_its_affiliated_mechanics(now):
    mechanic = relaxed(affiliated=True)
    workshop_hours(mechanic.workshop, days=[MON])
    DateOverride.objects.create(workshop=mechanic.workshop, day=date(2026, 3, 2))
    assert monday_slots(mechanic, now) == []


def test_an_affiliated_mechanics_own_override_is_ignored(now):
    mechanic = relaxed(affiliated=True)
    workshop_hours(mechanic.workshop, days=[MON], open_=9 * 60, close=10 * 60)
    DateOverride.objects.create(mechanic=mechanic, day=date(2026, 3, 2))
    assert local_starts(monday_slots(mechanic, now)) == ["09:00", "09:30"]


# ---------------------------------------------------------------- time off


def _time_off(mechanic, status, start, end):
    return TimeOff.objects.create(mechanic=mechanic, starts_at=start, ends_at=end, status=status)


def test_approved_time_off_blocks_slots(now):
    mechanic = relaxed()
    weekly_hours(mechanic, days=[MON], start=9 * 60, end=11 * 60)
    _time_off(mechanic, "approved", toronto(2026, 3, 2, 9), toronto(2026, 3, 2, 10))
    assert local_starts(monday_slots(mechanic, now)) == ["10:00", "10:30"]


def test_pending_time_off_of_an_affiliated_mechanic_already_blocks_new_bookings(now):
    mechanic = relaxed(affiliated=True)
    workshop_hours(mechanic.workshop, days=[MON], open_=9 * 60, close=11 * 60)
    _time_off(mechanic, "pending", toronto(2026, 3, 2, 9), toronto(2026, 3, 2, 10))
    assert local_starts(monday_slots(mechanic, now)) == ["10:00", "10:30"]


def test_declined_time_off_does_not_block(now):
    mechanic = relaxed(affiliated=True)
    workshop_hours(mechanic.workshop, days=[MON], open_=9 * 60, close=10 * 60)
    _time_off(mechanic, "declined", toronto(2026, 3, 2, 9), toronto(2026, 3, 2, 10))
    assert local_starts(monday_slots(mechanic, now)) == ["09:00", "09:30"]


# ---------------------------------------------------------------- busy time and buffer


def test_busy_time_is_widened_by_the_buffer_on_both_sides(now, busy):
    mechanic = relaxed(settings={"buffer_minutes": 15, "slot_step_minutes": 15})
    weekly_hours(mechanic, days=[MON], start=9 * 60, end=12 * 60)
    busy.add(mechanic, toronto(2026, 3, 2, 10), toronto(2026, 3, 2, 10, 30))
    assert local_starts(monday_slots(mechanic, now)) == [
        "09:00",
        "09:15",
        "10:45",
        "11:00",
        "11:15",
        "11:30",
    ]


def test_busy_time_of_another_mechanic_does_not_matter(now, busy):
    mechanic = relaxed()
    weekly_hours(mechanic, days=[MON], start=9 * 60, end=10 * 60)
    busy.add(relaxed(), toronto(2026, 3, 2, 9), toronto(2026, 3, 2, 10))
    assert local_starts(monday_slots(mechanic, now)) == ["09:00", "09:30"]


def test_ignore_busy_lets_a_reschedule_overlap_the_booking_being_moved(now, busy):
    mechanic = relaxed(settings={"buffer_minutes": 15})
    weekly_hours(mechanic, days=[MON])
    moving = busy.add(mechanic, toronto(2026, 3, 2, 10), toronto(2026, 3, 2, 11), key=("r", 7))
    later = (toronto(2026, 3, 2, 10, 30), toronto(2026, 3, 2, 11, 30))
    assert not is_available(mechanic, *later, now=now)
    assert is_available(mechanic, *later, now=now, ignore_busy={moving.key})
    slots = available_slots(mechanic, *later, HALF_HOUR, now=now, ignore_busy={moving.key})
    assert local_starts(slots) == ["10:30", "11:00"]


def test_every_read_asks_each_busy_source_once(now, busy):
    mechanic = relaxed()
    weekly_hours(mechanic, days=[MON])
    monday_slots(mechanic, now)
    assert busy.calls == 1


# ---------------------------------------------------------------- is_available


def test_is_available_accepts_an_off_grid_start_inside_free_time(now):
    mechanic = relaxed()
    weekly_hours(mechanic, days=[MON], start=9 * 60, end=11 * 60)
    assert is_available(mechanic, toronto(2026, 3, 2, 9, 7), toronto(2026, 3, 2, 9, 37), now=now)


def test_is_available_refuses_a_slot_running_past_closing(now):
    mechanic = relaxed()
    weekly_hours(mechanic, days=[MON], start=9 * 60, end=11 * 60)
    assert not is_available(
        mechanic, toronto(2026, 3, 2, 10, 45), toronto(2026, 3, 2, 11, 15), now=now
    )


def test_free_intervals_show_hours_minus_time_off(now):
    mechanic = relaxed()
    weekly_hours(mechanic, days=[MON], start=9 * 60, end=17 * 60)
    _time_off(mechanic, "approved", toronto(2026, 3, 2, 12), toronto(2026, 3, 2, 13))
    free = free_intervals(mechanic, toronto(2026, 3, 2), toronto(2026, 3, 3), now=now)
    assert free == (
        Interval(toronto(2026, 3, 2, 9), toronto(2026, 3, 2, 12)),
        Interval(toronto(2026, 3, 2, 13), toronto(2026, 3, 2, 17)),
    )


# ---------------------------------------------------------------- DST through the service


def test_toronto_spring_forward_day_keeps_real_hours_and_skips_the_missing_hour():
    mechanic = relaxed(settings={"slot_step_minutes": 60})
    weekly_hours(mechanic, days=[SUN], start=1 * 60, end=4 * 60)
    now = datetime(2026, 3, 1, tzinfo=UTC)
    day = (toronto(2026, 3, 8), toronto(2026, 3, 9))
    slots = available_slots(mechanic, *day, HOUR, now=now)
    # 01:00 EST to 04:00 EDT is two real hours; 02:00–03:00 does not exist that night.
    assert [s.start.astimezone(TORONTO).strftime("%H:%M %Z") for s in slots] == [
        "01:00 EST",
        "03:00 EDT",
    ]
    assert daily_slot_counts(mechanic, *day, HOUR, "America/Toronto", now=now) == {
        date(2026, 3, 8): 2
    }


def test_toronto_fall_back_day_offers_the_repeated_hour_once_per_real_hour():
    mechanic = relaxed(settings={"slot_step_minutes": 60})
    weekly_hours(mechanic, days=[SUN], start=0, end=3 * 60)
    now = datetime(2026, 10, 25, tzinfo=UTC)
    day = (toronto(2026, 11, 1), toronto(2026, 11, 2))
    slots = available_slots(mechanic, *day, HOUR, now=now)
    # 00:00 EDT to 03:00 EST is four real hours; 01:00 happens twice, each once.
    assert [s.start.astimezone(TORONTO).strftime("%H:%M %Z") for s in slots] == [
        "00:00 EDT",
        "01:00 EDT",
        "01:00 EST",
        "02:00 EST",
    ]
    assert len({s.start for s in slots}) == 4


@pytest.mark.parametrize(
    ("day", "minute", "expected"),
    [
        # 02:30 does not exist on the spring-forward night: the instant the clocks jumped.
        (date(2026, 3, 8), 150, datetime(2026, 3, 8, 7, 0, tzinfo=UTC)),
        # 01:30 happens twice on the fall-back night: the first time (EDT).
        (date(2026, 11, 1), 90, datetime(2026, 11, 1, 5, 30, tzinfo=UTC)),
        # Minutes past the day roll over: 25:00 on the 7th is 01:00 EST on the 8th.
        (date(2026, 3, 7), 25 * 60, datetime(2026, 3, 8, 6, 0, tzinfo=UTC)),
    ],
    ids=["spring_gap", "fall_overlap", "rollover"],
)
def test_local_instant_follows_the_engines_dst_rules(day, minute, expected):
    assert local_instant(day, minute, "America/Toronto") == expected


@pytest.mark.parametrize("day", [date(2026, 3, 8), date(2026, 11, 1)], ids=["spring", "fall"])
def test_local_instant_agrees_with_the_engines_expansion_on_toronto_transition_days(day):
    """Every wall minute of the day: where a block starting then begins in real time
    (engine.expand) is where local_instant puts that wall time."""
    zone = "America/Toronto"
    window = Interval(local_instant(day, 0, zone), local_instant(day, 1440, zone))
    for minute in range(1440):
        schedule = engine.LocalSchedule(zone, (), (engine.DayOverride(day, ((minute, 1440),)),))
        (piece,) = engine.expand(schedule, window)
        assert local_instant(day, minute, zone) == piece.start, engine.minute_label(minute)


def test_daily_counts_are_per_local_date_of_the_viewer(now):
    mechanic = relaxed()
    weekly_hours(mechanic, days=[MON], start=22 * 60, end=24 * 60)
    counts = daily_slot_counts(
        mechanic, toronto(2026, 3, 2), toronto(2026, 3, 4), HALF_HOUR, "Europe/London", now=now
    )
    # 22:00–24:00 in Toronto is 03:00–05:00 on Tuesday in London.
    assert counts == {date(2026, 3, 3): 4}


# ---------------------------------------------------------------- queries


@pytest.mark.parametrize("kind", ["virtual", "affiliated", "independent"])
def test_available_slots_uses_a_fixed_number_of_queries(
    kind, now, busy, django_assert_max_num_queries
):
    mechanic = relaxed(**({kind: True} if kind != "virtual" else {}))
    weekly_hours(mechanic)
    if mechanic.workshop:
        workshop_hours(mechanic.workshop, break_=(720, 780))
        DateOverride.objects.create(workshop=mechanic.workshop, day=date(2026, 3, 5))
    DateOverride.objects.create(mechanic=mechanic, day=date(2026, 3, 4))
    for day in range(3, 20):
        _time_off(mechanic, "approved", toronto(2026, 3, day, 12), toronto(2026, 3, day, 13))
        busy.add(mechanic, toronto(2026, 3, day, 10), toronto(2026, 3, day, 11))
    # profile, weekly blocks, workshop hours, overrides, time off, one per busy source.
    with django_assert_max_num_queries(5 + len(BUSY_SOURCES)):
        slots = available_slots(
            mechanic, toronto(2026, 3, 2), toronto(2026, 4, 1), HALF_HOUR, now=now
        )
    assert slots


def test_slot_listing_query_count_does_not_grow_with_the_number_of_days(now):
    mechanic = relaxed(independent=True)
    weekly_hours(mechanic)
    workshop_hours(mechanic.workshop)
    counts = []
    for days in (1, 30):
        with CaptureQueriesContext(connection) as queries:
            available_slots(
                mechanic,
                toronto(2026, 3, 2),
                toronto(2026, 3, 2) + timedelta(days=days),
                HOUR,
                now=now,
            )
        counts.append(len(queries))
    assert counts[0] == counts[1]


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
def test_two_blocks_added_at_once_are_both_kept():
    """Two tabs add a block at the same moment: each edit reads the week under the
    profile lock (services._week_write), so neither overwrites the other."""
    from autodoctor.availability import services
    from tests.racing import race

    mechanic = MechanicFactory()
    added = [services.BlockInput(1, 9 * 60, 12 * 60), services.BlockInput(2, 13 * 60, 17 * 60)]
    outcomes = race(
        2,
        lambda i: services.weekly_block_add(mechanic=mechanic, block=added[i], actor=mechanic.user),
    )
    assert outcomes == {"ok": 2}, outcomes
    kept = set(mechanic.weekly_blocks.values_list("day_of_week", "start_minute", "end_minute"))
    assert kept == {(1, 540, 720), (2, 780, 1020)}


def test_slots_for_many_mechanics_come_from_one_load_and_equal_each_ones_own(
    django_assert_max_num_queries,
):
    from autodoctor.availability.service import available_slots, available_slots_by_mechanic

    mechanics = [MechanicFactory() for _ in range(12)]
    for i, mechanic in enumerate(mechanics):
        weekly_hours(mechanic, days=range(7), start=(8 + i % 3) * 60, end=(14 + i % 4) * 60)
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    start, end, length = now, now + timedelta(days=30), timedelta(minutes=30)
    ids = [m.pk for m in mechanics]
    with django_assert_max_num_queries(8):  # the same few queries as for one mechanic
        pooled = available_slots_by_mechanic(ids, start, end, length, now=now)
    assert set(pooled) == set(ids)
    for mechanic in mechanics:
        assert pooled[mechanic.pk] == available_slots(mechanic, start, end, length, now=now)
    assert available_slots_by_mechanic([999_999], start, end, length, now=now) == {}
