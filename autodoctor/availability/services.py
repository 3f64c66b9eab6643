"""Availability writes: weekly hours, time off, booking settings, workshop hours and bays,
date overrides.

Every function is keyword-only, runs in one durable transaction, checks who is asking
(``actor``) and validates all of its input before writing anything, so bad input never
leaves a half-written week. Reads live in ``selectors``; "when can this mechanic be
booked?" lives in ``service``.

Who may change what (plan §2.3, §5.3):

* a mechanic changes their own weekly hours, date overrides and settings, without
  anyone's approval -- except a workshop-affiliated mechanic, whose workshop manages
  their hours (they may still request time off and change their own settings);
* time off of virtual-only and independent mechanics is approved at once (they control
  their schedule); an affiliated mechanic's request waits for the workshop;
* workshop staff (owner or staff member) manage their own workshop's hours, bays and
  overrides, and decide their own mechanics' time-off requests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Literal
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from autodoctor.accounts.mechanic_types import MechanicType, mechanic_type
from autodoctor.accounts.models import MechanicProfile, User, Workshop
from autodoctor.errors import InvalidInput, InvalidTransition, NotAllowed, NotFound

from . import selectors
from .engine import MINUTES_PER_DAY, minute_label
from .models import (
    MAX_BUFFER_MINUTES,
    DateOverride,
    DayOfWeek,
    MechanicSettings,
    TimeOff,
    TimeOffStatus,
    WeeklyBlock,
    WorkshopHours,
)

MAX_BLOCKS = 100
MAX_TIME_OFF = timedelta(days=366)
# Bookings reach at most 365 days ahead (settings_advance_1_365); time off and special
# dates further out than two years are typing mistakes, not plans.
PLANNING_HORIZON = timedelta(days=730)
SETTINGS_LIMITS = {
    # field: (lowest, highest, unit) -- the model's check constraints say the same.
    "buffer_minutes": (0, MAX_BUFFER_MINUTES, "minutes"),
    "min_notice_minutes": (0, 365 * 24 * 60, "minutes"),
    "max_advance_days": (1, 365, "days"),
    "slot_step_minutes": (5, 240, "minutes"),
}
MAX_BAYS = 50


@dataclass(frozen=True, slots=True)
class BlockInput:
    """One weekly block as entered: day 0=Sunday … 6=Saturday, minutes after midnight."""

    day_of_week: int
    start_minute: int
    end_minute: int

    def label(self) -> str:
        return _span_label(self.day_of_week, self.start_minute, self.end_minute)


@dataclass(frozen=True, slots=True)
class DayHoursInput:
    """A workshop's hours for one day of the week. An open day needs both times
    (``_check_day_hours``); a closed day ignores them and stores the model's defaults
    (09:00–17:00)."""

    day_of_week: int
    is_open: bool
    open_minute: int | None = None
    close_minute: int | None = None
    break_start_minute: int | None = None
    break_end_minute: int | None = None


def _span_label(day_of_week: int, start: int, end: int) -> str:
    day = (
        DayOfWeek(day_of_week).label
        if 0 <= day_of_week <= 6
        else _("day %(number)s") % {"number": day_of_week}
    )
    return f"{day} {_minute_text(start)}–{_minute_text(end)}"


def _minute_text(minute: int) -> str:
    return minute_label(minute) if 0 <= minute <= MINUTES_PER_DAY else str(minute)


# ---------------------------------------------------------------- who is asking


def _is_admin(actor: User) -> bool:
    return actor.is_platform_admin


def _check_own_mechanic(actor: User, mechanic: MechanicProfile) -> None:
    if mechanic.user_id != actor.pk and not _is_admin(actor):
        raise NotAllowed(_("You can only change your own availability."))


def _check_manages_own_hours(mechanic: MechanicProfile) -> None:
    # plan §2.3: the workshop controls an affiliated mechanic's schedule.
    if mechanic_type(mechanic) is MechanicType.WORKSHOP_AFFILIATED:
        raise NotAllowed(
            _("Your workshop manages your hours; ask them to change them, or request time off.")
        )


def _check_staff(actor: User, workshop: Workshop) -> None:
    if not selectors.workshops_managed_by(actor).filter(pk=workshop.pk).exists():
        # Not found rather than forbidden: others' workshops cannot be probed.
        raise NotFound(_("No such workshop."))


# ---------------------------------------------------------------- validation helpers


def _check_minutes(start: int, end: int, *, field: str, what: str) -> None:
    if not 0 <= start < MINUTES_PER_DAY:
        raise InvalidInput(
            _("%(what)s: the start must be between 00:00 and 23:59.") % {"what": what}, field=field
        )
    if not 0 < end <= MINUTES_PER_DAY:
        raise InvalidInput(
            _("%(what)s: the end must be between 00:01 and 24:00.") % {"what": what}, field=field
        )
    if start >= end:
        raise InvalidInput(
            _("%(what)s is empty or backwards: the end must be after the start.") % {"what": what},
            field=field,
        )


def _check_no_overlap(spans: list[tuple[int, int, int, str, str]]) -> None:
    """spans: (day, start, end, label, field). Overlapping spans on one day are refused;
    touching ones (12:00 end, 12:00 start) are fine."""
    # Sorted by start, any overlap shows up between neighbours.
    for before, after in pairwise(sorted(spans)):
        if before[0] == after[0] and after[1] < before[2]:
            raise InvalidInput(
                _("%(block)s overlaps %(other)s.") % {"block": before[3], "other": after[3]},
                field=after[4],
            )


# ---------------------------------------------------------------- weekly hours


def weekly_blocks_replace(
    *, mechanic: MechanicProfile, blocks: Sequence[BlockInput], actor: User
) -> list[WeeklyBlock]:
    """Replace the mechanic's whole week at once (plan §5.3: no approval needed).

    Refuses, naming the block: a day outside 0–6, times outside 00:00–24:00, an empty or
    backwards block, overlapping blocks. A workshop-affiliated mechanic cannot edit
    weekly hours (their workshop's hours apply).
    """
    return _week_write(mechanic, actor, lambda current: list(blocks))


def weekly_block_add(
    *, mechanic: MechanicProfile, block: BlockInput, actor: User
) -> list[WeeklyBlock]:
    """Add one block to the week (same rules as weekly_blocks_replace)."""
    return _week_write(mechanic, actor, lambda current: [*_as_inputs(current), block])


def weekly_block_remove(
    *, mechanic: MechanicProfile, block_id: int, actor: User
) -> list[WeeklyBlock]:
    """Remove one block of the week (404 when it is not one of the mechanic's)."""

    def without(current: list[WeeklyBlock]) -> list[BlockInput]:
        if not any(b.pk == block_id for b in current):
            raise NotFound(_("No such block."))
        return _as_inputs(b for b in current if b.pk != block_id)

    return _week_write(mechanic, actor, without)


def _as_inputs(rows: Iterable[WeeklyBlock]) -> list[BlockInput]:
    return [BlockInput(b.day_of_week, b.start_minute, b.end_minute) for b in rows]


def _week_write(
    mechanic: MechanicProfile,
    actor: User,
    edit: Callable[[list[WeeklyBlock]], list[BlockInput]],
) -> list[WeeklyBlock]:
    """Read the week, `edit` it and write it back under the profile lock, so two
    changes of one week (two tabs adding a block) queue instead of one losing the other."""
    _check_own_mechanic(actor, mechanic)
    _check_manages_own_hours(mechanic)
    with transaction.atomic(durable=True):
        MechanicProfile.objects.select_for_update(of=("self",)).filter(pk=mechanic.pk).order_by(
            "pk"
        ).first()
        blocks = edit(list(WeeklyBlock.objects.filter(mechanic=mechanic)))
        _check_week(blocks)
        WeeklyBlock.objects.filter(mechanic=mechanic).delete()
        return WeeklyBlock.objects.bulk_create(
            WeeklyBlock(
                mechanic=mechanic,
                day_of_week=b.day_of_week,
                start_minute=b.start_minute,
                end_minute=b.end_minute,
            )
            for b in sorted(blocks, key=lambda b: (b.day_of_week, b.start_minute))
        )


def _check_week(blocks: Sequence[BlockInput]) -> None:
    if len(blocks) > MAX_BLOCKS:
        raise InvalidInput(
            _("At most %(max_blocks)s blocks a week.") % {"max_blocks": MAX_BLOCKS}, field="blocks"
        )
    spans = []
    for index, block in enumerate(blocks):
        field = f"blocks.{index}"
        if not 0 <= block.day_of_week <= 6:
            raise InvalidInput(
                _("Day of week must be 0 (Sunday) to 6 (Saturday)."), field=f"{field}.day_of_week"
            )
        _check_minutes(block.start_minute, block.end_minute, field=field, what=block.label())
        spans.append(
            (block.day_of_week, block.start_minute, block.end_minute, block.label(), field)
        )
    _check_no_overlap(spans)


# ---------------------------------------------------------------- time off


def time_off_create(
    *,
    mechanic: MechanicProfile,
    actor: User,
    starts_at: datetime,
    ends_at: datetime,
    reason: str = "",
    all_day: bool = False,
    now: datetime | None = None,
) -> TimeOff:
    """Record time off. Virtual-only and independent mechanics' time off is approved at
    once (plan §5.3: they control their schedule); a workshop-affiliated mechanic's
    request is pending until the workshop decides -- and already blocks new bookings
    meanwhile (see ``service.BLOCKING_TIME_OFF``)."""
    _check_own_mechanic(actor, mechanic)
    now = now or timezone.now()
    if timezone.is_naive(starts_at) or timezone.is_naive(ends_at):
        raise InvalidInput(_("Times need a time zone."), field="start")
    if ends_at <= starts_at:
        raise InvalidInput(_("The end of the time off must be after its start."), field="end")
    if ends_at <= now:
        raise InvalidInput(_("This time off would already be over."), field="end")
    if ends_at - starts_at > MAX_TIME_OFF:
        raise InvalidInput(_("Time off can last at most a year; split it up."), field="end")
    if starts_at > now + PLANNING_HORIZON:
        raise InvalidInput(_("Time off can start at most two years ahead."), field="start")
    reason = reason.strip()
    if len(reason) > 200:
        raise InvalidInput(_("The reason is longer than 200 characters."), field="reason")
    needs_workshop = mechanic_type(mechanic) is MechanicType.WORKSHOP_AFFILIATED
    with transaction.atomic(durable=True):
        return TimeOff.objects.create(
            mechanic=mechanic,
            starts_at=starts_at,
            ends_at=ends_at,
            all_day=all_day,
            reason=reason,
            status=TimeOffStatus.PENDING if needs_workshop else TimeOffStatus.APPROVED,
            decided_at=None if needs_workshop else now,
        )


def time_off_delete(*, actor: User, time_off_id: int) -> None:
    """Cancel one's own time off (pending, approved or declined): the hours return."""
    with transaction.atomic(durable=True):
        time_off = (
            TimeOff.objects.select_for_update().filter(pk=time_off_id, mechanic__user=actor).first()
        )
        if time_off is None:
            raise NotFound(_("No such time off."))
        time_off.delete()


# The only moves a time-off request can make (a workshop decides once).
TIME_OFF_TRANSITIONS: dict[str, set[str]] = {
    TimeOffStatus.PENDING: {TimeOffStatus.APPROVED, TimeOffStatus.DECLINED},
    TimeOffStatus.APPROVED: set(),
    TimeOffStatus.DECLINED: set(),
}


def _time_off_decide(
    *, actor: User, time_off_id: int, to: TimeOffStatus, now: datetime | None
) -> TimeOff:
    with transaction.atomic(durable=True):
        time_off = (
            TimeOff.objects.select_for_update(of=("self",))
            .select_related("mechanic__workshop")
            .filter(pk=time_off_id)
            .first()
        )
        workshop = time_off.mechanic.workshop if time_off else None
        if time_off is None or workshop is None:
            raise NotFound(_("No such time-off request."))
        _check_staff(actor, workshop)
        if to not in TIME_OFF_TRANSITIONS[time_off.status]:
            raise InvalidTransition(
                _("This request is already %(status)s; it cannot become %(to)s.")
                % {"status": time_off.status, "to": to}
            )
        time_off.status = to
        time_off.decided_by = actor
        time_off.decided_at = now or timezone.now()
        time_off.save(update_fields=["status", "decided_by", "decided_at"])
        return time_off


def time_off_approve(*, actor: User, time_off_id: int, now: datetime | None = None) -> TimeOff:
    """Workshop staff approve their mechanic's pending request."""
    return _time_off_decide(
        actor=actor, time_off_id=time_off_id, to=TimeOffStatus.APPROVED, now=now
    )


def time_off_decline(*, actor: User, time_off_id: int, now: datetime | None = None) -> TimeOff:
    """Workshop staff decline their mechanic's pending request: it stops blocking."""
    return _time_off_decide(
        actor=actor, time_off_id=time_off_id, to=TimeOffStatus.DECLINED, now=now
    )


# ---------------------------------------------------------------- settings


def mechanic_settings_update(
    *,
    mechanic: MechanicProfile,
    actor: User,
    buffer_minutes: int | None = None,
    min_notice_minutes: int | None = None,
    max_advance_days: int | None = None,
    slot_step_minutes: int | None = None,
    allow_instant_booking: bool | None = None,
) -> MechanicSettings:
    """Change the given booking rules (None = keep). Creates the row if missing."""
    _check_own_mechanic(actor, mechanic)
    changes = {
        "buffer_minutes": buffer_minutes,
        "min_notice_minutes": min_notice_minutes,
        "max_advance_days": max_advance_days,
        "slot_step_minutes": slot_step_minutes,
    }
    for field, value in changes.items():
        if value is None:
            continue
        low, high, unit = SETTINGS_LIMITS[field]
        if not low <= value <= high:
            raise InvalidInput(
                _("Must be between %(low)s and %(high)s %(unit)s.")
                % {"low": low, "high": high, "unit": unit},
                field=field,
            )
    with transaction.atomic(durable=True):
        row, _created = MechanicSettings.objects.select_for_update().get_or_create(
            mechanic=mechanic
        )
        for field, value in changes.items():
            if value is not None:
                setattr(row, field, value)
        if allow_instant_booking is not None:
            row.allow_instant_booking = allow_instant_booking
        row.save()
        return row


# ---------------------------------------------------------------- workshop hours


def _check_day_hours(index: int, day: DayHoursInput) -> None:
    field = f"days.{index}"
    if not 0 <= day.day_of_week <= 6:
        raise InvalidInput(
            _("Day of week must be 0 (Sunday) to 6 (Saturday)."), field=f"{field}.day_of_week"
        )
    if not day.is_open:
        return
    name = DayOfWeek(day.day_of_week).label
    if day.open_minute is None or day.close_minute is None:
        raise InvalidInput(
            _("%(name)s: give opening and closing times.") % {"name": name}, field=f"{field}.open"
        )
    _check_minutes(
        day.open_minute,
        day.close_minute,
        field=f"{field}.close",
        what=_("%(day)s opening hours") % {"day": name},
    )
    if (day.break_start_minute is None) != (day.break_end_minute is None):
        raise InvalidInput(
            _("%(name)s: give both ends of the break, or neither.") % {"name": name},
            field=f"{field}.break_end",
        )
    if day.break_start_minute is None:
        return
    if not day.open_minute < day.break_start_minute < day.break_end_minute < day.close_minute:
        raise InvalidInput(
            _(
                "%(name)s: the break %(break_start)s–%(break_end)s must lie inside the opening hours %(open)s–%(close)s."
            )
            % {
                "name": name,
                "break_start": _minute_text(day.break_start_minute),
                "break_end": _minute_text(day.break_end_minute),
                "open": _minute_text(day.open_minute),
                "close": _minute_text(day.close_minute),
            },
            field=f"{field}.break_start",
        )


def workshop_hours_replace(
    *,
    workshop: Workshop,
    days: Sequence[DayHoursInput],
    actor: User,
    bays: int | None = None,
) -> list[WorkshopHours]:
    """Replace the workshop's week (days not given are closed) and, if given, the number
    of bays (appointments at the same time). Staff of this workshop only."""
    _check_staff(actor, workshop)
    seen: set[int] = set()
    for index, day in enumerate(days):
        _check_day_hours(index, day)
        if day.day_of_week in seen:
            raise InvalidInput(
                _("%(label)s is listed twice.") % {"label": DayOfWeek(day.day_of_week).label},
                field=f"days.{index}.day_of_week",
            )
        seen.add(day.day_of_week)
    if bays is not None and not 1 <= bays <= MAX_BAYS:
        raise InvalidInput(
            _("Bays must be between 1 and %(max_bays)s.") % {"max_bays": MAX_BAYS}, field="bays"
        )
    with transaction.atomic(durable=True):
        Workshop.objects.select_for_update().filter(pk=workshop.pk).first()
        if bays is not None:
            Workshop.objects.filter(pk=workshop.pk).update(max_concurrent_appointments=bays)
            workshop.max_concurrent_appointments = bays
        WorkshopHours.objects.filter(workshop=workshop).delete()
        return WorkshopHours.objects.bulk_create(
            _hours_row(workshop, d) for d in sorted(days, key=lambda d: d.day_of_week)
        )


def _hours_row(workshop: Workshop, day: DayHoursInput) -> WorkshopHours:
    row = WorkshopHours(workshop=workshop, day_of_week=day.day_of_week, is_open=day.is_open)
    # A closed day ignores whatever times came with it (they are not checked) and keeps
    # the model's defaults.
    if day.is_open:
        row.open_minute = day.open_minute
        row.close_minute = day.close_minute
        row.break_start_minute = day.break_start_minute
        row.break_end_minute = day.break_end_minute
    return row


# ---------------------------------------------------------------- date overrides


def date_override_create(
    *,
    actor: User,
    day: date,
    mechanic: MechanicProfile | None = None,
    workshop: Workshop | None = None,
    start_minute: int | None = None,
    end_minute: int | None = None,
    note: str = "",
    today: date | None = None,
) -> DateOverride:
    """Special hours for one local date (start/end given) or a closed day (neither).

    The owner is a mechanic who manages their own hours, or a workshop the actor staffs.
    A date holds either one "closed" row or non-overlapping hour rows, never both.
    """
    if (mechanic is None) == (workshop is None):
        raise ValueError("give exactly one of mechanic and workshop")
    if mechanic is not None:
        _check_own_mechanic(actor, mechanic)
        _check_manages_own_hours(mechanic)
        owner = {"mechanic": mechanic}
        zone = mechanic.user.time_zone
    else:
        _check_staff(actor, workshop)
        owner = {"workshop": workshop}
        zone = workshop.time_zone
    # "Today" is the owner's local date: a Vancouver shop can still edit tonight's hours.
    local_today = today if today is not None else timezone.now().astimezone(ZoneInfo(zone)).date()
    if day < local_today:
        raise InvalidInput(_("That date has passed."), field="day")
    if day > local_today + PLANNING_HORIZON:
        raise InvalidInput(_("Special dates can be at most two years ahead."), field="day")
    if (start_minute is None) != (end_minute is None):
        raise InvalidInput(_("Give both start and end, or neither for a closed day."), field="end")
    note = note.strip()
    if len(note) > 200:
        raise InvalidInput(_("The note is longer than 200 characters."), field="note")
    label = f"{day.isoformat()} {_minute_text(start_minute or 0)}–{_minute_text(end_minute or 0)}"
    if start_minute is not None:
        _check_minutes(start_minute, end_minute, field="start", what=label)
    with transaction.atomic(durable=True):
        existing = list(DateOverride.objects.select_for_update().filter(day=day, **owner))
        if start_minute is None and existing:
            raise InvalidInput(
                _("%(day)s already has special hours; remove them first.")
                % {"day": day.isoformat()},
                field="day",
            )
        if any(row.is_closed for row in existing):
            raise InvalidInput(
                _("%(day)s is already marked closed; remove that first.")
                % {"day": day.isoformat()},
                field="day",
            )
        for row in existing:
            if start_minute < row.end_minute and row.start_minute < end_minute:
                other = f"{day.isoformat()} {minute_label(row.start_minute)}–{minute_label(row.end_minute)}"
                raise InvalidInput(
                    _("%(label)s overlaps %(other)s.") % {"label": label, "other": other},
                    field="start",
                )
        return DateOverride.objects.create(
            day=day, start_minute=start_minute, end_minute=end_minute, note=note, **owner
        )


def date_override_delete(
    *, actor: User, override_id: int, owner: Literal["mechanic", "workshop"]
) -> None:
    """Remove one override row: of the actor's own hours (``owner="mechanic"``) or of a
    workshop they staff (``owner="workshop"``)."""
    with transaction.atomic(durable=True):
        row = (
            DateOverride.objects.select_for_update(of=("self",))
            .select_related("mechanic", "workshop")
            .filter(pk=override_id, **{f"{owner}__isnull": False})
            .first()
        )
        if row is None:
            raise NotFound(_("No such date override."))
        if row.mechanic is not None:
            if row.mechanic.user_id != actor.pk and not _is_admin(actor):
                raise NotFound(_("No such date override."))
        else:
            _check_staff(actor, row.workshop)
        row.delete()
