"""`availability.service.offered_minutes` sums plain local days in integer minutes and
sends every other stretch through the engine; on random hours, overrides, time off and
windows (DST days, half-hour zones, microseconds) it must give what the engine gives for
the whole window at once (`_offered_exact`, the definition it replaced)."""

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from autodoctor.accounts.models import AccountType
from autodoctor.availability import service
from autodoctor.availability.engine import Interval
from autodoctor.availability.models import (
    DateOverride,
    TimeOff,
    TimeOffStatus,
    WeeklyBlock,
)
from tests.factories import MechanicFactory, WorkshopFactory, workshop_hours

ZONES = [
    "America/Toronto",  # DST 2031-03-09 and 2031-11-02
    "Europe/London",  # DST 2031-03-30 and 2031-10-26
    "Australia/Lord_Howe",  # half-hour DST
    "America/St_Johns",  # half-hour offset with DST
    "Asia/Kolkata",  # no DST
    "America/Santiago",  # transitions at local midnight
]
# Windows of 1–40 days starting around the spring and autumn transitions.
ANCHORS = [datetime(2031, 3, 1, tzinfo=UTC), datetime(2031, 10, 15, tzinfo=UTC)]


def _random_blocks(rng: random.Random) -> list[tuple[int, int, int]]:
    """Weekly blocks (day, start, end) that may touch, run to 24:00 or sit in a DST gap."""
    blocks = []
    for dow in range(7):
        minute = rng.choice([0, 60, 120, 150, 420, 540])
        for _ in range(rng.randint(0, 3)):
            start = minute + rng.choice([0, 0, 30, 90])
            end = min(1440, start + rng.choice([30, 60, 120, 240, 480, 1440]))
            if start >= end:
                break
            blocks.append((dow, start, end))
            minute = end
    return blocks


def _random_mechanic(rng: random.Random, first_day: date, last_day: date):
    kind = rng.choice(["virtual", "affiliated", "independent", "independent"])
    zone = rng.choice(ZONES)
    shop = None
    if kind != "virtual":
        shop_zone = zone if kind == "affiliated" or rng.random() < 0.7 else rng.choice(ZONES)
        shop = WorkshopFactory(time_zone=shop_zone)
        for dow in range(7):
            if rng.random() < 0.2:
                continue
            open_ = rng.choice([0, 120, 480, 540])
            close = rng.choice([900, 1020, 1440])
            pause = (720, 780) if rng.random() < 0.5 else None
            workshop_hours(shop, days=[dow], open_=open_, close=close, break_=pause)
    account_type = {
        "virtual": "",
        "affiliated": AccountType.WORKSHOP_MECHANIC,
        "independent": AccountType.INDIVIDUAL_MECHANIC,
    }[kind]
    mechanic = MechanicFactory(user__time_zone=zone, workshop=shop, account_type=account_type)
    WeeklyBlock.objects.bulk_create(
        WeeklyBlock(mechanic=mechanic, day_of_week=d, start_minute=s, end_minute=e)
        for d, s, e in _random_blocks(rng)
    )
    span = (last_day - first_day).days
    for owner in ({"mechanic": mechanic}, {"workshop": shop} if shop else None):
        for _ in range(rng.randint(0, 3) if owner else 0):
            day = first_day + timedelta(days=rng.randint(0, span))
            if DateOverride.objects.filter(day=day, **owner).exists():
                continue
            if rng.random() < 0.4:
                DateOverride.objects.create(day=day, **owner)  # closed all day
            else:
                start = rng.choice([0, 120, 600])
                DateOverride.objects.create(
                    day=day, start_minute=start, end_minute=start + rng.choice([60, 300]), **owner
                )
    base = datetime.combine(first_day, datetime.min.time(), tzinfo=UTC)
    for _ in range(rng.randint(0, 3)):
        starts = base + timedelta(minutes=rng.randint(0, span * 1440))
        TimeOff.objects.create(
            mechanic=mechanic,
            starts_at=starts,
            ends_at=starts + timedelta(minutes=rng.choice([45, 600, 1440, 4000])),
            status=rng.choice(list(TimeOffStatus)),
        )
    if rng.random() < 0.1:
        mechanic.user.is_active = False
        mechanic.user.save(update_fields=["is_active"])
    return mechanic


def _engine_minutes(ids: list[int], window: Interval, now: datetime) -> dict[int, int]:
    """The whole window through the engine at once (what offered_minutes returned before)."""
    loaded = service._load(ids, service._context(window, timedelta(0)), now=now, with_busy=False)
    return {
        mid: service._offered_exact(inputs, window) // 60_000_000 for mid, inputs in loaded.items()
    }


@pytest.mark.django_db
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_offered_minutes_agrees_with_the_engine_on_random_hours(seed):
    rng = random.Random(seed)
    anchor = ANCHORS[seed % len(ANCHORS)]
    first_day, last_day = (anchor - timedelta(days=3)).date(), (anchor + timedelta(days=45)).date()
    mechanics = [_random_mechanic(rng, first_day, last_day) for _ in range(12)]
    ids = [m.pk for m in mechanics]
    now = anchor + timedelta(days=60)
    nonzero = 0
    for _ in range(6):
        start = anchor + timedelta(microseconds=rng.randint(0, 20 * 86_400_000_000))
        window = Interval(start, start + timedelta(minutes=rng.randint(30, 40 * 1440), seconds=7))
        expected = _engine_minutes(ids, window, now)
        got = service.offered_minutes(ids, window.start, window.end, now=now)
        assert got == expected, window
        nonzero += sum(1 for v in expected.values() if v)
    assert nonzero > 10  # the comparison saw real hours, not only zeros


@pytest.mark.django_db
def test_offered_minutes_of_a_plain_month_is_the_weekly_hours_times_the_weekdays():
    # Mon–Fri 09:00–17:00 in Toronto, 2031-04-01 00:00 to 2031-05-01 00:00 local (EDT all
    # month): 22 weekdays × 480 min, minus a 90-minute time off on Wednesday the 2nd and
    # with Friday the 4th overridden to 10:00–12:00 (120 instead of 480).
    mechanic = MechanicFactory()
    WeeklyBlock.objects.bulk_create(
        WeeklyBlock(mechanic=mechanic, day_of_week=d, start_minute=540, end_minute=1020)
        for d in range(1, 6)
    )
    DateOverride.objects.create(
        mechanic=mechanic, day=date(2031, 4, 4), start_minute=600, end_minute=720
    )
    TimeOff.objects.create(
        mechanic=mechanic,
        starts_at=datetime(2031, 4, 2, 14, 0, tzinfo=UTC),  # 10:00 EDT
        ends_at=datetime(2031, 4, 2, 15, 30, tzinfo=UTC),
        status=TimeOffStatus.APPROVED,
    )
    start, end = datetime(2031, 4, 1, 4, 0, tzinfo=UTC), datetime(2031, 5, 1, 4, 0, tzinfo=UTC)
    got = service.offered_minutes([mechanic.pk], start, end, now=end)
    assert got == {mechanic.pk: 22 * 480 - 90 - (480 - 120)}
