"""Set-based reads over many mechanics: who is free, and the earliest slot.

Both must give exactly the answers of the one-mechanic functions (one source of truth,
ARCHITECTURE invariant 2); the population below mixes every mechanic type, zones with
unusual DST rules, touching blocks, overrides, time off of each status, busy time with
buffers, and notice/advance settings.
"""

import random
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from autodoctor.accounts.models import MechanicProfile
from autodoctor.availability.engine import Interval
from autodoctor.availability.models import DateOverride, TimeOff, WeeklyBlock
from autodoctor.availability.service import (
    BUSY_SOURCES,
    available_slots,
    earliest_slot,
    is_available,
    mechanics_free_between,
)
from tests.factories import MechanicFactory, WorkshopFactory, weekly_hours, workshop_hours

# Every instant here is passed in (now=…), so the moved-clock passes of `./dev test` skip it.
pytestmark = [pytest.mark.django_db, pytest.mark.explicit_now]

ZONES = [
    "America/Toronto",
    "America/St_Johns",
    "Europe/London",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Asia/Kolkata",
    "UTC",
]
# Around the 2026 transitions of the zones above (local dates).
DST_DAYS = [
    datetime(2026, 3, 8, 7, tzinfo=UTC),  # North America springs forward
    datetime(2026, 3, 29, 1, tzinfo=UTC),  # London
    datetime(2026, 4, 4, 15, tzinfo=UTC),  # Lord Howe (half hour) and Chatham
    datetime(2026, 11, 1, 6, tzinfo=UTC),  # North America falls back
]


def _random_blocks(rng: random.Random) -> list[tuple[int, int, int]]:
    blocks = []
    for day in range(7):
        if rng.random() < 0.25:
            continue
        start = rng.choice([0, 60, 90, 420, 480, 540, 555, 600, 720, 1020, 1320])
        while start < 1440 and rng.random() < 0.8:
            end = min(1440, start + rng.choice([15, 45, 60, 120, 180, 240, 600]))
            blocks.append((day, start, end))
            # Often the next block touches this one (a slot may run across the join).
            start = end if rng.random() < 0.5 else end + rng.choice([15, 30, 120])
    return blocks


def build_population(seed: int, size: int = 24) -> tuple[list[MechanicProfile], random.Random]:
    """A deterministic, varied population: the mechanics and the random generator."""
    rng = random.Random(seed)
    shops = []
    for _ in range(4):
        shop = WorkshopFactory(time_zone=rng.choice(ZONES))
        breaks = rng.choice([None, (720, 780), (600, 615)])
        days = [d for d in range(7) if rng.random() < 0.8]
        workshop_hours(
            shop,
            days=days,
            open_=rng.choice([0, 420, 480]),
            close=rng.choice([1020, 1320, 1440]),
            break_=breaks,
        )
        if rng.random() < 0.5:
            shop.hours.filter(day_of_week=rng.randrange(7)).update(is_open=False)
        shops.append(shop)
    mechanics = []
    for n in range(size):
        kind = n % 3
        settings = {
            "settings__min_notice_minutes": rng.choice([0, 0, 30, 120]),
            "settings__buffer_minutes": rng.choice([0, 10, 15, 60]),
            "settings__max_advance_days": rng.choice([1, 30, 365]),
            "settings__slot_step_minutes": rng.choice([5, 15, 30]),
        }
        user_zone = {"user__time_zone": rng.choice(ZONES)}
        if kind == 0:
            mechanic = MechanicFactory(**settings, **user_zone)
        elif kind == 1:
            mechanic = MechanicFactory(
                workshop=rng.choice(shops),
                account_type="workshop_mechanic",
                **settings,
                **user_zone,
            )
        else:
            mechanic = MechanicFactory(
                workshop=rng.choice(shops),
                account_type="individual_mechanic",
                **settings,
                **user_zone,
            )
        WeeklyBlock.objects.bulk_create(
            WeeklyBlock(mechanic=mechanic, day_of_week=d, start_minute=s, end_minute=e)
            for d, s, e in _random_blocks(rng)
        )
        mechanics.append(mechanic)
    return mechanics, rng


def decorate(mechanics, shops_rng: random.Random, busy, around: list[datetime]) -> None:
    """Overrides, time off and busy time near the instants we will ask about."""
    rng = shops_rng
    for at in around:
        for mechanic in rng.sample(mechanics, k=len(mechanics) // 3):
            start = at + timedelta(minutes=rng.randrange(-600, 600, 5))
            TimeOff.objects.create(
                mechanic=mechanic,
                starts_at=start,
                ends_at=start + timedelta(minutes=rng.choice([30, 90, 600])),
                status=rng.choice(["approved", "pending", "declined"]),
            )
        for mechanic in rng.sample(mechanics, k=len(mechanics) // 2):
            start = at + timedelta(minutes=rng.randrange(-600, 600, 5))
            busy.add(mechanic, start, start + timedelta(minutes=rng.choice([15, 30, 60])))
        day = at.date()
        for mechanic in rng.sample(mechanics, k=len(mechanics) // 4):
            for offset in (-1, 0, 1):
                if rng.random() < 0.5:
                    continue
                closed = rng.random() < 0.3
                start = rng.choice([0, 480, 600, 900])
                DateOverride.objects.create(
                    mechanic=mechanic,
                    day=day + timedelta(days=offset),
                    start_minute=None if closed else start,
                    end_minute=None if closed else start + rng.choice([60, 240, 540]),
                )
        shops = {m.workshop for m in mechanics if m.workshop}
        for shop in rng.sample(sorted(shops, key=lambda s: s.pk), k=1):
            DateOverride.objects.create(workshop=shop, day=day, start_minute=600, end_minute=840)


def windows(
    rng: random.Random, around: list[datetime], count: int
) -> list[tuple[datetime, datetime]]:
    out = []
    for n in range(count):
        base = around[n % len(around)]
        start = base + timedelta(minutes=rng.randrange(-12 * 60, 12 * 60, rng.choice([1, 5, 15])))
        start += timedelta(seconds=rng.choice([0, 0, 0, 17]))
        out.append((start, start + timedelta(minutes=rng.choice([15, 30, 60, 120, 200]))))
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_who_is_free_agrees_with_is_available_for_every_mechanic(seed, busy):
    mechanics, rng = build_population(seed)
    around = [
        *DST_DAYS,
        datetime(2026, 6, 10, 14, tzinfo=UTC),
        datetime(2026, 6, 13, 3, tzinfo=UTC),
    ]
    decorate(mechanics, rng, busy, around)
    for start, end in windows(rng, around, 40):
        now = start - timedelta(minutes=rng.choice([0, 20, 121, 60 * 24 * 2]))
        expected = {m.pk for m in mechanics if is_available(m, start, end, now=now)}
        assert mechanics_free_between(start, end, now=now) == expected, (start, end, now)


def test_who_is_free_respects_the_candidate_list(busy):
    mechanics, _ = build_population(7, size=9)
    start = datetime(2026, 6, 10, 14, tzinfo=UTC)
    end = start + timedelta(minutes=30)
    everyone = mechanics_free_between(start, end, now=start)
    some = [m.pk for m in mechanics[:4]]
    assert mechanics_free_between(start, end, some, now=start) == everyone & set(some)
    as_queryset = MechanicProfile.objects.filter(pk__in=some)
    assert mechanics_free_between(start, end, as_queryset, now=start) == everyone & set(some)
    assert mechanics_free_between(start, end, [], now=start) == set()


def test_a_mechanic_in_a_zone_crossing_midnight_is_found_free():
    mechanic = MechanicFactory(settings__min_notice_minutes=0, user__time_zone="Asia/Kolkata")
    weekly_hours(mechanic, days=[3], start=22 * 60, end=24 * 60)  # Wednesday evening
    weekly_hours(mechanic, days=[4], start=0, end=2 * 60)  # Thursday early
    # Wednesday 2026-06-10 23:30 to Thursday 00:30 in Kolkata (UTC+5:30).
    start = datetime(2026, 6, 10, 18, tzinfo=UTC)
    assert mechanics_free_between(start, start + timedelta(hours=1), now=start) == {mechanic.pk}


def test_nobody_is_free_for_a_start_in_the_past():
    mechanic = MechanicFactory(settings__min_notice_minutes=0)
    weekly_hours(mechanic)
    start = datetime(2026, 6, 10, 14, tzinfo=UTC)
    assert (
        mechanics_free_between(start, start + timedelta(hours=1), now=start + timedelta(seconds=1))
        == set()
    )


def _count_queries(fn) -> int:
    with CaptureQueriesContext(connection) as queries:
        fn()
    return len(queries)


def test_who_is_free_runs_the_same_few_queries_for_3_or_30_mechanics(busy):
    # 01:30 EST -> 03:30 EDT: Toronto's clocks jump inside the window, so the engine
    # fallback runs too; its queries are fixed as well.
    start = datetime(2026, 3, 8, 6, 30, tzinfo=UTC)

    def ask():
        return mechanics_free_between(start, start + timedelta(hours=1), now=start)

    for zone in ("America/Toronto", "America/Toronto", "Europe/London"):
        mechanic = MechanicFactory(settings__min_notice_minutes=0, user__time_zone=zone)
        weekly_hours(mechanic, start=0, end=1440)
    few = _count_queries(ask)
    assert len(ask()) == 3  # two through the DST fallback, one through SQL
    build_population(12, size=30)
    many = _count_queries(ask)
    assert few == many
    # zones, the SQL, busy sources; DST fallback: its query plus the loader's five + busy.
    assert many <= 3 + 5 + 2 * len(BUSY_SOURCES)


def test_who_is_free_on_an_ordinary_hour_is_two_queries_plus_busy_sources(
    busy, django_assert_max_num_queries
):
    build_population(13, size=30)
    start = datetime(2026, 6, 10, 14, tzinfo=UTC)
    with django_assert_max_num_queries(2 + len(BUSY_SOURCES)):
        mechanics_free_between(start, start + timedelta(hours=1), now=start)


# ---------------------------------------------------------------- earliest slot


def brute_force_earliest(mechanics, duration, *, after, now):
    best = None
    for mechanic in mechanics:
        # The first two weeks first (where nearly every answer is); the whole year only
        # when they hold nothing: the same first slot, found without listing a year.
        slots = available_slots(mechanic, after, after + timedelta(days=14), duration, now=now)
        if not slots:
            slots = available_slots(mechanic, after, now + timedelta(days=366), duration, now=now)
        if slots and (best is None or (slots[0].start, mechanic.pk) < (best[1].start, best[0])):
            best = (mechanic.pk, slots[0])
    return best


@pytest.mark.parametrize("seed", [21, 22])
def test_earliest_slot_matches_brute_force(seed, busy):
    mechanics, rng = build_population(seed, size=12)
    around = [DST_DAYS[0], DST_DAYS[3], datetime(2026, 6, 10, 14, tzinfo=UTC)]
    decorate(mechanics, rng, busy, around)
    for at in around:
        for shift in (-300, -61, 0, 7, 200):
            now = at + timedelta(minutes=shift, seconds=rng.choice([0, 13]))
            for minutes in (15, 60):
                duration = timedelta(minutes=minutes)
                expected = brute_force_earliest(mechanics, duration, after=now, now=now)
                assert earliest_slot(duration, now=now) == expected, (now, minutes)


@pytest.mark.parametrize("seed", [41, 42])
def test_earliest_slot_of_each_mechanic_alone_is_its_first_slot(seed, busy):
    # One mechanic at a time: checks every mechanic's lower bound, not just the winner's.
    mechanics, rng = build_population(seed, size=12)
    around = [DST_DAYS[0], DST_DAYS[2], DST_DAYS[3], datetime(2026, 6, 10, 14, tzinfo=UTC)]
    decorate(mechanics, rng, busy, around[:2])
    for at in around:
        now = at + timedelta(minutes=rng.randrange(-600, 600), seconds=rng.choice([0, 29]))
        duration = timedelta(minutes=rng.choice([15, 45]))
        for mechanic in mechanics:
            expected = brute_force_earliest([mechanic], duration, after=now, now=now)
            assert earliest_slot(duration, [mechanic.pk], now=now) == expected, (now, mechanic.pk)


def test_earliest_slot_respects_candidates_and_after(busy):
    mechanics, _ = build_population(31, size=9)
    now = datetime(2026, 6, 10, 14, tzinfo=UTC)
    after = now + timedelta(days=2, minutes=13)
    subset = mechanics[3:7]
    duration = timedelta(minutes=30)
    assert earliest_slot(duration, [m.pk for m in subset], after=after, now=now) == (
        brute_force_earliest(subset, duration, after=after, now=now)
    )


def test_earliest_slot_of_an_independent_owner_uses_the_grid_of_the_later_opening():
    mechanic = MechanicFactory(
        independent=True, settings__min_notice_minutes=0, settings__slot_step_minutes=30
    )
    weekly_hours(mechanic, start=9 * 60 + 15, end=12 * 60)
    workshop_hours(mechanic.workshop, open_=8 * 60, close=17 * 60)
    now = datetime(2026, 6, 10, 14, 7, tzinfo=UTC)  # 10:07 in Toronto
    found = earliest_slot(timedelta(minutes=30), now=now)
    # Own hours open later, so the grid is 09:15, 09:45, 10:15 (not the shop's 10:30).
    assert found == (mechanic.pk, Interval(now + timedelta(minutes=8), now + timedelta(minutes=38)))


def test_earliest_slot_counts_real_time_across_a_spring_forward_night():
    mechanic = MechanicFactory(settings__min_notice_minutes=0, settings__slot_step_minutes=60)
    weekly_hours(mechanic, days=[0], start=3 * 60, end=4 * 60)  # Sunday 03:00–04:00
    now = datetime(2026, 3, 8, 4, tzinfo=UTC)  # Saturday 23:00 EST
    found = earliest_slot(timedelta(minutes=60), now=now)
    # Four wall-clock hours away but three real ones: 03:00 EDT is 07:00 UTC.
    assert found == (
        mechanic.pk,
        Interval(datetime(2026, 3, 8, 7, tzinfo=UTC), datetime(2026, 3, 8, 8, tzinfo=UTC)),
    )


def test_earliest_slot_is_none_when_nobody_has_hours():
    MechanicFactory()
    assert earliest_slot(timedelta(minutes=15), now=datetime(2026, 6, 10, tzinfo=UTC)) is None


def test_earliest_slot_ties_go_to_the_lowest_mechanic_id():
    first, second = MechanicFactory(), MechanicFactory()
    for mechanic in (second, first):
        weekly_hours(mechanic)
    now = datetime(2026, 6, 10, 12, tzinfo=UTC)  # 08:00 in Toronto
    found = earliest_slot(timedelta(minutes=15), now=now)
    assert found is not None
    assert found[0] == min(first.pk, second.pk)
    assert found[1].start == datetime(2026, 6, 10, 14, tzinfo=UTC)  # 10:00 (2 h notice)
