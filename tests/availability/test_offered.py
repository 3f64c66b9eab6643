"""The materialized offered pieces (availability.offered) never change an answer.

Who-is-free and the earliest slot read the pieces for clean mechanics and the set-based
code for dirty ones; every write that changes hours must mark the mechanic dirty (database
triggers), so after any sequence of writes -- rebuilt or not -- both answers equal the
one-mechanic functions (brute force).
"""

import random
from datetime import UTC, datetime, timedelta

import pytest

from autodoctor.accounts.models import MechanicProfile, User
from autodoctor.availability import offered
from autodoctor.availability.models import (
    DateOverride,
    MechanicSettings,
    OfferedDirty,
    OfferedPiece,
    TimeOff,
    WeeklyBlock,
    WorkshopHours,
)
from autodoctor.availability.service import earliest_slot, is_available, mechanics_free_between
from tests.availability.test_many_mechanics import (
    DST_DAYS,
    ZONES,
    brute_force_earliest,
    build_population,
)
from tests.factories import MechanicFactory, WorkshopFactory, weekly_hours

pytestmark = [pytest.mark.django_db, pytest.mark.explicit_now]

AROUND = [datetime(2026, 6, 10, 14, tzinfo=UTC), DST_DAYS[3]]
RANGE = (datetime(2026, 6, 8, tzinfo=UTC), datetime(2026, 11, 6, tzinfo=UTC))


def _dirty() -> set[int]:
    return set(OfferedDirty.objects.values_list("mechanic_id", flat=True))


def _random_write(rng: random.Random, mechanics, busy) -> str:
    """One write of a random kind near the instants asked about; returns its kind."""
    mechanic = rng.choice(mechanics)
    at = rng.choice(AROUND)
    kind = rng.choice(
        ["block", "block_update", "block_delete", "override", "shop_override", "shop_hours",
         "time_off", "settings", "settings_delete", "settings_bulk", "busy", "zone",
         "shop_zone", "type", "approval", "active"]
    )  # fmt: skip
    local_day = at.date()
    if kind == "block":
        start = rng.choice([0, 60, 420, 600, 720, 1020])
        WeeklyBlock.objects.get_or_create(
            mechanic=mechanic,
            day_of_week=rng.randrange(7),
            start_minute=start,
            defaults={"end_minute": min(1440, start + rng.choice([30, 120, 420]))},
        )
    elif kind == "block_update":
        block = WeeklyBlock.objects.filter(mechanic=mechanic).order_by("pk").first()
        if block:
            WeeklyBlock.objects.filter(pk=block.pk).update(end_minute=1440)
    elif kind == "block_delete":
        block = WeeklyBlock.objects.filter(mechanic=mechanic).first()
        if block:
            block.delete()
    elif kind == "override":
        closed = rng.random() < 0.4
        start = rng.choice([0, 300, 600])
        DateOverride.objects.create(
            mechanic=mechanic,
            day=local_day + timedelta(days=rng.choice([-1, 0, 1])),
            start_minute=None if closed else start,
            end_minute=None if closed else start + rng.choice([60, 600]),
        )
    elif kind in ("shop_override", "shop_hours", "shop_zone"):
        shop = next((m.workshop for m in rng.sample(mechanics, len(mechanics)) if m.workshop), None)
        if shop is None:
            return kind
        if kind == "shop_override":
            DateOverride.objects.create(
                workshop=shop, day=local_day, start_minute=0, end_minute=1440
            )
        elif kind == "shop_hours":
            WorkshopHours.objects.filter(workshop=shop).update(open_minute=rng.choice([0, 300]))
        else:
            shop.time_zone = rng.choice(ZONES)
            shop.save()
    elif kind == "time_off":
        start = at + timedelta(minutes=rng.randrange(-300, 300, 15))
        TimeOff.objects.create(
            mechanic=mechanic,
            starts_at=start,
            ends_at=start + timedelta(hours=2),
            status="approved",
        )
    elif kind == "settings":  # created again when deleted before
        MechanicSettings.objects.update_or_create(
            mechanic=mechanic,
            defaults={
                "min_notice_minutes": rng.choice([0, 7, 60, 121]),
                "slot_step_minutes": rng.choice([5, 15, 25, 60]),
                "max_advance_days": rng.choice([1, 30]),
            },
        )
    elif kind == "settings_delete":  # back to the defaults (2 h notice, step 15, 30 days)
        MechanicSettings.objects.filter(mechanic=mechanic).delete()
    elif kind == "settings_bulk":  # a queryset update: no save(), still seen by the trigger
        MechanicSettings.objects.filter(mechanic__in=rng.sample(mechanics, 3)).update(
            min_notice_minutes=rng.choice([0, 45, 120]),
            slot_step_minutes=rng.choice([10, 15, 30]),
        )
    elif kind == "busy":
        start = at + timedelta(minutes=rng.randrange(-300, 300, 5))
        busy.add(mechanic, start, start + timedelta(minutes=rng.choice([15, 90])))
    elif kind == "zone":
        user = mechanic.user
        user.time_zone = rng.choice(ZONES)
        user.save()
    elif kind == "approval":  # approved <-> pending, by a queryset update
        status = MechanicProfile.objects.get(pk=mechanic.pk).approval_status
        MechanicProfile.objects.filter(pk=mechanic.pk).update(
            approval_status="pending" if status == "approved" else "approved"
        )
    elif kind == "active":
        user = User.objects.get(pk=mechanic.user_id)
        user.is_active = not user.is_active
        user.save()
    elif kind == "type" and mechanic.workshop_id:
        MechanicProfile.objects.filter(pk=mechanic.pk).update(
            account_type=rng.choice(["workshop_mechanic", "individual_mechanic"])
        )
    return kind


def _check(rng: random.Random, mechanics, context: str) -> None:
    # Who may be found at all: approved, account active (the searches' candidate set).
    fresh = list(MechanicProfile.objects.approved().filter(pk__in=[m.pk for m in mechanics]))
    for _ in range(6):
        at = rng.choice(AROUND)
        start = at + timedelta(minutes=rng.randrange(-600, 600, rng.choice([1, 5, 15])))
        end = start + timedelta(minutes=rng.choice([15, 60, 200]))
        now = start - timedelta(minutes=rng.choice([0, 30, 121]))
        expected = {m.pk for m in fresh if is_available(m, start, end, now=now)}
        assert mechanics_free_between(start, end, now=now) == expected, (context, start, end)
    for n in range(3):
        now = rng.choice(AROUND) + timedelta(minutes=rng.randrange(-300, 300))
        now += timedelta(seconds=rng.choice([0, 13]))
        after = now if n < 2 else now + timedelta(minutes=rng.randrange(0, 900))
        duration = timedelta(minutes=rng.choice([15, 60]))
        expected = brute_force_earliest(fresh, duration, after=after, now=now)
        found = earliest_slot(duration, after=None if after == now else after, now=now)
        assert found == expected, (context, now, after)


@pytest.mark.parametrize("seed", [1, 2])
def test_random_writes_never_change_an_answer(seed, busy):
    mechanics, rng = build_population(seed, size=12)
    offered.rebuild(*RANGE)
    assert _dirty() == set()
    _check(rng, mechanics, "rebuilt")
    for step in range(12):
        kinds = [_random_write(rng, mechanics, busy) for _ in range(3)]
        _check(rng, mechanics, f"step {step} after {kinds}")
        if rng.random() < 0.5:
            offered.refresh_dirty()
            assert _dirty() == set()
            _check(rng, mechanics, f"step {step} refreshed after {kinds}")


def test_the_pieces_are_what_clean_mechanics_are_read_from():
    # Proof that the fast path is taken: remove a clean mechanic's pieces by hand (no
    # trigger sees that) and it disappears from both answers; a rebuild brings it back.
    mechanic = MechanicFactory(settings__min_notice_minutes=0)
    weekly_hours(mechanic)  # 09:00-17:00 Toronto
    offered.rebuild(*RANGE)
    start = datetime(2026, 6, 10, 14, tzinfo=UTC)  # 10:00 in Toronto
    end = start + timedelta(hours=1)
    assert mechanics_free_between(start, end, now=start) == {mechanic.pk}
    assert earliest_slot(timedelta(minutes=30), now=start)[0] == mechanic.pk
    OfferedPiece.objects.filter(mechanic_id=mechanic.pk).delete()
    assert mechanics_free_between(start, end, now=start) == set()
    assert earliest_slot(timedelta(minutes=30), now=start) is None
    offered.rebuild(*RANGE)
    assert mechanics_free_between(start, end, now=start) == {mechanic.pk}


def test_the_earliest_slot_reads_the_rules_copied_into_the_pieces():
    # Proof that the indexed path reads notice and step from the pieces, not the live
    # settings: change them in the rows by hand (no trigger sees that) and the answer
    # follows; a rebuild puts the real rules back.
    mechanic = MechanicFactory(settings__min_notice_minutes=0)
    weekly_hours(mechanic)  # 09:00-17:00 Toronto
    offered.rebuild(*RANGE)
    now = datetime(2026, 6, 10, 14, 5, tzinfo=UTC)  # 10:05 in Toronto
    step = 15 * 60
    assert earliest_slot(timedelta(minutes=30), now=now)[1].start == now.replace(minute=15)
    notice = 3 * 3600
    OfferedPiece.objects.filter(mechanic_id=mechanic.pk).update(
        notice_s=notice, grid_class=offered.grid_class(notice, step, 0)
    )
    assert earliest_slot(timedelta(minutes=30), now=now)[1].start == now.replace(hour=17, minute=15)
    offered.rebuild(*RANGE)
    assert earliest_slot(timedelta(minutes=30), now=now)[1].start == now.replace(minute=15)


def test_outside_the_range_the_set_based_code_answers():
    mechanic = MechanicFactory(settings__min_notice_minutes=0)
    weekly_hours(mechanic)
    offered.rebuild(*RANGE)
    OfferedPiece.objects.all().delete()  # the pieces would say "nobody"
    start = RANGE[1] + timedelta(days=1, hours=14)  # past the range: 2026-11-07 (Saturday)
    start += timedelta(days=2)  # Monday 2026-11-09, 09:00 in Toronto
    assert mechanics_free_between(start, start + timedelta(hours=1), now=start) == {mechanic.pk}


def _one_of_each():
    virtual = MechanicFactory()
    affiliated = MechanicFactory(
        account_type="workshop_mechanic", workshop=WorkshopFactory(time_zone="UTC")
    )
    weekly_hours(virtual)
    offered.rebuild(*RANGE)
    return virtual, affiliated


@pytest.mark.parametrize(
    "write",
    [
        "block_insert", "block_update", "block_bulk_update", "block_delete", "block_bulk_delete",
        "override", "override_delete", "shop_override", "shop_hours", "shop_hours_update",
        "user_zone", "shop_zone", "account_type", "workshop", "new_mechanic",
        "settings_update", "settings_bulk_update", "settings_delete", "settings_insert",
        "approval", "deactivate", "delete_mechanic",
    ],
)  # fmt: skip
def test_every_write_to_hours_or_rules_marks_the_mechanic_dirty(write):
    virtual, affiliated = _one_of_each()
    shop = affiliated.workshop
    assert _dirty() == set()
    day = datetime(2026, 6, 10, tzinfo=UTC).date()
    expected = {virtual.pk}
    if write == "block_insert":
        WeeklyBlock.objects.create(mechanic=virtual, day_of_week=2, start_minute=0, end_minute=60)
    elif write == "block_update":
        block = WeeklyBlock.objects.filter(mechanic=virtual).first()
        block.end_minute = 1200
        block.save()
    elif write == "block_bulk_update":
        WeeklyBlock.objects.filter(mechanic=virtual).update(end_minute=1200)
    elif write == "block_delete":
        WeeklyBlock.objects.filter(mechanic=virtual).first().delete()
    elif write == "block_bulk_delete":
        WeeklyBlock.objects.filter(mechanic=virtual).delete()
    elif write == "override":
        DateOverride.objects.create(mechanic=virtual, day=day, start_minute=0, end_minute=60)
    elif write == "override_delete":
        DateOverride.objects.create(mechanic=virtual, day=day)
        offered.refresh_dirty()
        DateOverride.objects.filter(mechanic=virtual).delete()
    elif write == "shop_override":
        DateOverride.objects.create(workshop=shop, day=day, start_minute=0, end_minute=60)
        expected = {affiliated.pk}
    elif write == "shop_hours":
        WorkshopHours.objects.create(
            workshop=shop, day_of_week=1, is_open=True, open_minute=0, close_minute=60
        )
        expected = {affiliated.pk}
    elif write == "shop_hours_update":
        WorkshopHours.objects.create(
            workshop=shop, day_of_week=1, is_open=True, open_minute=0, close_minute=60
        )
        offered.refresh_dirty()
        WorkshopHours.objects.filter(workshop=shop).update(is_open=False)
        expected = {affiliated.pk}
    elif write == "user_zone":
        user = virtual.user
        user.time_zone = "Asia/Kolkata"
        user.save()
    elif write == "shop_zone":
        shop.time_zone = "Asia/Kolkata"
        shop.save()
        expected = {affiliated.pk}
    elif write == "account_type":
        affiliated.account_type = "individual_mechanic"
        affiliated.save()
        expected = {affiliated.pk}
    elif write == "workshop":
        virtual.workshop = shop
        virtual.account_type = "workshop_mechanic"
        virtual.save()
    elif write == "new_mechanic":
        expected = {MechanicFactory().pk}
    elif write == "settings_update":
        rules = MechanicSettings.objects.get(mechanic=virtual)
        rules.slot_step_minutes = 30
        rules.save()
    elif write == "settings_bulk_update":
        MechanicSettings.objects.filter(mechanic=virtual).update(max_advance_days=2)
    elif write == "settings_delete":
        MechanicSettings.objects.filter(mechanic=virtual).delete()
    elif write == "settings_insert":
        MechanicSettings.objects.filter(mechanic=virtual).delete()
        offered.refresh_dirty()
        MechanicSettings.objects.create(mechanic=virtual, min_notice_minutes=0)
    elif write == "approval":
        MechanicProfile.objects.filter(pk=virtual.pk).update(approval_status="pending")
    elif write == "deactivate":
        user = virtual.user
        user.is_active = False
        user.save()
    elif write == "delete_mechanic":
        virtual.user.delete()
    assert expected <= _dirty()
    offered.refresh_dirty()
    assert _dirty() == set()


def test_saves_that_change_no_hours_mark_nobody():
    virtual, affiliated = _one_of_each()
    for profile in (virtual, affiliated):
        profile.user.full_name = "Renamed"
        profile.user.save()
        profile.years_experience = 12
        profile.save()
    affiliated.workshop.name = "Renamed"
    affiliated.workshop.save()
    # Instant booking is no rule the pieces carry; saving unchanged rules changes none.
    MechanicSettings.objects.filter(mechanic=virtual).update(allow_instant_booking=False)
    MechanicSettings.objects.get(mechanic=affiliated).save()
    assert _dirty() == set()


def test_the_periodic_refresh_moves_the_range_and_clears_dirty_mechanics():
    mechanic = MechanicFactory(settings__min_notice_minutes=0)
    weekly_hours(mechanic)
    now = datetime(2026, 6, 10, 12, tzinfo=UTC)
    offered.refresh_due(now)
    assert _dirty() == set()
    span = (offered.seconds(now - timedelta(hours=1)),
            offered.seconds(now + timedelta(days=offered.OFFERED_DAYS)))  # fmt: skip
    from autodoctor.availability.models import OfferedRange

    assert OfferedRange.objects.values_list("start_s", "end_s").get() == span
    offered.refresh_due(now + timedelta(hours=12))  # 7.5 days still ahead: the range stays
    assert OfferedRange.objects.values_list("start_s", "end_s").get() == span
    later = now + timedelta(days=1, hours=1)  # under 7 days ahead: moved
    offered.refresh_due(later)
    assert OfferedRange.objects.get().start_s == offered.seconds(later - timedelta(hours=1))


def test_only_mechanics_who_may_be_found_have_pieces():
    found, pending, inactive = (MechanicFactory() for _ in range(3))
    for mechanic in (found, pending, inactive):
        weekly_hours(mechanic)
    MechanicProfile.objects.filter(pk=pending.pk).update(approval_status="pending")
    User.objects.filter(pk=inactive.user_id).update(is_active=False)
    offered.rebuild(*RANGE)
    with_pieces = set(OfferedPiece.objects.values_list("mechanic_id", flat=True))
    assert with_pieces == {found.pk}
    MechanicProfile.objects.filter(pk=pending.pk).update(approval_status="approved")
    assert _dirty() == {pending.pk}
    offered.refresh_dirty()
    assert set(OfferedPiece.objects.values_list("mechanic_id", flat=True)) == {found.pk, pending.pk}
