"""Tests for the pure availability engine (no Django, no database, no clock).

The first part is readable examples, one behaviour per test. The second part is
Hypothesis properties over many time zones and dates close to DST transitions, checked
against an independent oracle for wall-clock -> real-time conversion.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autodoctor.availability.engine import (
    MINUTES_PER_DAY,
    DayOverride,
    Interval,
    LocalSchedule,
    WeeklyBlock,
    bookable_slots,
    daily_counts,
    difference,
    expand,
    intersect_pieces,
    intersection,
    is_bookable,
    merge,
    minute_label,
)

SUN, MON, TUE, WED, THU, FRI, SAT = range(7)
MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
TORONTO = "America/Toronto"


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=UTC)


def at(zone: str, y: int, mo: int, d: int, h: int = 0, mi: int = 0, fold: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=ZoneInfo(zone), fold=fold)


def iv(start: datetime, end: datetime) -> Interval:
    return Interval(start, end)


def hm(h: int, m: int = 0) -> int:
    return h * 60 + m


def day_window(zone: str, day: date) -> Interval:
    """A window covering (at least) the local date ``day``."""
    start = at(zone, day.year, day.month, day.day)
    return Interval(start, start + DAY)


def pieces_on(schedule: LocalSchedule, day: date) -> list[Interval]:
    """The pieces whose start falls on local date ``day``."""
    tz = ZoneInfo(schedule.zone)
    return [
        p
        for p in expand(schedule, day_window(schedule.zone, day))
        if p.start.astimezone(tz).date() == day
    ]


def starts(slots: tuple[Interval, ...], zone: str) -> list[str]:
    tz = ZoneInfo(zone)
    return [s.start.astimezone(tz).strftime("%H:%M%z") for s in slots]


# ======================================================================================
# Interval
# ======================================================================================


def test_interval_bounds_are_normalised_to_utc() -> None:
    interval = Interval(at(TORONTO, 2026, 1, 14, 9), at(TORONTO, 2026, 1, 14, 17))
    assert interval.start == utc(2026, 1, 14, 14)
    assert interval.start.tzinfo is UTC
    assert interval.end.tzinfo is UTC
    assert interval == Interval(utc(2026, 1, 14, 14), utc(2026, 1, 14, 22))


def test_interval_rejects_naive_bounds() -> None:
    naive = utc(2026, 1, 1).replace(tzinfo=None)
    with pytest.raises(ValueError, match="timezone-aware"):
        Interval(naive, utc(2026, 1, 2))


def test_interval_rejects_an_end_that_is_not_after_the_start() -> None:
    with pytest.raises(ValueError, match="interval end must be after start"):
        Interval(utc(2026, 1, 1, 10), utc(2026, 1, 1, 10))
    with pytest.raises(ValueError, match="interval end must be after start"):
        Interval(utc(2026, 1, 1, 10), utc(2026, 1, 1, 9))


def test_interval_overlap_is_half_open() -> None:
    morning = iv(utc(2026, 1, 1, 9), utc(2026, 1, 1, 12))
    assert morning.overlaps(iv(utc(2026, 1, 1, 11), utc(2026, 1, 1, 13)))
    assert not morning.overlaps(iv(utc(2026, 1, 1, 12), utc(2026, 1, 1, 13)))
    assert not morning.overlaps(iv(utc(2026, 1, 1, 8), utc(2026, 1, 1, 9)))


def test_interval_contains_and_widened_and_duration() -> None:
    morning = iv(utc(2026, 1, 1, 9), utc(2026, 1, 1, 12))
    assert morning.contains(iv(utc(2026, 1, 1, 9), utc(2026, 1, 1, 12)))
    assert not morning.contains(iv(utc(2026, 1, 1, 11), utc(2026, 1, 1, 13)))
    assert morning.widened(15 * MIN) == iv(utc(2026, 1, 1, 8, 45), utc(2026, 1, 1, 12, 15))
    assert morning.duration == 3 * HOUR


# ======================================================================================
# merge / intersection / difference
# ======================================================================================


def test_merge_sorts_and_joins_overlapping_and_touching_intervals() -> None:
    merged = merge(
        [
            iv(utc(2026, 1, 1, 13), utc(2026, 1, 1, 14)),
            iv(utc(2026, 1, 1, 9), utc(2026, 1, 1, 11)),
            iv(utc(2026, 1, 1, 10), utc(2026, 1, 1, 12)),
            iv(utc(2026, 1, 1, 12), utc(2026, 1, 1, 12, 30)),
        ]
    )
    assert merged == (
        iv(utc(2026, 1, 1, 9), utc(2026, 1, 1, 12, 30)),
        iv(utc(2026, 1, 1, 13), utc(2026, 1, 1, 14)),
    )


def test_merge_of_nothing_is_empty() -> None:
    assert merge([]) == ()


def test_intersection_keeps_only_common_time() -> None:
    a = [iv(utc(2026, 1, 1, 8), utc(2026, 1, 1, 12)), iv(utc(2026, 1, 1, 13), utc(2026, 1, 1, 18))]
    b = [iv(utc(2026, 1, 1, 9), utc(2026, 1, 1, 17))]
    assert intersection(a, b) == (
        iv(utc(2026, 1, 1, 9), utc(2026, 1, 1, 12)),
        iv(utc(2026, 1, 1, 13), utc(2026, 1, 1, 17)),
    )


def test_difference_cuts_holes_and_trims_edges() -> None:
    a = [iv(utc(2026, 1, 1, 9), utc(2026, 1, 1, 17))]
    b = [
        iv(utc(2026, 1, 1, 8), utc(2026, 1, 1, 10)),
        iv(utc(2026, 1, 1, 12), utc(2026, 1, 1, 13)),
        iv(utc(2026, 1, 1, 16), utc(2026, 1, 1, 18)),
    ]
    assert difference(a, b) == (
        iv(utc(2026, 1, 1, 10), utc(2026, 1, 1, 12)),
        iv(utc(2026, 1, 1, 13), utc(2026, 1, 1, 16)),
    )


def test_difference_removing_everything_is_empty() -> None:
    a = [iv(utc(2026, 1, 1, 9), utc(2026, 1, 1, 17))]
    assert difference(a, [iv(utc(2026, 1, 1, 0), utc(2026, 1, 2, 0))]) == ()


# ======================================================================================
# Weekly schedules -> UTC pieces
# ======================================================================================


def test_weekly_block_in_toronto_on_a_winter_day_is_1400_to_2200_utc() -> None:
    schedule = LocalSchedule(TORONTO, (WeeklyBlock(WED, hm(9), hm(17)),))
    assert pieces_on(schedule, date(2026, 1, 14)) == [
        iv(utc(2026, 1, 14, 14), utc(2026, 1, 14, 22))
    ]


def test_day_of_week_zero_is_sunday() -> None:
    schedule = LocalSchedule(TORONTO, (WeeklyBlock(SUN, hm(9), hm(10)),))
    window = Interval(at(TORONTO, 2026, 1, 12), at(TORONTO, 2026, 1, 17))  # Monday .. Friday
    days = [p.start.astimezone(ZoneInfo(TORONTO)).date() for p in expand(schedule, window)]
    assert days == [date(2026, 1, 11), date(2026, 1, 18)]  # the Sundays either side
    assert all(d.strftime("%A") == "Sunday" for d in days)


def test_expand_returns_pieces_for_the_local_dates_around_the_window() -> None:
    schedule = LocalSchedule(TORONTO, tuple(WeeklyBlock(d, hm(9), hm(17)) for d in range(7)))
    # The window is Jan 14 00:00 .. Jan 15 00:00 local; expand covers the local dates from
    # the day before its start's date to the day after its end's date (Jan 13 .. Jan 16).
    pieces = expand(schedule, day_window(TORONTO, date(2026, 1, 14)))
    assert [p.start for p in pieces] == [
        utc(2026, 1, 13, 14),
        utc(2026, 1, 14, 14),
        utc(2026, 1, 15, 14),
        utc(2026, 1, 16, 14),
    ]


def test_block_ending_at_2400_runs_to_the_next_local_midnight() -> None:
    schedule = LocalSchedule(TORONTO, (WeeklyBlock(WED, hm(20), MINUTES_PER_DAY),))
    assert pieces_on(schedule, date(2026, 1, 14)) == [iv(utc(2026, 1, 15, 1), utc(2026, 1, 15, 5))]


def test_overlapping_blocks_stay_separate_pieces() -> None:
    schedule = LocalSchedule(
        TORONTO, (WeeklyBlock(WED, hm(9), hm(12)), WeeklyBlock(WED, hm(11), hm(13)))
    )
    assert pieces_on(schedule, date(2026, 1, 14)) == [
        iv(utc(2026, 1, 14, 14), utc(2026, 1, 14, 17)),
        iv(utc(2026, 1, 14, 16), utc(2026, 1, 14, 18)),
    ]


def test_override_replaces_the_weekly_hours_for_that_date() -> None:
    schedule = LocalSchedule(
        TORONTO,
        (WeeklyBlock(WED, hm(9), hm(17)),),
        (DayOverride(date(2026, 1, 14), ((hm(10), hm(12)), (hm(13), hm(14)))),),
    )
    assert pieces_on(schedule, date(2026, 1, 14)) == [
        iv(utc(2026, 1, 14, 15), utc(2026, 1, 14, 17)),
        iv(utc(2026, 1, 14, 18), utc(2026, 1, 14, 19)),
    ]
    # The following Wednesday is untouched.
    assert pieces_on(schedule, date(2026, 1, 21)) == [
        iv(utc(2026, 1, 21, 14), utc(2026, 1, 21, 22))
    ]


def test_override_without_hours_closes_the_day() -> None:
    schedule = LocalSchedule(
        TORONTO, (WeeklyBlock(WED, hm(9), hm(17)),), (DayOverride(date(2026, 1, 14)),)
    )
    assert pieces_on(schedule, date(2026, 1, 14)) == []


def test_override_can_open_a_day_without_weekly_blocks() -> None:
    schedule = LocalSchedule(TORONTO, (), (DayOverride(date(2026, 1, 17), ((hm(9), hm(12)),)),))
    assert pieces_on(schedule, date(2026, 1, 17)) == [
        iv(utc(2026, 1, 17, 14), utc(2026, 1, 17, 17))
    ]


# --- DST: Toronto spring forward, 2026-03-08 02:00 EST -> 03:00 EDT (07:00 UTC) ---------


def test_spring_forward_all_day_block_in_toronto_lasts_23_hours() -> None:
    schedule = LocalSchedule(TORONTO, (WeeklyBlock(SUN, 0, MINUTES_PER_DAY),))
    [piece] = pieces_on(schedule, date(2026, 3, 8))
    assert piece == iv(utc(2026, 3, 8, 5), utc(2026, 3, 9, 4))
    assert piece.duration == 23 * HOUR


def test_spring_forward_block_starting_in_the_gap_starts_at_0300_edt() -> None:
    schedule = LocalSchedule(TORONTO, (WeeklyBlock(SUN, hm(2, 30), hm(5)),))
    [piece] = pieces_on(schedule, date(2026, 3, 8))
    assert piece.start == utc(2026, 3, 8, 7) == at(TORONTO, 2026, 3, 8, 3)
    assert piece.end == utc(2026, 3, 8, 9)
    assert piece.duration == 2 * HOUR


def test_spring_forward_block_ending_in_the_gap_ends_at_the_transition() -> None:
    schedule = LocalSchedule(TORONTO, (WeeklyBlock(SUN, hm(1), hm(2, 30)),))
    [piece] = pieces_on(schedule, date(2026, 3, 8))
    assert piece == iv(utc(2026, 3, 8, 6), utc(2026, 3, 8, 7))


def test_block_entirely_inside_the_spring_forward_gap_is_dropped() -> None:
    schedule = LocalSchedule(TORONTO, (WeeklyBlock(SUN, hm(2), hm(2, 30)),))
    assert pieces_on(schedule, date(2026, 3, 8)) == []
    assert len(pieces_on(schedule, date(2026, 3, 15))) == 1  # a normal Sunday keeps it


# --- DST: Toronto fall back, 2026-11-01 02:00 EDT -> 01:00 EST (06:00 UTC) --------------


def test_fall_back_all_day_block_in_toronto_lasts_25_hours() -> None:
    schedule = LocalSchedule(TORONTO, (WeeklyBlock(SUN, 0, MINUTES_PER_DAY),))
    [piece] = pieces_on(schedule, date(2026, 11, 1))
    assert piece == iv(utc(2026, 11, 1, 4), utc(2026, 11, 2, 5))
    assert piece.duration == 25 * HOUR


def test_fall_back_block_0130_to_0500_is_one_piece_of_four_and_a_half_hours() -> None:
    schedule = LocalSchedule(TORONTO, (WeeklyBlock(SUN, hm(1, 30), hm(5)),))
    [piece] = pieces_on(schedule, date(2026, 11, 1))
    # 01:30 is ambiguous: the first occurrence (fold=0, EDT) is used. (An ambiguous aware
    # datetime never compares equal across zones, hence the explicit conversion.)
    first_occurrence = at(TORONTO, 2026, 11, 1, 1, 30, fold=0).astimezone(UTC)
    assert piece.start == utc(2026, 11, 1, 5, 30) == first_occurrence
    assert piece.end == utc(2026, 11, 1, 10)
    assert piece.duration == timedelta(hours=4, minutes=30)


def test_fall_back_block_inside_the_repeated_hour_is_used_once() -> None:
    schedule = LocalSchedule(TORONTO, (WeeklyBlock(SUN, hm(1, 15), hm(1, 45)),))
    assert pieces_on(schedule, date(2026, 11, 1)) == [
        iv(utc(2026, 11, 1, 5, 15), utc(2026, 11, 1, 5, 45))
    ]


# --- DST: other zones -----------------------------------------------------------------


def test_lord_howe_spring_forward_skips_only_half_an_hour() -> None:
    # 2026-10-04 02:00 +10:30 -> 02:30 +11:00 (15:30 UTC on the 3rd).
    zone = "Australia/Lord_Howe"
    schedule = LocalSchedule(
        zone, (WeeklyBlock(SUN, 0, MINUTES_PER_DAY), WeeklyBlock(SUN, hm(2, 15), hm(4)))
    )
    whole_day, early = pieces_on(schedule, date(2026, 10, 4))
    assert whole_day.duration == timedelta(hours=23, minutes=30)
    assert early.start == utc(2026, 10, 3, 15, 30) == at(zone, 2026, 10, 4, 2, 30)
    assert early.duration == timedelta(hours=1, minutes=30)


def test_lord_howe_fall_back_repeats_only_half_an_hour() -> None:
    # 2026-04-05 02:00 +11:00 -> 01:30 +10:30 (15:00 UTC on the 4th).
    zone = "Australia/Lord_Howe"
    schedule = LocalSchedule(
        zone, (WeeklyBlock(SUN, 0, MINUTES_PER_DAY), WeeklyBlock(SUN, hm(1, 30), hm(2)))
    )
    whole_day, repeated = pieces_on(schedule, date(2026, 4, 5))
    assert whole_day.duration == timedelta(hours=24, minutes=30)
    assert repeated == iv(utc(2026, 4, 4, 14, 30), utc(2026, 4, 4, 15, 30))


def test_st_johns_half_hour_offset_in_winter_and_summer() -> None:
    schedule = LocalSchedule("America/St_Johns", (WeeklyBlock(WED, hm(9), hm(17)),))
    assert pieces_on(schedule, date(2026, 1, 14)) == [
        iv(utc(2026, 1, 14, 12, 30), utc(2026, 1, 14, 20, 30))  # NST, -03:30
    ]
    assert pieces_on(schedule, date(2026, 7, 15)) == [
        iv(utc(2026, 7, 15, 11, 30), utc(2026, 7, 15, 19, 30))  # NDT, -02:30
    ]


def test_chatham_quarter_hour_offsets_in_summer_and_winter() -> None:
    schedule = LocalSchedule("Pacific/Chatham", (WeeklyBlock(WED, hm(9), hm(17)),))
    assert pieces_on(schedule, date(2026, 1, 14)) == [
        iv(utc(2026, 1, 13, 19, 15), utc(2026, 1, 14, 3, 15))  # +13:45
    ]
    assert pieces_on(schedule, date(2026, 7, 15)) == [
        iv(utc(2026, 7, 14, 20, 15), utc(2026, 7, 15, 4, 15))  # +12:45
    ]


def test_chatham_spring_forward_gap_starts_at_0345() -> None:
    # 2026-09-27 02:45 +12:45 -> 03:45 +13:45 (14:00 UTC on the 26th).
    zone = "Pacific/Chatham"
    schedule = LocalSchedule(zone, (WeeklyBlock(SUN, hm(3), hm(4)),))
    assert pieces_on(schedule, date(2026, 9, 27)) == [
        iv(utc(2026, 9, 26, 14), utc(2026, 9, 26, 14, 15))
    ]


def test_havana_gap_at_midnight_starts_the_day_at_0100() -> None:
    # 2026-03-08 00:00 CST -> 01:00 CDT (05:00 UTC): the day has no midnight.
    zone = "America/Havana"
    schedule = LocalSchedule(zone, tuple(WeeklyBlock(d, 0, MINUTES_PER_DAY) for d in range(7)))
    [saturday] = pieces_on(schedule, date(2026, 3, 7))
    sunday = expand(schedule, day_window(zone, date(2026, 3, 8)))
    sunday_piece = next(p for p in sunday if p.start == saturday.end)
    assert saturday == iv(utc(2026, 3, 7, 5), utc(2026, 3, 8, 5))  # 24:00 -> 01:00 CDT
    assert sunday_piece == iv(utc(2026, 3, 8, 5), utc(2026, 3, 9, 4))
    assert sunday_piece.duration == 23 * HOUR
    assert sunday_piece.start.astimezone(ZoneInfo(zone)).hour == 1


def test_havana_ambiguous_midnight_uses_the_first_occurrence() -> None:
    # 2026-11-01 01:00 CDT -> 00:00 CST (05:00 UTC): 00:00-01:00 happens twice.
    zone = "America/Havana"
    schedule = LocalSchedule(zone, (WeeklyBlock(SUN, 0, MINUTES_PER_DAY),))
    [piece] = pieces_on(schedule, date(2026, 11, 1))
    assert piece == iv(utc(2026, 11, 1, 4), utc(2026, 11, 2, 5))
    assert piece.duration == 25 * HOUR


def test_santiago_repeated_hour_before_midnight() -> None:
    # 2026-04-05 00:00 -03 -> 2026-04-04 23:00 -04 (03:00 UTC): Saturday 23:00-24:00 twice.
    zone = "America/Santiago"
    schedule = LocalSchedule(zone, (WeeklyBlock(SAT, hm(23), MINUTES_PER_DAY),))
    [piece] = pieces_on(schedule, date(2026, 4, 4))
    assert piece == iv(utc(2026, 4, 5, 2), utc(2026, 4, 5, 4))
    assert piece.duration == 2 * HOUR


# ======================================================================================
# Slots
# ======================================================================================

JAN14 = date(2026, 1, 14)  # a Wednesday, EST (-05:00)
NOW = utc(2026, 1, 1)


def wednesday_pieces(*blocks: tuple[int, int], zone: str = TORONTO) -> tuple[Interval, ...]:
    schedule = LocalSchedule(zone, tuple(WeeklyBlock(WED, s, e) for s, e in blocks))
    return expand(schedule, day_window(zone, JAN14))


def jan14(h: int, m: int = 0) -> datetime:
    return at(TORONTO, 2026, 1, 14, h, m)


JAN14_WINDOW = Interval(jan14(0), jan14(0) + DAY)


def test_slot_grid_steps_from_the_block_start() -> None:
    slots = bookable_slots(
        pieces=wednesday_pieces((hm(9), hm(10))),
        window=JAN14_WINDOW,
        duration=30 * MIN,
        step=15 * MIN,
        now=NOW,
    )
    assert starts(slots, TORONTO) == ["09:00-0500", "09:15-0500", "09:30-0500"]
    assert all(s.duration == 30 * MIN for s in slots)


def test_slot_grid_is_anchored_at_a_block_starting_at_0910() -> None:
    slots = bookable_slots(
        pieces=wednesday_pieces((hm(9, 10), hm(10))),
        window=JAN14_WINDOW,
        duration=15 * MIN,
        step=15 * MIN,
        now=NOW,
    )
    assert starts(slots, TORONTO) == ["09:10-0500", "09:25-0500", "09:40-0500"]


def test_adjacent_blocks_allow_a_slot_across_the_boundary() -> None:
    slots = bookable_slots(
        pieces=wednesday_pieces((hm(9), hm(12)), (hm(12), hm(17))),
        window=JAN14_WINDOW,
        duration=30 * MIN,
        step=15 * MIN,
        now=NOW,
    )
    assert Interval(jan14(11, 45), jan14(12, 15)) in slots
    assert slots[-1] == Interval(jan14(16, 30), jan14(17))


def test_pieces_yielding_the_same_start_give_one_slot() -> None:
    slots = bookable_slots(
        pieces=wednesday_pieces((hm(9), hm(10)), (hm(9), hm(11))),
        window=JAN14_WINDOW,
        duration=60 * MIN,
        step=30 * MIN,
        now=NOW,
    )
    assert starts(slots, TORONTO) == ["09:00-0500", "09:30-0500", "10:00-0500"]


def test_busy_interval_removes_overlapping_slots() -> None:
    slots = bookable_slots(
        pieces=wednesday_pieces((hm(9), hm(12))),
        window=JAN14_WINDOW,
        duration=60 * MIN,
        step=30 * MIN,
        busy=[Interval(jan14(10), jan14(10, 30))],
        now=NOW,
    )
    assert starts(slots, TORONTO) == ["09:00-0500", "10:30-0500", "11:00-0500"]


def test_buffer_blocks_the_slot_right_after_a_busy_interval() -> None:
    common = {
        "pieces": wednesday_pieces((hm(9), hm(12))),
        "window": JAN14_WINDOW,
        "duration": 30 * MIN,
        "step": 30 * MIN,
        "busy": [Interval(jan14(10), jan14(10, 30))],
        "now": NOW,
    }
    without = bookable_slots(**common)
    with_buffer = bookable_slots(**common, buffer=15 * MIN)
    assert starts(without, TORONTO) == [
        "09:00-0500", "09:30-0500", "10:30-0500", "11:00-0500", "11:30-0500",
    ]  # fmt: skip
    assert starts(with_buffer, TORONTO) == ["09:00-0500", "11:00-0500", "11:30-0500"]


def test_time_off_removes_slots() -> None:
    slots = bookable_slots(
        pieces=wednesday_pieces((hm(9), hm(12))),
        window=JAN14_WINDOW,
        duration=60 * MIN,
        step=60 * MIN,
        time_off=[Interval(jan14(10, 30), jan14(11))],
        now=NOW,
    )
    assert starts(slots, TORONTO) == ["09:00-0500", "11:00-0500"]


def test_min_notice_hides_slots_starting_too_soon() -> None:
    slots = bookable_slots(
        pieces=wednesday_pieces((hm(9), hm(12))),
        window=JAN14_WINDOW,
        duration=60 * MIN,
        step=60 * MIN,
        now=jan14(8, 30),
        min_notice=2 * HOUR,
    )
    assert starts(slots, TORONTO) == ["11:00-0500"]


def test_max_advance_hides_slots_starting_too_far_ahead_and_is_inclusive() -> None:
    slots = bookable_slots(
        pieces=wednesday_pieces((hm(9), hm(12))),
        window=JAN14_WINDOW,
        duration=60 * MIN,
        step=60 * MIN,
        now=jan14(0),
        max_advance=10 * HOUR,
    )
    assert starts(slots, TORONTO) == ["09:00-0500", "10:00-0500"]


def test_slots_are_selected_by_start_inside_the_window() -> None:
    pieces = wednesday_pieces((hm(9), hm(12)))
    slots = bookable_slots(
        pieces=pieces,
        window=Interval(jan14(9, 30), jan14(10, 30)),
        duration=60 * MIN,
        step=30 * MIN,
        now=NOW,
    )
    # 10:00-11:00 starts inside the window, so it is included although it ends after it.
    assert starts(slots, TORONTO) == ["09:30-0500", "10:00-0500"]


def test_independent_owner_hours_are_own_blocks_within_workshop_hours() -> None:
    mechanic = wednesday_pieces((hm(8), hm(12)))
    workshop = wednesday_pieces((hm(9), hm(17)))
    owner_pieces = intersect_pieces(mechanic, workshop)
    assert owner_pieces == (Interval(jan14(9), jan14(12)),)
    slots = bookable_slots(
        pieces=owner_pieces, window=JAN14_WINDOW, duration=60 * MIN, step=60 * MIN, now=NOW
    )
    assert starts(slots, TORONTO) == ["09:00-0500", "10:00-0500", "11:00-0500"]


def test_intersect_pieces_keeps_pieces_separate_and_drops_duplicates() -> None:
    a = [
        Interval(jan14(9), jan14(12)),
        Interval(jan14(9), jan14(12)),
        Interval(jan14(11), jan14(15)),
    ]
    b = [Interval(jan14(10), jan14(14))]
    assert intersect_pieces(a, b) == (
        Interval(jan14(10), jan14(12)),
        Interval(jan14(11), jan14(14)),
    )
    assert intersect_pieces(a, []) == ()


def test_workshop_break_as_two_blocks_leaves_no_slot_over_lunch() -> None:
    slots = bookable_slots(
        pieces=wednesday_pieces((hm(9), hm(12)), (hm(13), hm(17))),
        window=JAN14_WINDOW,
        duration=60 * MIN,
        step=30 * MIN,
        now=NOW,
    )
    assert [s.start.astimezone(ZoneInfo(TORONTO)).strftime("%H:%M") for s in slots] == [
        "09:00", "09:30", "10:00", "10:30", "11:00",
        "13:00", "13:30", "14:00", "14:30", "15:00", "15:30", "16:00",
    ]  # fmt: skip


def test_spring_forward_slots_follow_real_time() -> None:
    schedule = LocalSchedule(TORONTO, (WeeklyBlock(SUN, hm(1), hm(4)),))
    window = day_window(TORONTO, date(2026, 3, 8))
    slots = bookable_slots(
        pieces=expand(schedule, window), window=window, duration=30 * MIN, step=30 * MIN, now=NOW
    )
    # 01:00-04:00 on this day is two real hours; 02:xx does not exist.
    assert starts(slots, TORONTO) == ["01:00-0500", "01:30-0500", "03:00-0400", "03:30-0400"]


def test_fall_back_slots_follow_real_time_and_repeat_the_wall_clock() -> None:
    schedule = LocalSchedule(TORONTO, (WeeklyBlock(SUN, hm(0, 30), hm(2)),))
    window = day_window(TORONTO, date(2026, 11, 1))
    slots = bookable_slots(
        pieces=expand(schedule, window), window=window, duration=30 * MIN, step=30 * MIN, now=NOW
    )
    assert starts(slots, TORONTO) == [
        "00:30-0400", "01:00-0400", "01:30-0400", "01:00-0500", "01:30-0500",
    ]  # fmt: skip
    assert daily_counts(slots, TORONTO) == {date(2026, 11, 1): 5}


def test_daily_counts_uses_the_local_date_of_the_slot_start() -> None:
    slots = [
        Interval(utc(2026, 1, 15, 3), utc(2026, 1, 15, 4)),  # 22:00 on the 14th in Toronto
        Interval(utc(2026, 1, 15, 14), utc(2026, 1, 15, 15)),
        Interval(utc(2026, 1, 15, 15), utc(2026, 1, 15, 16)),
    ]
    assert daily_counts(slots, TORONTO) == {date(2026, 1, 14): 1, date(2026, 1, 15): 2}
    assert daily_counts(slots, "UTC") == {date(2026, 1, 15): 3}
    assert daily_counts([], TORONTO) == {}


def test_is_bookable_accepts_an_off_grid_start_inside_free_time() -> None:
    pieces = wednesday_pieces((hm(9), hm(12)), (hm(12), hm(17)))
    assert is_bookable(Interval(jan14(9, 7), jan14(9, 52)), pieces=pieces, now=NOW)
    assert is_bookable(Interval(jan14(11, 50), jan14(12, 20)), pieces=pieces, now=NOW)


def test_is_bookable_rejects_slots_outside_hours_or_across_a_break() -> None:
    pieces = wednesday_pieces((hm(9), hm(12)), (hm(13), hm(17)))
    assert not is_bookable(Interval(jan14(8, 30), jan14(9, 30)), pieces=pieces, now=NOW)
    assert not is_bookable(Interval(jan14(11, 30), jan14(13, 30)), pieces=pieces, now=NOW)
    assert not is_bookable(Interval(jan14(16, 30), jan14(17, 30)), pieces=pieces, now=NOW)


def test_is_bookable_rejects_busy_buffer_time_off_notice_and_advance() -> None:
    pieces = wednesday_pieces((hm(9), hm(17)))
    slot = Interval(jan14(10, 30), jan14(11))
    busy = [Interval(jan14(10), jan14(10, 20))]
    assert is_bookable(slot, pieces=pieces, busy=busy, buffer=10 * MIN, now=NOW)
    assert not is_bookable(slot, pieces=pieces, busy=busy, buffer=11 * MIN, now=NOW)
    assert not is_bookable(
        slot, pieces=pieces, time_off=[Interval(jan14(10, 59), jan14(12))], now=NOW
    )
    assert is_bookable(slot, pieces=pieces, now=jan14(8, 30), min_notice=2 * HOUR)
    assert not is_bookable(slot, pieces=pieces, now=jan14(8, 31), min_notice=2 * HOUR)
    assert is_bookable(slot, pieces=pieces, now=jan14(0, 30), max_advance=10 * HOUR)
    assert not is_bookable(slot, pieces=pieces, now=jan14(0, 29), max_advance=10 * HOUR)


def test_no_pieces_means_no_slots() -> None:
    assert (
        bookable_slots(pieces=(), window=JAN14_WINDOW, duration=30 * MIN, step=15 * MIN, now=NOW)
        == ()
    )
    assert not is_bookable(Interval(jan14(9), jan14(10)), pieces=(), now=NOW)


# ======================================================================================
# Validation and helpers
# ======================================================================================


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"duration": timedelta(0)}, "duration must be positive"),
        ({"step": -MIN}, "step must be positive"),
        ({"buffer": -MIN}, "buffer must not be negative"),
        ({"min_notice": -MIN}, "min_notice must not be negative"),
        ({"max_advance": -MIN}, "max_advance must not be negative"),
        ({"now": NOW.replace(tzinfo=None)}, "now must be a timezone-aware datetime"),
    ],
)
def test_bookable_slots_rejects_invalid_rules(overrides: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {
        "pieces": wednesday_pieces((hm(9), hm(12))),
        "window": JAN14_WINDOW,
        "duration": 30 * MIN,
        "step": 15 * MIN,
        "now": NOW,
    }
    arguments.update(overrides)
    with pytest.raises(ValueError, match=message):
        bookable_slots(**arguments)  # type: ignore[arg-type]


def test_is_bookable_rejects_negative_buffer_and_notice() -> None:
    slot = Interval(jan14(9), jan14(10))
    with pytest.raises(ValueError, match="buffer"):
        is_bookable(slot, pieces=(), buffer=-MIN, now=NOW)
    with pytest.raises(ValueError, match="min_notice"):
        is_bookable(slot, pieces=(), min_notice=-MIN, now=NOW)


@pytest.mark.parametrize(
    ("day", "start", "end", "message"),
    [
        (7, 0, 60, "day_of_week"),
        (-1, 0, 60, "day_of_week"),
        (0, -1, 60, "start_minute"),
        (0, 1440, 1440, "start_minute"),
        (0, 0, 1441, "end_minute"),
        (0, 0, 0, "end_minute"),
        (0, 600, 600, "before end_minute"),
        (0, 700, 600, "before end_minute"),
    ],
)
def test_weekly_block_rejects_out_of_range_values(
    day: int, start: int, end: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        WeeklyBlock(day, start, end)


def test_weekly_block_accepts_a_whole_day() -> None:
    assert WeeklyBlock(SAT, 0, MINUTES_PER_DAY).end_minute == 1440


def test_day_override_rejects_bad_hours() -> None:
    with pytest.raises(ValueError, match="before end_minute"):
        DayOverride(JAN14, ((hm(12), hm(9)),))
    with pytest.raises(ValueError, match="end_minute"):
        DayOverride(JAN14, ((hm(12), 1500),))


def test_local_schedule_rejects_unknown_zone_and_duplicate_overrides() -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        LocalSchedule("Mars/Olympus_Mons", ())
    with pytest.raises(ValueError, match="more than one override"):
        LocalSchedule(TORONTO, (), (DayOverride(JAN14), DayOverride(JAN14, ((60, 120),))))


def test_minute_label() -> None:
    assert minute_label(0) == "00:00"
    assert minute_label(90) == "01:30"
    assert minute_label(1440) == "24:00"
    with pytest.raises(ValueError):
        minute_label(1441)


# ======================================================================================
# Properties
# ======================================================================================

ZONES = (
    "America/St_Johns",
    "Australia/Lord_Howe",
    "Europe/London",
    "America/Toronto",
    "Pacific/Chatham",
    "America/Vancouver",
    "America/Halifax",
    "America/Winnipeg",
    "America/Regina",
    "America/Edmonton",
    "Europe/Berlin",
    "Europe/Dublin",
    "America/Santiago",
    "America/Havana",
    "Asia/Beirut",
    "Asia/Kathmandu",
    "Asia/Kolkata",
    "Australia/Adelaide",
    "Australia/Sydney",
    "Pacific/Auckland",
    "America/Sao_Paulo",
    "Asia/Tehran",
    "Africa/Casablanca",
    "America/New_York",
    "UTC",
)
FIRST_DAY, LAST_DAY = date(2025, 1, 1), date(2027, 12, 31)


@dataclass(frozen=True)
class Transition:
    """One UTC-offset change: its instant and the local wall times on either side of it."""

    instant: datetime
    hot: tuple[tuple[date, int], ...]  # (local date, minute) pairs worth putting blocks at


def _transitions(zone: str) -> tuple[Transition, ...]:
    """Every UTC-offset change of ``zone`` in 2025-2027 (daily scan, then bisection)."""
    tz = ZoneInfo(zone)
    second = timedelta(seconds=1)
    found = []
    t = datetime(FIRST_DAY.year, 1, 1, 12, tzinfo=UTC)
    previous = t.astimezone(tz).utcoffset()
    while t.date() < LAST_DAY:
        following = t + DAY
        offset = following.astimezone(tz).utcoffset()
        if offset != previous:
            low, high = t, following
            while high - low > second:
                middle = low + ((high - low) // (2 * second)) * second
                if middle.astimezone(tz).utcoffset() == previous:
                    low = middle
                else:
                    high = middle
            hot: list[tuple[date, int]] = []
            for shift in (previous, offset):
                assert shift is not None
                wall = high + shift  # the wall clock reading, written as if it were UTC
                minute = wall.hour * 60 + wall.minute
                hot.append((wall.date(), minute))
                if minute == 0:
                    hot.append((wall.date() - DAY, MINUTES_PER_DAY))
            found.append(Transition(high, tuple(hot)))
        t, previous = following, offset
    return tuple(found)


TRANSITIONS = {zone: _transitions(zone) for zone in ZONES}


def test_the_property_zones_include_dst_transitions() -> None:
    assert len(TRANSITIONS["America/Toronto"]) == 6
    assert TRANSITIONS["America/Toronto"][2].instant == utc(2026, 3, 8, 7)
    assert TRANSITIONS["America/Toronto"][2].hot == (
        (date(2026, 3, 8), 120),
        (date(2026, 3, 8), 180),
    )
    assert len(TRANSITIONS["Australia/Lord_Howe"]) == 6
    assert TRANSITIONS["Asia/Kolkata"] == ()


def oracle(zone: str, day: date, minute: int) -> tuple[datetime, bool]:
    """Independent reference for wall time -> real time.

    Returns the first real instant whose local wall clock reads at least ``day`` +
    ``minute`` (which is the first occurrence of an ambiguous time and the end of a gap for
    a missing one), and whether that wall time is missing. Works by locating the (at most
    one) offset transition in a 32-hour range and reasoning about the two straight pieces
    of the wall clock around it -- no fold/round-trip logic as in the engine.
    """
    tz = ZoneInfo(zone)
    wall = datetime(day.year, day.month, day.day, tzinfo=UTC) + minute * MIN  # as if UTC
    low, high = wall - 17 * HOUR, wall + 15 * HOUR  # offsets are within -12..+14 h
    before, after = low.astimezone(tz).utcoffset(), high.astimezone(tz).utcoffset()
    assert before is not None and after is not None
    if before == after:
        return wall - before, False
    second = timedelta(seconds=1)
    while high - low > second:  # find the transition instant: first one with ``after``
        middle = low + ((high - low) // (2 * second)) * second
        if middle.astimezone(tz).utcoffset() == before:
            low = middle
        else:
            high = middle
    transition = high
    if wall - before < transition:  # reached while the old offset still applied
        return wall - before, False
    return max(transition, wall - after), wall - after < transition


Hot = tuple[tuple[date, int], ...]


@st.composite
def zone_and_day(draw: st.DrawFn, spread: int = 3) -> tuple[str, date, Hot]:
    """A zone, a local date usually within ``spread`` days of one of its DST transitions,
    and that transition's wall times (to aim schedule blocks at)."""
    zone = draw(st.sampled_from(ZONES))
    if TRANSITIONS[zone] and draw(st.integers(0, 9)) > 0:
        transition = draw(st.sampled_from(TRANSITIONS[zone]))
        anchor = transition.instant.astimezone(ZoneInfo(zone)).date()
        return zone, anchor + draw(st.integers(-spread, spread)) * DAY, transition.hot
    return zone, draw(st.dates(FIRST_DAY, LAST_DAY - 40 * DAY)), ()


minutes_of_day = st.one_of(
    st.integers(0, 95).map(lambda quarter: quarter * 15), st.integers(0, MINUTES_PER_DAY - 1)
)


@st.composite
def hours_pair(draw: st.DrawFn) -> tuple[int, int]:
    start = draw(minutes_of_day)
    end = draw(st.one_of(st.just(MINUTES_PER_DAY), st.integers(start + 1, MINUTES_PER_DAY)))
    length_cap = draw(st.sampled_from([30, 60, 90, 180, 240, 480, MINUTES_PER_DAY]))
    return start, min(end, start + length_cap)


weekly_blocks = st.lists(
    st.builds(lambda d, pair: WeeklyBlock(d, *pair), st.integers(0, 6), hours_pair()),
    min_size=1,
    max_size=6,
)


@st.composite
def blocks_near(draw: st.DrawFn, hot: Hot) -> list[WeeklyBlock]:
    """Random weekly blocks, plus blocks starting/ending close to the DST wall times."""
    blocks = list(draw(weekly_blocks))  # a fresh list: never mutate a drawn value
    for day, minute in hot:
        if draw(st.booleans()):
            a = minute + draw(st.sampled_from([-120, -60, -30, -15, 0, 15, 30, 45, 60]))
            b = minute + draw(st.sampled_from([-60, -30, -15, 0, 15, 30, 45, 60, 90, 120]))
            start, end = max(0, min(a, b)), min(MINUTES_PER_DAY, max(a, b))
            if start < end and start < MINUTES_PER_DAY:
                blocks.append(WeeklyBlock((day.weekday() + 1) % 7, start, end))
    return blocks


def expected_pieces(
    schedule: LocalSchedule, first: date, last: date
) -> list[tuple[datetime, datetime, date, int]]:
    """Reference pieces (start, end, local date, start minute) computed with the oracle."""
    overrides = {o.day: o.hours for o in schedule.overrides}
    out = []
    day = first
    while day <= last:
        dow = (day.weekday() + 1) % 7
        hours = overrides.get(day)
        if hours is None:
            hours = tuple(
                (b.start_minute, b.end_minute) for b in schedule.blocks if b.day_of_week == dow
            )
        for start_minute, end_minute in hours:
            start, _ = oracle(schedule.zone, day, start_minute)
            end, _ = oracle(schedule.zone, day, end_minute)
            if end > start:
                out.append((start, end, day, start_minute))
        day += DAY
    return out


@settings(max_examples=150, deadline=None)
@given(
    zone_day=zone_and_day(spread=1),
    data=st.data(),
    override_hours=st.lists(st.lists(hours_pair(), max_size=2), max_size=2),
    span_days=st.integers(0, 2),
)
def test_expand_matches_the_oracle_and_resolves_each_block_once_per_date(
    zone_day: tuple[str, date, Hot],
    data: st.DataObject,
    override_hours: list[list[tuple[int, int]]],
    span_days: int,
) -> None:
    zone, day, hot = zone_day
    blocks = data.draw(blocks_near(hot))
    tz = ZoneInfo(zone)
    overrides = tuple(
        DayOverride(day + i * DAY, tuple(hours)) for i, hours in enumerate(override_hours)
    )
    schedule = LocalSchedule(zone, tuple(blocks), overrides)
    window = Interval(oracle(zone, day, 0)[0], oracle(zone, day + span_days * DAY, 720)[0])

    pieces = expand(schedule, window)
    reference = expected_pieces(
        schedule,
        window.start.astimezone(tz).date() - DAY,
        window.end.astimezone(tz).date() + DAY,
    )

    assert all(p.end > p.start for p in pieces)
    assert list(pieces) == sorted(pieces, key=lambda p: (p.start, p.end))
    # Exactly one piece per non-empty (block, local date): same multiset as the reference.
    assert sorted((p.start, p.end) for p in pieces) == sorted((s, e) for s, e, _, _ in reference)
    for start, _, local_day, start_minute in reference:
        exact, in_gap = oracle(zone, local_day, start_minute)
        wall = start.astimezone(tz).replace(tzinfo=None)
        requested = datetime(local_day.year, local_day.month, local_day.day) + start_minute * MIN  # noqa: DTZ001
        if in_gap:
            # The first real instant after the gap: one second earlier has another offset.
            assert wall > requested
            assert (start - timedelta(seconds=1)).astimezone(tz).utcoffset() != start.astimezone(
                tz
            ).utcoffset()
        else:
            assert wall == requested
        assert start == exact


@settings(max_examples=150, deadline=None)
@given(zone_day=zone_and_day(), days=st.integers(1, 10))
def test_an_all_day_block_lasts_exactly_as_long_as_the_real_local_day(
    zone_day: tuple[str, date, Hot], days: int
) -> None:
    zone, day, _ = zone_day
    tz = ZoneInfo(zone)
    schedule = LocalSchedule(zone, tuple(WeeklyBlock(d, 0, MINUTES_PER_DAY) for d in range(7)))
    window = Interval(oracle(zone, day, 0)[0], oracle(zone, day + days * DAY, 0)[0])
    pieces = expand(schedule, window)
    for piece in pieces:
        local_day = piece.start.astimezone(tz).date()
        midnight, _ = oracle(zone, local_day, 0)
        next_midnight, _ = oracle(zone, local_day + DAY, 0)
        assert piece.duration == next_midnight - midnight
    # Consecutive days tile real time with no gap and no overlap.
    assert all(a.end == b.start for a, b in pairwise(pieces))


@st.composite
def scenarios(draw: st.DrawFn, min_days: int, max_days: int) -> dict[str, object]:
    zone, day, hot = draw(zone_and_day())
    days = draw(st.integers(min_days, max_days))
    start = oracle(zone, day - draw(st.integers(0, 2)) * DAY, 0)[0]
    start += draw(st.integers(0, 1439)) * MIN
    window = Interval(start, start + days * DAY + draw(st.integers(0, 1439)) * MIN)
    schedule = LocalSchedule(zone, tuple(draw(blocks_near(hot))))
    pieces = expand(schedule, Interval(window.start - DAY, window.end + DAY))
    span = int(window.duration / MIN)

    def intervals(max_size: int, min_len: int, max_len: int) -> list[Interval]:
        found = []
        for offset, length in draw(
            st.lists(
                st.tuples(st.integers(-120, span), st.integers(min_len, max_len)),
                max_size=max_size,
            )
        ):
            begin = window.start + 5 * offset * MIN
            found.append(Interval(begin, begin + 5 * length * MIN))
        return found

    max_advance = draw(st.one_of(st.none(), st.integers(0, 60 * 24).map(lambda h: h * HOUR)))
    return {
        "zone": zone,
        "schedule": schedule,
        "pieces": pieces,
        "window": window,
        "duration": draw(st.sampled_from([15, 30, 60])) * MIN,
        "step": draw(st.sampled_from([15, 30])) * MIN,
        "busy": intervals(20, 3, 48),
        "buffer": draw(st.integers(0, 30)) * MIN,
        "time_off": intervals(3, 6, 3 * 288),
        "now": window.start + draw(st.integers(-2 * 1440, 10 * 1440)) * MIN,
        "min_notice": draw(st.integers(0, 48 * 60)) * MIN,
        "max_advance": max_advance,
    }


def slot_arguments(scenario: dict[str, object]) -> dict[str, object]:
    return {key: value for key, value in scenario.items() if key not in {"zone", "schedule"}}


def rule_arguments(scenario: dict[str, object]) -> dict[str, object]:
    skip = {"zone", "schedule", "window", "duration", "step"}
    return {key: value for key, value in scenario.items() if key not in skip}


@settings(max_examples=150, deadline=None)
@given(scenario=scenarios(1, 6))
def test_slots_respect_hours_time_off_busy_buffer_and_are_strictly_increasing(
    scenario: dict[str, object],
) -> None:
    slots = bookable_slots(**slot_arguments(scenario))  # type: ignore[arg-type]
    working = merge(scenario["pieces"])  # type: ignore[arg-type]
    busy: list[Interval] = scenario["busy"]  # type: ignore[assignment]
    buffer: timedelta = scenario["buffer"]  # type: ignore[assignment]
    time_off: list[Interval] = scenario["time_off"]  # type: ignore[assignment]
    window: Interval = scenario["window"]  # type: ignore[assignment]
    for slot in slots:
        assert slot.duration == scenario["duration"]
        assert window.start <= slot.start < window.end
        assert any(w.contains(slot) for w in working)
        assert not any(off.overlaps(slot) for off in time_off)
        assert not any(b.widened(buffer).overlaps(slot) for b in busy)
        assert not any(b.overlaps(slot) for b in busy)
    assert all(a.start < b.start for a, b in pairwise(slots))


@settings(max_examples=100, deadline=None)
@given(scenario=scenarios(1, 6))
def test_slots_equal_a_brute_force_scan_of_every_grid_candidate(
    scenario: dict[str, object],
) -> None:
    slots = bookable_slots(**slot_arguments(scenario))  # type: ignore[arg-type]
    window: Interval = scenario["window"]  # type: ignore[assignment]
    duration: timedelta = scenario["duration"]  # type: ignore[assignment]
    step: timedelta = scenario["step"]  # type: ignore[assignment]
    now: datetime = scenario["now"]  # type: ignore[assignment]
    max_advance: timedelta | None = scenario["max_advance"]  # type: ignore[assignment]
    buffer: timedelta = scenario["buffer"]  # type: ignore[assignment]
    working = merge(scenario["pieces"])  # type: ignore[arg-type]
    blocked = [b.widened(buffer) for b in scenario["busy"]] + list(scenario["time_off"])  # type: ignore[attr-defined]

    expected = set()
    for piece in scenario["pieces"]:  # type: ignore[attr-defined]
        candidate = piece.start
        while candidate < piece.end:
            slot = Interval(candidate, candidate + duration)
            if (
                window.start <= candidate < window.end
                and candidate >= now + scenario["min_notice"]  # type: ignore[operator]
                and (max_advance is None or candidate <= now + max_advance)
                and any(w.contains(slot) for w in working)
                and not any(b.overlaps(slot) for b in blocked)
            ):
                expected.add(slot)
            candidate += step
    assert slots == tuple(sorted(expected))


@settings(max_examples=100, deadline=None)
@given(scenario=scenarios(1, 4))
def test_every_returned_slot_is_bookable(scenario: dict[str, object]) -> None:
    slots = bookable_slots(**slot_arguments(scenario))  # type: ignore[arg-type]
    rules = rule_arguments(scenario)
    assert all(is_bookable(slot, **rules) for slot in slots)  # type: ignore[arg-type]


def split(window: Interval, cuts: list[datetime]) -> list[Interval]:
    points = [window.start, *sorted(c for c in cuts if window.start < c < window.end), window.end]
    return [Interval(a, b) for a, b in pairwise(points)]


@settings(max_examples=100, deadline=None)
@given(scenario=scenarios(7, 31))
def test_slots_for_a_long_window_equal_the_day_by_day_results(
    scenario: dict[str, object],
) -> None:
    window: Interval = scenario["window"]  # type: ignore[assignment]
    zone: str = scenario["zone"]  # type: ignore[assignment]
    tz = ZoneInfo(zone)
    whole = bookable_slots(**slot_arguments(scenario))  # type: ignore[arg-type]

    first = window.start.astimezone(UTC).date()
    utc_midnights = [
        datetime(first.year, first.month, first.day, tzinfo=UTC) + i * DAY for i in range(34)
    ]
    local_first = window.start.astimezone(tz).date()
    local_midnights = [oracle(zone, local_first + i * DAY, 0)[0] for i in range(34)]

    for cuts in (utc_midnights, local_midnights):
        pieces_of_days = split(window, cuts)
        assert len(pieces_of_days) >= 7
        joined: list[Interval] = []
        for part in pieces_of_days:
            joined.extend(bookable_slots(**{**slot_arguments(scenario), "window": part}))  # type: ignore[arg-type]
        assert tuple(joined) == whole

    # Expanding each day's own window (as a per-day request would) is enough as well.
    schedule: LocalSchedule = scenario["schedule"]  # type: ignore[assignment]
    joined = []
    for part in split(window, local_midnights):
        own_pieces = expand(schedule, part)
        joined.extend(
            bookable_slots(**{**slot_arguments(scenario), "window": part, "pieces": own_pieces})  # type: ignore[arg-type]
        )
    assert tuple(joined) == whole


piece_lists = st.lists(
    st.tuples(st.integers(0, 200), st.integers(1, 60)).map(
        lambda p: Interval(utc(2026, 1, 1) + p[0] * 5 * MIN, utc(2026, 1, 1) + sum(p) * 5 * MIN)
    ),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(a=piece_lists, b=piece_lists)
def test_intersect_pieces_equals_every_pairwise_overlap(
    a: list[Interval], b: list[Interval]
) -> None:
    expected = {
        Interval(max(x.start, y.start), min(x.end, y.end)) for x in a for y in b if x.overlaps(y)
    }
    result = intersect_pieces(a, b)
    assert result == tuple(sorted(expected))
    assert merge(result) == intersection(a, b)
