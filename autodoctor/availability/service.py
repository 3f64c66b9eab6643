"""The single source of truth for "when can this mechanic be booked?" (plan §6.1–6.2).

This module owns:

* where a mechanic's hours come from (plan §2.3, decided only by ``mechanic_type()``):
  virtual-only -> own weekly blocks (+ own date overrides); independent workshop owner ->
  own blocks ∩ workshop hours (each side with its own overrides); workshop-affiliated ->
  workshop hours only, breaks excluded;
* which time off blocks: approved and **pending** block, declined never (see
  ``BLOCKING_TIME_OFF``);
* busy intervals: one registry of sources (``BUSY_SOURCES``) that other apps extend with one
  line (``register_busy_source``); busy time is widened by the mechanic's buffer;
* the booking rules (buffer, minimum notice, maximum advance, slot step, instant booking)
  and their defaults for a mechanic without a settings row (``booking_rules``);
* the reads every caller uses: ``available_slots``, ``daily_slot_counts``, ``is_available``,
  ``free_intervals``, ``offered_minutes``, ``mechanics_free_between`` and ``earliest_slot``;
* workshop visit times (``visit_slots``, ``visit_daily_counts``, ``visit_bookable``): a
  workshop's opening hours, its visit rules (``VisitRules``) and its bays, whose load the
  workshops app provides through ``register_bay_load_source``.

Every function loads rows in a fixed number of queries (one per kind of row, plus one per
busy source) and hands them to the pure ``engine``; nothing here checks a slot with its own
query. ``mechanics_free_between`` and ``earliest_slot`` work on thousands of mechanics at
once: they ask the database set-based questions and use the engine only for the few cases
SQL cannot answer exactly (DST transitions) or to confirm the best candidates.

All datetimes in and out are timezone-aware; ``now`` is a parameter everywhere (defaults
to ``timezone.now()``) so tests and benchmarks control the clock.
"""

from __future__ import annotations

import dataclasses
import heapq
from collections import defaultdict
from collections.abc import Callable, Collection, Hashable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache, lru_cache
from itertools import chain
from typing import NamedTuple, Protocol

from django.db import connection
from django.db.models import F, IntegerField, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from autodoctor.accounts.mechanic_types import (
    MechanicType,
    mechanic_type,
    mechanic_type_expression,
)
from autodoctor.accounts.models import ApprovalStatus, MechanicProfile, User, Workshop
from autodoctor.dates import db_instant
from autodoctor.errors import NotFound

from . import engine, offered, wire
from .engine import Interval
from .models import (
    MAX_BUFFER_MINUTES,
    DateOverride,
    MechanicSettings,
    OfferedDirty,
    OfferedPiece,
    OfferedRange,
    TimeOff,
    TimeOffStatus,
    WeeklyBlock,
    WorkshopHours,
    WorkshopVisitSettings,
)

__all__ = [
    "BLOCKING_TIME_OFF",
    "BUSY_SOURCES",
    "DEFAULT_VISIT_MINUTES",
    "MAX_BUFFER",
    "BookingRules",
    "BusyPeriod",
    "BusySource",
    "MechanicRef",
    "SlotCheck",
    "VisitRules",
    "available_slots",
    "available_slots_by_mechanic",
    "booking_rules",
    "busy_periods",
    "busy_rows",
    "daily_slot_counts",
    "default_booking_rules",
    "earliest_slot",
    "free_intervals",
    "is_available",
    "local_instant",
    "mechanics_free_between",
    "mechanics_free_by_rules",
    "register_bay_load_source",
    "register_busy_source",
    "slot_offered",
    "unregister_busy_source",
    "visit_bookable",
    "visit_daily_counts",
    "visit_rules",
    "visit_slots",
]

MechanicRef = MechanicProfile | int
"""A mechanic profile or its primary key."""

# Decision (docs/availability.md "Pending time off"): a pending request already blocks new
# bookings. Only workshop-affiliated mechanics have pending requests (the others' time off
# is approved at once, plan §5.3); the mechanic has asked not to work then, and booking a
# customer into hours that are about to disappear would force a cancellation later.
# A declined request never blocks.
BLOCKING_TIME_OFF = (TimeOffStatus.APPROVED, TimeOffStatus.PENDING)

# The largest buffer a mechanic may set (the model's check constraint enforces it).
MAX_BUFFER = timedelta(minutes=MAX_BUFFER_MINUTES)

_MINUTE = timedelta(minutes=1)
_DAY = timedelta(days=1)
_WEEK_MINUTES = 7 * 1440
_MICROS_PER_MINUTE = 60_000_000
_MICROS_PER_DAY = 86_400_000_000
_MICROSECOND = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Real time between two wall-clock readings differs from their wall-clock distance by at
# most the DST shifts in between (1 h almost everywhere, 2 h in Antarctica/Troll).
_DST_SLACK = timedelta(hours=3)
# Local dates differ from UTC dates by at most one day (offsets are within ±14 h).
_MAX_OFFSET = timedelta(hours=14)
# Up to this many mechanics, busy sources get the ids; beyond it, None (= everyone).
_BUSY_ID_LIMIT = 200


def _now(now: datetime | None) -> datetime:
    return timezone.now() if now is None else now


def _micros(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _table(model: type) -> str:
    return connection.ops.quote_name(model._meta.db_table)


# ======================================================================================
# Booking rules
# ======================================================================================


@dataclass(frozen=True, slots=True)
class BookingRules:
    """A mechanic's booking rules (plan Phase 1 settings) as durations."""

    buffer: timedelta
    min_notice: timedelta
    max_advance: timedelta
    slot_step: timedelta
    # Off: the booking app holds each scheduled booking for the mechanic to accept
    # (booking.services.reservation_confirm). Slot listing and start-now matching ignore it.
    allow_instant_booking: bool

    @classmethod
    def from_minutes(
        cls, *, buffer: int, notice: int, advance_days: int, step: int, instant: bool
    ) -> BookingRules:
        return cls(
            buffer=timedelta(minutes=buffer),
            min_notice=timedelta(minutes=notice),
            max_advance=timedelta(days=advance_days),
            slot_step=timedelta(minutes=step),
            allow_instant_booking=instant,
        )

    @classmethod
    def of(cls, row: MechanicSettings | None) -> BookingRules:
        """The rules of a settings row; ``None`` (no row) gives the model's defaults."""
        row = row or MechanicSettings()
        return cls.from_minutes(
            buffer=row.buffer_minutes,
            notice=row.min_notice_minutes,
            advance_days=row.max_advance_days,
            step=row.slot_step_minutes,
            instant=row.allow_instant_booking,
        )


@cache
def default_booking_rules() -> BookingRules:
    """The rules of a mechanic without a MechanicSettings row: the model's field defaults
    (buffer 15 min, notice 120 min, advance 30 days, step 15 min, instant booking on)."""
    return BookingRules.of(None)


def booking_rules(mechanic: MechanicRef) -> BookingRules:
    """The booking rules of one mechanic (one query)."""
    row = MechanicSettings.objects.filter(mechanic=_mechanic_id(mechanic)).first()
    return default_booking_rules() if row is None else BookingRules.of(row)


def _mechanic_id(mechanic: MechanicRef) -> int:
    return mechanic if isinstance(mechanic, int) else mechanic.pk


# ======================================================================================
# Busy intervals: one registry, extended by other apps
# ======================================================================================


class BusyPeriod(NamedTuple):
    """A stretch of time a mechanic is already committed (a hold, a booked session).

    ``key`` identifies what makes it busy, e.g. ``("reservation", 42)``; callers pass keys
    in ``ignore_busy`` so that a reschedule does not collide with the booking being moved.
    """

    mechanic_id: int
    interval: Interval
    key: Hashable = None


class BusySource(Protocol):
    """Returns the busy periods of ``mechanic_ids`` (``None`` = every mechanic) that overlap
    ``window``, as ``BusyPeriod`` or plain ``(mechanic_id, Interval)`` tuples.

    Contract: one query per call whatever the number of mechanics; return only what is
    busy at ``now`` (e.g. a checkout hold whose ``expires_at <= now`` is not busy, even if
    no sweeper has run, ARCHITECTURE invariant 4). Extra rows (other mechanics, periods
    outside the window) are harmless: the caller filters.
    """

    def __call__(
        self, mechanic_ids: Collection[int] | None, window: Interval, *, now: datetime
    ) -> Iterable[BusyPeriod | tuple[int, Interval]]: ...


BUSY_SOURCES: list[BusySource] = []


def register_busy_source[S: BusySource](source: S) -> S:
    """Add a busy source (idempotent). Usable as a decorator; call it from an
    ``AppConfig.ready()``: ``register_busy_source(active_reservations)``."""
    if source not in BUSY_SOURCES:
        BUSY_SOURCES.append(source)
    return source


def unregister_busy_source(source: BusySource) -> None:
    """Remove a busy source (tests and benchmarks)."""
    if source in BUSY_SOURCES:
        BUSY_SOURCES.remove(source)


def busy_periods(
    mechanic_ids: Collection[int] | None,
    window: Interval,
    *,
    now: datetime,
    ignore_busy: Collection[Hashable] = (),
) -> dict[int, list[Interval]]:
    """Busy intervals per mechanic from every registered source, not yet widened.

    One query per source. Periods whose key is in ``ignore_busy`` are left out.
    """
    wanted = None if mechanic_ids is None else set(mechanic_ids)
    out: dict[int, list[Interval]] = defaultdict(list)
    for source in BUSY_SOURCES:
        for item in source(mechanic_ids, window, now=now):
            period = item if isinstance(item, BusyPeriod) else BusyPeriod(*item)
            if wanted is not None and period.mechanic_id not in wanted:
                continue
            if period.key is not None and period.key in ignore_busy:
                continue
            if period.interval.overlaps(window):
                out[period.mechanic_id].append(period.interval)
    return out


# ======================================================================================
# Loading one or many mechanics' inputs for the engine (fixed number of queries)
# ======================================================================================


class _TypeData(NamedTuple):
    workshop_id: int | None
    account_type: str
    partnership_type: str


@dataclass(frozen=True, slots=True)
class _Inputs:
    """Everything the engine needs about one mechanic for one context window."""

    mechanic_id: int
    kind: MechanicType
    active: bool
    zone: str  # the mechanic's own time zone (their local day), whoever sets the hours
    own: engine.LocalSchedule | None
    shop: engine.LocalSchedule | None
    rules: BookingRules
    time_off: tuple[Interval, ...]
    busy: tuple[Interval, ...]

    def pieces(self, window: Interval) -> tuple[Interval, ...]:
        """Source hours as UTC pieces around ``window`` (plan §2.3)."""
        if not self.active:
            return ()
        if self.kind is MechanicType.VIRTUAL_ONLY:
            return engine.expand(self.own, window) if self.own else ()
        if self.kind is MechanicType.WORKSHOP_AFFILIATED:
            # The workshop controls the schedule: its hours only, the break excluded.
            return engine.expand(self.shop, window) if self.shop else ()
        if not self.own or not self.shop:
            return ()
        # Independent owner: both must be open; each intersection anchors its own grid.
        return engine.intersect_pieces(engine.expand(self.own, window), self.shop_pieces(window))

    def shop_pieces(self, window: Interval) -> tuple[Interval, ...]:
        return engine.expand(self.shop, window) if self.shop else ()

    def slots(
        self, window: Interval, duration: timedelta, now: datetime | None
    ) -> tuple[Interval, ...]:
        """Bookable slots starting in ``window``. ``now=None``: without notice and
        advance, which only drop starts before now + notice or after now + advance (the
        grid is anchored at each piece's start, never at now): `available_slots_json`
        computes that once and cuts it for each now."""
        # The engine needs pieces up to window.end + duration (a slot may start late).
        pieces = self.pieces(Interval(window.start, window.end + duration))
        if not pieces:
            return ()
        rules = self.rules
        return engine.bookable_slots(
            pieces=pieces,
            window=window,
            duration=duration,
            step=rules.slot_step,
            busy=self.busy,
            buffer=rules.buffer,
            time_off=self.time_off,
            now=window.start if now is None else now,
            min_notice=rules.min_notice if now is not None else timedelta(0),
            max_advance=rules.max_advance if now is not None else None,
        )

    def bookable(self, slot: Interval, now: datetime) -> bool:
        pieces = self.pieces(slot)
        if not pieces:
            return False
        rules = self.rules
        return engine.is_bookable(
            slot,
            pieces=pieces,
            busy=self.busy,
            buffer=rules.buffer,
            time_off=self.time_off,
            now=now,
            min_notice=rules.min_notice,
            max_advance=rules.max_advance,
        )


def _workshop_blocks(
    dow: int, open_minute: int, close_minute: int, break_start: int | None, break_end: int | None
) -> list[engine.WeeklyBlock]:
    """Opening hours minus the break: one or two engine blocks (plan §2.3)."""
    if break_start is None or break_end is None:
        return [engine.WeeklyBlock(dow, open_minute, close_minute)]
    return [
        engine.WeeklyBlock(dow, open_minute, break_start),
        engine.WeeklyBlock(dow, break_end, close_minute),
    ]


def _day_overrides(rows: Iterable[tuple[date, int | None, int | None]]) -> list[engine.DayOverride]:
    """Date override rows -> one DayOverride per date.

    A date with rows replaces the weekly hours; its hours are the rows that have times,
    and a date with only a "closed" row (no times) is closed all day.
    """
    by_day: dict[date, list[tuple[int, int]]] = defaultdict(list)
    for day, start, end in rows:
        hours = by_day[day]
        if start is not None and end is not None:
            hours.append((start, end))
    return [engine.DayOverride(day, tuple(sorted(hours))) for day, hours in by_day.items()]


def _context(window: Interval, duration: timedelta) -> Interval:
    """The span whose rows can affect slots starting in ``window``.

    A slot starting near the end runs ``duration`` further; busy time counts ``buffer``
    (at most 4 h) beyond its ends; one day on each side covers both with room to spare.
    """
    return Interval(window.start - _DAY, window.end + duration + _DAY)


def _fetch(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _in(values: Collection) -> str:
    return ", ".join(["%s"] * len(values))


def _ids_in(column: str, ids: Collection[int]) -> tuple[str, list]:
    """`column IN ids` as (SQL, params). On PostgreSQL one array parameter (`= ANY`):
    psycopg's client-side binding parses the query text for every `%s`, which cost
    about 20 ms a query with 3,000 mechanic ids (the platform's offered minutes)."""
    if connection.vendor == "postgresql":
        # One array literal, not a list psycopg dumps element by element (~8 ms for
        # 3,000 ids, five times in the platform's offered minutes).
        return f"{column} = ANY(%s::bigint[])", ["{" + ",".join(str(int(i)) for i in ids) + "}"]
    return f"{column} IN ({_in(ids)})", list(ids)


def _as_date(value: date | str) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def busy_rows(sql: str, params: list, mechanic_ids: Collection[int] | None) -> list[tuple]:
    """Run a busy source's plain SQL and return its rows, the last two columns (start,
    end) as aware UTC datetimes.

    For busy sources (``BusySource``) on the hot path: ``sql`` ends with ``{ids}``, where
    ``AND mechanic_id IN (...)`` goes when ``mechanic_ids`` is given; datetimes in
    ``params`` are adapted for the database here. Building an ORM query costs more than
    running it on every slot list and hold, which is why the sources use this."""
    ops = connection.ops
    values = [ops.adapt_datetimefield_value(v) if isinstance(v, datetime) else v for v in params]
    clause = ""
    if mechanic_ids is not None:
        ids = list(mechanic_ids)
        if not ids:
            return []
        where, ids_params = _ids_in("mechanic_id", ids)
        clause = f" AND {where}"
        values += ids_params
    return [
        (*row[:-2], db_instant(row[-2]), db_instant(row[-1]))
        for row in _fetch(sql.format(ids=clause), values)
    ]


# Rows become engine values once per distinct value (they are immutable, so shared): the
# analytics dashboard loads tens of thousands of weekly blocks and thousands of settings
# rows, and validating each again was a third of its load's Python time.
@lru_cache(maxsize=65536)
def _weekly_block(day: int, start: int, end: int) -> engine.WeeklyBlock:
    return engine.WeeklyBlock(day, start, end)


@lru_cache(maxsize=4096)
def _booking_rules(buffer: int, notice: int, advance: int, step: int, instant: bool):
    return BookingRules.from_minutes(
        buffer=buffer, notice=notice, advance_days=advance, step=step, instant=instant
    )


def _load(
    mechanic_ids: Collection[int],
    context: Interval,
    *,
    now: datetime,
    ignore_busy: Collection[Hashable] = (),
    with_busy: bool = True,
    approved_only: bool = False,
) -> dict[int, _Inputs]:
    """Engine inputs for each mechanic, for rows touching ``context``.

    Queries: profiles (1), weekly blocks (1), workshop hours (1), date overrides (1),
    time off (1), plus one per busy source -- whatever the number of mechanics (none
    with ``with_busy=False``: callers that only read hours, e.g. offered minutes).
    ``approved_only``: leave out mechanics ``MechanicProfile.objects.approved()`` leaves
    out (the public API asks in the same query instead of fetching the profile first). Plain
    parameterised SQL: this runs on every slot listing and booking, and building ORM
    queries costs more than running them here.
    """
    ids = list(mechanic_ids)
    if not ids:
        return {}
    where, where_params = _ids_in("m.id", ids)
    rows = _fetch(
        "SELECT m.id, m.workshop_id, m.account_type, m.partnership_type, u.time_zone,"
        " u.is_active, w.time_zone, s.buffer_minutes, s.min_notice_minutes,"
        " s.max_advance_days, s.slot_step_minutes, s.allow_instant_booking"
        f" FROM {_table(MechanicProfile)} m JOIN {_table(User)} u ON u.id = m.user_id"
        f" LEFT JOIN {_table(Workshop)} w ON w.id = m.workshop_id"
        f" LEFT JOIN {_table(MechanicSettings)} s ON s.mechanic_id = m.id"
        f" WHERE {where}"
        + (" AND m.approval_status = %s AND u.is_active" if approved_only else ""),
        [*where_params, *([ApprovalStatus.APPROVED.value] if approved_only else [])],
    )
    if not rows:
        return {}
    kinds: dict[int, MechanicType] = {}
    own_ids: list[int] = []
    shop_ids: list[int] = []
    for mid, workshop_id, account_type, partnership, *_rest in rows:
        kind = mechanic_type(_TypeData(workshop_id, account_type, partnership))
        kinds[mid] = kind
        if kind is not MechanicType.WORKSHOP_AFFILIATED:
            own_ids.append(mid)
        if kind is not MechanicType.VIRTUAL_ONLY and workshop_id not in shop_ids:
            shop_ids.append(workshop_id)

    blocks: dict[int, list[engine.WeeklyBlock]] = defaultdict(list)
    if own_ids:
        where, where_params = _ids_in("mechanic_id", own_ids)
        for mid, dow, start, end in _fetch(
            "SELECT mechanic_id, day_of_week, start_minute, end_minute"
            f" FROM {_table(WeeklyBlock)} WHERE {where}",
            where_params,
        ):
            blocks[mid].append(_weekly_block(dow, start, end))
    hours: dict[int, list[engine.WeeklyBlock]] = defaultdict(list)
    if shop_ids:
        where, where_params = _ids_in("workshop_id", shop_ids)
        for wid, *row_hours in _fetch(
            "SELECT workshop_id, day_of_week, open_minute, close_minute, break_start_minute,"
            f" break_end_minute FROM {_table(WorkshopHours)} WHERE is_open AND {where}",
            where_params,
        ):
            hours[wid].extend(_workshop_blocks(*row_hours))

    own_overrides: dict[int, list] = defaultdict(list)
    shop_overrides: dict[int, list] = defaultdict(list)
    owners = []
    params: list = []
    for column, owner_ids in (("mechanic_id", own_ids), ("workshop_id", shop_ids)):
        if owner_ids:
            where, where_params = _ids_in(column, owner_ids)
            owners.append(where)
            params += where_params
    if owners:
        ops = connection.ops
        first_day = (context.start - _MAX_OFFSET).date() - _DAY
        last_day = (context.end + _MAX_OFFSET).date() + _DAY
        for mid, wid, day, start, end in _fetch(
            "SELECT mechanic_id, workshop_id, day, start_minute, end_minute"
            f" FROM {_table(DateOverride)} WHERE ({' OR '.join(owners)})"
            " AND day >= %s AND day <= %s",
            [*params, ops.adapt_datefield_value(first_day), ops.adapt_datefield_value(last_day)],
        ):
            target = own_overrides[mid] if mid is not None else shop_overrides[wid]
            target.append((_as_date(day), start, end))

    time_off: dict[int, list[Interval]] = defaultdict(list)
    where, where_params = _ids_in("mechanic_id", kinds)
    for mid, starts_at, ends_at in _fetch(
        f"SELECT mechanic_id, starts_at, ends_at FROM {_table(TimeOff)}"
        f" WHERE {where} AND status IN ({_in(BLOCKING_TIME_OFF)})"
        " AND starts_at < %s AND ends_at > %s",
        [
            *where_params,
            *[status.value for status in BLOCKING_TIME_OFF],
            connection.ops.adapt_datetimefield_value(context.end),
            connection.ops.adapt_datetimefield_value(context.start),
        ],
    ):
        time_off[mid].append(Interval(db_instant(starts_at), db_instant(ends_at)))

    busy = busy_periods(list(kinds), context, now=now, ignore_busy=ignore_busy) if with_busy else {}

    out: dict[int, _Inputs] = {}
    for row in rows:
        mid, workshop_id = row[0], row[1]
        own_zone, active, shop_zone = row[4], bool(row[5]), row[6]
        kind = kinds[mid]
        buffer, notice, advance, step, instant = row[7:]
        rules = (
            default_booking_rules()
            if buffer is None
            else _booking_rules(buffer, notice, advance, step, bool(instant))
        )
        own = shop = None
        if kind is not MechanicType.WORKSHOP_AFFILIATED:
            days = own_overrides.get(mid)
            own = engine.LocalSchedule(
                own_zone, tuple(blocks[mid]), tuple(_day_overrides(days)) if days else ()
            )
        if kind is not MechanicType.VIRTUAL_ONLY:
            days = shop_overrides.get(workshop_id)
            shop = engine.LocalSchedule(
                shop_zone, tuple(hours[workshop_id]), tuple(_day_overrides(days)) if days else ()
            )
        out[mid] = _Inputs(
            mechanic_id=mid,
            kind=kind,
            active=active,
            zone=own_zone,
            own=own,
            shop=shop,
            rules=rules,
            time_off=tuple(time_off[mid]),
            busy=tuple(busy.get(mid, ())),
        )
    return out


def _load_one(
    mechanic: MechanicRef,
    context: Interval,
    *,
    now: datetime,
    ignore_busy: Collection[Hashable] = (),
    approved_only: bool = False,
) -> _Inputs:
    mid = _mechanic_id(mechanic)
    inputs = _load(
        [mid], context, now=now, ignore_busy=ignore_busy, approved_only=approved_only
    ).get(mid)
    if inputs is None:
        raise NotFound(_("No such mechanic."))
    return inputs


def _load_slots_of(
    mechanic: MechanicRef,
    window: Interval,
    duration: timedelta,
    *,
    now: datetime,
    ignore_busy: Collection[Hashable] = (),
    approved_only: bool = False,
) -> _Inputs:
    """One mechanic's inputs for slots of ``duration`` starting in ``window``."""
    return _load_one(
        mechanic,
        _context(window, duration),
        now=now,
        ignore_busy=ignore_busy,
        approved_only=approved_only,
    )


# ======================================================================================
# One mechanic
# ======================================================================================


def local_instant(day: date, minute: int, zone: str) -> datetime:
    """The real (UTC) instant of wall time ``day`` + ``minute`` in ``zone``, by the engine's
    DST rules (``engine.wall_to_utc``): an ambiguous time is its first occurrence; a time
    that does not exist (clocks jumped over it) is the instant the clocks jumped, e.g.
    02:30 -> 03:00 EDT. ``minute`` may run past the day (1500 is 01:00 the next day)."""
    days, minute = divmod(minute, engine.MINUTES_PER_DAY)
    return engine.wall_to_utc(day + timedelta(days=days), minute, engine.zone_info(zone))


def available_slots(
    mechanic: MechanicRef,
    start: datetime,
    end: datetime,
    duration: timedelta,
    *,
    now: datetime | None = None,
    ignore_busy: Collection[Hashable] = (),
    approved_only: bool = False,
) -> list[Interval]:
    """Bookable slots of ``duration`` whose start lies in ``[start, end)``, sorted, in UTC.

    Slot starts are on each piece's grid (piece start + k × the mechanic's slot step), so
    a block 09:10–12:00 offers 09:10, 09:25, … Applies source hours by type (plan §2.3),
    date overrides, blocking time off, busy time widened by the buffer, minimum notice and
    maximum advance. ``ignore_busy``: busy keys to disregard (a reschedule passes the key
    of the booking being moved). Raises NotFound for an unknown mechanic, and with
    ``approved_only`` for one the public may not see (not approved, inactive account).
    """
    now = _now(now)
    window = Interval(start, end)
    inputs = _load_slots_of(
        mechanic, window, duration, now=now, ignore_busy=ignore_busy, approved_only=approved_only
    )
    return list(inputs.slots(window, duration, now))


def available_slots_json(
    mechanic_id: int,
    start: datetime,
    end: datetime,
    duration: timedelta,
    zone: str,
    *,
    now: datetime | None = None,
    approved_only: bool = False,
) -> str:
    """`available_slots` as the body of the API's ``SlotsOut``, each slot also shown in
    ``zone`` (``availability.wire``): what the slot list route returns.

    The rows are read on every call, as for `available_slots`. What is computed from them
    is remembered per process (`_slot_texts`): the slots as they would be with no busy
    time, no notice and no advance, and their JSON texts, keyed by the rows themselves
    (hours, overrides, time off and booking rules as loaded, the window, the length, the
    zone), not by anything a write would have to invalidate: a changed row is another key.
    Then, for this call, busy time and the two limits only take runs of the sorted starts
    away (`engine.bookable_runs`, found by bisection), which is exactly what computing
    with them gives. So bookings, holds and their expiry change nothing remembered: a mechanic read more
    often than their hours change is listed without the engine or the formatting, however
    busy they are."""
    now = _now(now)
    window = Interval(start, end)
    inputs = _load_one(
        mechanic_id, _context(window, duration), now=now, approved_only=approved_only
    )
    starts, items = _slot_texts(dataclasses.replace(inputs, busy=()), window, duration, zone)
    rules = inputs.rules
    runs = engine.bookable_runs(
        starts,
        duration=duration,
        busy=inputs.busy,
        buffer=rules.buffer,
        lowest=now + rules.min_notice,
        latest=now + rules.max_advance,
    )
    kept = chain.from_iterable(items[lo:hi] for lo, hi in runs)
    minutes = duration // timedelta(minutes=1)
    return wire.slots_body(inputs.mechanic_id, zone, minutes, kept)


# Entries hold a list's texts (about 200 bytes a slot: a 30-day list of 8-hour days on a
# 15-minute grid is ~200 kB, a 62-day list of 24-hour days ~1.2 MB), per web process.
SLOT_TEXTS_REMEMBERED = 32


@lru_cache(maxsize=SLOT_TEXTS_REMEMBERED)
def _slot_texts(
    inputs: _Inputs, window: Interval, duration: timedelta, zone: str
) -> tuple[tuple[datetime, ...], tuple[str, ...]]:
    """(starts, JSON texts) of every slot of ``inputs`` in ``window`` without notice and
    advance (`available_slots_json` passes inputs without busy time)."""
    slots = inputs.slots(window, duration, None)
    return tuple(slot.start for slot in slots), tuple(wire.slot_items(zone, slots))


class SlotCheck(NamedTuple):
    """What `slot_offered` found out about one start."""

    offered: bool  # one of the slots `available_slots` lists
    rules: BookingRules  # the mechanic's booking rules, as loaded
    zone: str  # the mechanic's own time zone


def slot_offered(
    mechanic: MechanicRef,
    start: datetime,
    duration: timedelta,
    *,
    now: datetime | None = None,
    ignore_busy: Collection[Hashable] = (),
    approved_only: bool = False,
) -> SlotCheck:
    """Whether ``start`` is one of the slots ``available_slots`` lists for the mechanic
    (same rules, grid included), with the mechanic's booking rules and time zone -- from
    one load of the rows around that one interval, so a hold checks its slot without
    listing a range, nor fetching the profile first. Raises NotFound for an unknown
    mechanic, and with ``approved_only`` for one the public may not book."""
    now = _now(now)
    window = Interval(start, start + timedelta(microseconds=1))
    inputs = _load_slots_of(
        mechanic, window, duration, now=now, ignore_busy=ignore_busy, approved_only=approved_only
    )
    return SlotCheck(bool(inputs.slots(window, duration, now)), inputs.rules, inputs.zone)


def available_slots_by_mechanic(
    mechanic_ids: Collection[int],
    start: datetime,
    end: datetime,
    duration: timedelta,
    *,
    now: datetime | None = None,
    ignore_busy: Collection[Hashable] = (),
) -> dict[int, list[Interval]]:
    """`available_slots` for several mechanics in one load (a fixed number of queries
    whatever their number); unknown ids are left out."""
    now = _now(now)
    window = Interval(start, end)
    loaded = _load(list(mechanic_ids), _context(window, duration), now=now, ignore_busy=ignore_busy)
    return {mid: list(inputs.slots(window, duration, now)) for mid, inputs in loaded.items()}


def daily_slot_counts(
    mechanic: MechanicRef,
    start: datetime,
    end: datetime,
    duration: timedelta,
    zone: str,
    *,
    now: datetime | None = None,
) -> dict[date, int]:
    """Number of bookable slots per local date of ``zone`` (for a month calendar)."""
    return engine.daily_counts(available_slots(mechanic, start, end, duration, now=now), zone)


def is_available(
    mechanic: MechanicRef,
    start: datetime,
    end: datetime,
    *,
    now: datetime | None = None,
    ignore_busy: Collection[Hashable] = (),
) -> bool:
    """Whether ``[start, end)`` can be booked with this mechanic right now.

    The same rules as ``available_slots`` except grid alignment (an exact start from an
    API client is accepted if it lies in free time). For booking-time validation; the
    database constraint remains the guarantee against double booking.
    ``ignore_busy``: busy keys to disregard, e.g. ``{("reservation", 42)}`` when moving
    reservation 42 (the generic form of "ignore the booking being rescheduled").
    """
    now = _now(now)
    slot = Interval(start, end)
    inputs = _load_one(mechanic, _context(slot, slot.duration), now=now, ignore_busy=ignore_busy)
    return inputs.bookable(slot, now)


def free_intervals(
    mechanic: MechanicRef, start: datetime, end: datetime, *, now: datetime | None = None
) -> tuple[Interval, ...]:
    """Free time in ``[start, end)``: source hours minus time off and buffered busy time.

    No notice or advance rule is applied: this is what a mechanic's own calendar shows.
    """
    now = _now(now)
    window = Interval(start, end)
    inputs = _load_one(mechanic, _context(window, timedelta(0)), now=now)
    buffer = inputs.rules.buffer
    blocked = [*inputs.time_off, *(busy.widened(buffer) for busy in inputs.busy)]
    free = engine.difference(inputs.pieces(window), blocked)
    return engine.intersection(free, [window])


def offered_minutes(
    mechanic_ids: Collection[int], start: datetime, end: datetime, *, now: datetime | None = None
) -> dict[int, int]:
    """Minutes each mechanic offered in ``[start, end)``: source hours by type (plan §2.3)
    with date overrides, minus blocking time off. Booked time counts as offered (it is
    the denominator of utilization, analytics.metrics); no buffer, notice or advance
    rule applies. One load for all mechanics (a fixed number of queries); unknown ids
    are left out, a mechanic with no hours offers 0.

    Fast for thousands of mechanics (the analytics dashboard, 5,000 × 30 days) without a
    second definition of "offered": the window is cut at the local midnights of the
    mechanic's zone, and local days never overlap in real time, so the offered measure
    adds up day by day. On a *plain* local day (24 h long, one UTC offset all through)
    wall minute m is the day's start + m minutes, so the day is integer arithmetic: a
    whole plain day without override or time off is that weekday's merged blocks (for
    an independent owner: own ∩ workshop, same zone), counted once per weekday; a plain
    day cut by the window, overridden or touched by time off is clipped in microseconds.
    Days with a DST change, and every day of an owner whose workshop keeps another zone,
    go through the engine itself (``_offered_exact``); tests compare the two."""
    now = _now(now)
    window = Interval(start, end)
    # Booked time is not subtracted, so the busy sources (a year of reservations for the
    # analytics pages) are not loaded at all.
    loaded = _load(list(mechanic_ids), _context(window, timedelta(0)), now=now, with_busy=False)
    plans: dict[str, _WindowDays] = {}
    cuts: dict[tuple, int] = {}
    return {
        mid: _offered_micros(inputs, window, plans, cuts) // _MICROS_PER_MINUTE
        for mid, inputs in loaded.items()
    }


def _offered_exact(inputs: _Inputs, window: Interval) -> int:
    """Offered microseconds of one mechanic in ``window`` by the engine: source pieces
    clipped to the window, minus time off (the definition ``offered_minutes`` sums)."""
    offered = engine.intersection(
        engine.difference(inputs.pieces(window), inputs.time_off), [window]
    )
    return sum((piece.duration for piece in offered), timedelta(0)) // _MICROSECOND


def _epoch_micros(value: datetime) -> int:
    return (value - _EPOCH) // _MICROSECOND


class _PlainDay(NamedTuple):
    """A plain local day touching the window: its real start and the part of it inside
    the window, all in microseconds since the epoch."""

    day: date
    dow: int
    first: int
    lo: int
    hi: int


class _WindowDays(NamedTuple):
    """A window cut at one zone's local midnights."""

    whole: dict[date, _PlainDay]  # plain days wholly inside the window
    weekdays: tuple[int, ...]  # how many of them fall on each weekday (0 = Sunday)
    cut: tuple[_PlainDay, ...]  # plain days the window cuts
    rest: tuple[Interval, ...]  # the parts of days with a DST change inside the window


@lru_cache(maxsize=8192)
def _local_day(zone: str, day: date) -> tuple[datetime, datetime, bool]:
    """Real start and end of local date ``day`` in ``zone`` (engine.wall_to_utc of 00:00
    and 24:00) and whether it is plain: 24 h long with one UTC offset all through, checked
    every hour (tzdata has no pair of transitions less than an hour apart), so that wall
    minute m of the day is exactly start + m minutes. tzdata does not change while the
    process runs, hence the cache."""
    tz = engine.zone_info(zone)
    first = engine.wall_to_utc(day, 0, tz)
    last = engine.wall_to_utc(day, engine.MINUTES_PER_DAY, tz)
    plain = (
        last - first == _DAY
        and len({(first + timedelta(hours=h)).astimezone(tz).utcoffset() for h in range(25)}) == 1
    )
    return first, last, plain


def _window_days(zone: str, window: Interval) -> _WindowDays:
    tz = engine.zone_info(zone)
    day = window.start.astimezone(tz).date()
    last_day = window.end.astimezone(tz).date()
    start_us, end_us = _epoch_micros(window.start), _epoch_micros(window.end)
    whole: dict[date, _PlainDay] = {}
    cut: list[_PlainDay] = []
    rest: list[Interval] = []
    weekdays = [0] * 7
    while day <= last_day:
        first, last, is_plain = _local_day(zone, day)
        lo, hi = max(first, window.start), min(last, window.end)
        if lo < hi:
            if is_plain:
                first_us = _epoch_micros(first)
                piece = _PlainDay(
                    day,
                    engine.day_of_week(day),
                    first_us,
                    max(first_us, start_us),
                    min(first_us + _MICROS_PER_DAY, end_us),
                )
                if window.start <= first and last <= window.end:
                    whole[day] = piece
                    weekdays[piece.dow] += 1
                else:
                    cut.append(piece)
            else:
                rest.append(Interval(lo, hi))
        day += _DAY
    return _WindowDays(whole, tuple(weekdays), tuple(cut), tuple(rest))


def _weekly_spans(schedule: engine.LocalSchedule) -> tuple[tuple[tuple[int, int], ...], ...]:
    """Each weekday's blocks (0 = Sunday) as merged minute spans (read only: shared by
    every schedule with the same blocks)."""
    return _weekly_spans_of(schedule.blocks)


@lru_cache(maxsize=16384)
def _weekly_spans_of(
    blocks: tuple[engine.WeeklyBlock, ...],
) -> tuple[tuple[tuple[int, int], ...], ...]:
    by_dow: list[list[tuple[int, int]]] = [[] for _ in range(7)]
    for block in blocks:
        by_dow[block.day_of_week].append((block.start_minute, block.end_minute))
    return tuple(tuple(_merged_minutes(sorted(spans))) for spans in by_dow)


def _merged_minutes(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted spans with the overlapping and touching ones joined."""
    out: list[tuple[int, int]] = []
    for lo, hi in spans:
        if out and lo <= out[-1][1]:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def _intersect_spans(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The common part of two merged span lists (merged)."""
    out = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo < hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def _plain_day_micros(
    day: _PlainDay,
    weekly: list[list[list[tuple[int, int]]]],
    overrides: list[dict[date, tuple[tuple[int, int], ...]]],
    time_off: list[tuple[int, int]],
) -> int:
    """Offered microseconds of a plain day inside the window: each schedule's hours of
    the day (its override, else its weekly blocks) merged, intersected across schedules,
    placed at the day's start, clipped to the window, minus time off."""
    covered: list[tuple[int, int]] | None = None
    for spans, override in zip(weekly, overrides, strict=True):
        hours = override.get(day.day)
        spans = spans[day.dow] if hours is None else _merged_minutes(sorted(hours))
        covered = spans if covered is None else _intersect_spans(covered, spans)
    first, lo, hi = day.first, day.lo, day.hi
    pieces = [
        (max(lo, first + a * _MICROS_PER_MINUTE), min(hi, first + b * _MICROS_PER_MINUTE))
        for a, b in covered or ()
    ]
    pieces = [(a, b) for a, b in pieces if a < b]
    for off_lo, off_hi in time_off:
        if off_lo < hi and lo < off_hi:
            kept = []
            for a, b in pieces:
                if a < off_lo:
                    kept.append((a, min(b, off_lo)))
                if b > off_hi:
                    kept.append((max(a, off_hi), b))
            pieces = kept
    return sum(b - a for a, b in pieces)


@lru_cache(maxsize=16384)
def _weekday_minutes(
    weekly: tuple[tuple[tuple[tuple[int, int], ...], ...], ...],
) -> tuple[int, ...]:
    """Minutes offered on each weekday (0 = Sunday) where every schedule of ``weekly``
    (`_weekly_spans`) is open. Schedules alike share their spans, hence the cache."""
    out = []
    for dow in range(7):
        covered = weekly[0][dow]
        for spans in weekly[1:]:
            covered = _intersect_spans(covered, spans[dow])
        out.append(sum(b - a for a, b in covered))
    return tuple(out)


def _offered_micros(
    inputs: _Inputs, window: Interval, plans: dict[str, _WindowDays], cuts: dict[tuple, int]
) -> int:
    """``_offered_exact`` of the whole window, summed day by day (see offered_minutes);
    ``plans`` keeps the window's days per zone for the call, ``cuts`` the offered part
    of a day the window cuts per (day, weekly spans), for days without override or time
    off."""
    if not inputs.active:
        return 0
    if inputs.kind is MechanicType.VIRTUAL_ONLY:
        schedules = (inputs.own,)
    elif inputs.kind is MechanicType.WORKSHOP_AFFILIATED:
        schedules = (inputs.shop,)
    else:
        schedules = (inputs.own, inputs.shop)
    if any(s is None for s in schedules):
        return 0
    zones = {s.zone for s in schedules}  # type: ignore[union-attr]
    if len(zones) != 1:
        return _offered_exact(inputs, window)
    zone = zones.pop()
    days = plans.get(zone)
    if days is None:
        days = plans[zone] = _window_days(zone, window)
    weekly = [_weekly_spans(s) for s in schedules]  # type: ignore[arg-type]
    overrides = [{o.day: o.hours for o in s.overrides} for s in schedules]  # type: ignore[union-attr]
    time_off = [(_epoch_micros(off.start), _epoch_micros(off.end)) for off in inputs.time_off]
    whole = days.whole
    special = {day for override in overrides for day in override if day in whole}
    for off_lo, off_hi in time_off:
        special.update(d for d, p in whole.items() if p.first < off_hi and off_lo < p.hi)
    per_weekday = _weekday_minutes(tuple(weekly))
    minutes = sum(n * m for n, m in zip(days.weekdays, per_weekday, strict=True)) - sum(
        per_weekday[whole[d].dow] for d in special
    )
    micros = sum(_plain_day_micros(whole[d], weekly, overrides, time_off) for d in special)
    for day in days.cut:
        if any(day.day in o for o in overrides) or any(
            lo < day.hi and day.lo < hi for lo, hi in time_off
        ):
            micros += _plain_day_micros(day, weekly, overrides, time_off)
        else:  # the weekly hours alone: the same for every schedule alike
            key = (day, *weekly)
            if (cut := cuts.get(key)) is None:
                cut = cuts[key] = _plain_day_micros(day, weekly, overrides, time_off)
            micros += cut
    exact = sum(_offered_exact(inputs, stretch) for stretch in days.rest)
    return minutes * _MICROS_PER_MINUTE + micros + exact


# ======================================================================================
# Many mechanics: set-based
# ======================================================================================


def _candidate_ids(candidates: Iterable[int] | QuerySet | None) -> Iterable[int] | QuerySet | None:
    if candidates is None or isinstance(candidates, QuerySet):
        return candidates
    return list(candidates)


def _mechanic_rows(candidates: Iterable[int] | QuerySet | None) -> QuerySet:
    """Active mechanics (optionally only ``candidates``) annotated with type, zones and rules.

    ``kind`` comes from ``mechanic_type_expression()``, the SQL twin of ``mechanic_type``.
    """
    d = default_booking_rules()
    qs = MechanicProfile.objects.approved().order_by()
    if candidates is not None:
        qs = qs.filter(pk__in=candidates)

    def setting(field: str, default: int) -> Coalesce:
        return Coalesce(f"settings__{field}", Value(default), output_field=IntegerField())

    return qs.annotate(
        kind=mechanic_type_expression(),
        own_zone=F("user__time_zone"),
        shop_zone=F("workshop__time_zone"),
        buffer=setting("buffer_minutes", d.buffer // _MINUTE),
        notice=setting("min_notice_minutes", d.min_notice // _MINUTE),
        advance=setting("max_advance_days", d.max_advance.days),
        step=setting("slot_step_minutes", d.slot_step // _MINUTE),
    )


def _zones_in_use() -> set[str]:
    """Every zone a mechanic's hours or a workshop's hours may be written in (one query).

    Users' zones by a loose index scan (each step the next zone after the last one, on
    the ``user_time_zone`` index): a few dozen index probes instead of reading 20,000
    users on every who-is-free or earliest-slot search. Workshops are few."""
    users, shops = _table(User), _table(Workshop)
    rows = _fetch(
        "WITH RECURSIVE z(zone) AS ("
        f" SELECT MIN(time_zone) FROM {users}"
        f" UNION ALL SELECT (SELECT MIN(u.time_zone) FROM {users} u WHERE u.time_zone > z.zone)"
        " FROM z WHERE z.zone IS NOT NULL)"
        f" SELECT zone FROM z WHERE zone IS NOT NULL UNION SELECT time_zone FROM {shops}",
        [],
    )
    return {zone for (zone,) in rows}


class _Segment(NamedTuple):
    """Part of a window on one local date: minutes [lo, hi) after local midnight."""

    day: date
    dow: int
    lo: int
    hi: int


def _local_segments(zone: str, window: Interval) -> tuple[_Segment, ...] | None:
    """The window as wall-clock minutes on at most two local dates of ``zone``.

    ``None`` when SQL on wall-clock minutes could disagree with the engine: a DST
    transition inside the window, an end in the repeated hour of a fall-back (wall time
    maps to its first occurrence, plan/ARCHITECTURE invariant 3), or a window over two
    local dates. Inside a stretch with one UTC offset, wall-clock minutes and real time
    move together, so "the day's blocks cover [lo, hi)" is exactly "the engine's pieces
    cover the window". Minutes are widened to whole minutes (floor/ceil): block bounds
    are whole minutes, so coverage does not change.
    """
    tz = engine.zone_info(zone)
    local_start = window.start.astimezone(tz)
    local_end = window.end.astimezone(tz)
    if local_start.fold or local_end.fold or local_start.utcoffset() != local_end.utcoffset():
        return None
    day = local_start.date()
    lo = local_start.hour * 60 + local_start.minute
    hi = local_end.hour * 60 + local_end.minute
    if local_end.second or local_end.microsecond:
        hi += 1
    first = _Segment(day, engine.day_of_week(day), lo, hi)
    if local_end.date() == day:
        return (first,)
    if local_end.date() != day + _DAY:
        return None
    if hi == 0:  # ends exactly at local midnight
        return (first._replace(hi=1440),)
    next_day = day + _DAY
    return (first._replace(hi=1440), _Segment(next_day, engine.day_of_week(next_day), 0, hi))


class _Source(NamedTuple):
    """SQL for "the rows of one interval set" with their start and end columns."""

    rows: str  # "<table> <alias> WHERE <correlation>"
    start: str
    end: str


def _covered_sql(source: Callable[[str], _Source], lo: str, hi: str) -> str:
    """SQL true when the union of the source's intervals covers minutes [lo, hi).

    Exact for touching blocks (09:00–12:00 + 12:00–17:00 cover 11:45–12:15): covered iff
    some interval contains ``lo`` and no interval *end* inside (lo, hi) is left uncovered
    -- every uncovered stretch inside the window starts at such an end. The usual case,
    one interval covering everything, costs one index seek.
    """
    x, g, y = source("x"), source("g"), source("y")
    return (
        f"EXISTS (SELECT 1 FROM {x.rows} AND {x.start} <= {lo} AND {lo} < {x.end}"
        f" AND ({x.end} >= {hi} OR NOT EXISTS (SELECT 1 FROM {g.rows}"
        f" AND {lo} < {g.end} AND {g.end} < {hi}"
        f" AND NOT EXISTS (SELECT 1 FROM {y.rows} AND {y.start} <= {g.end}"
        f" AND {g.end} < {y.end}))))"
    )


def _override_or(owner: str, ref: str, day: str, lo: str, hi: str, weekly: str) -> str:
    """A date override of the owner (``<owner> = <ref>``) decides [lo, hi) on that date
    when there is one (a closed override has no rows that cover); else ``weekly``."""
    overrides = _table(DateOverride)

    def override_rows(a: str) -> _Source:
        return _Source(
            f"{overrides} {a} WHERE {a}.{owner} = {ref} AND {a}.day = {day}"
            f" AND {a}.start_minute IS NOT NULL",
            f"{a}.start_minute",
            f"{a}.end_minute",
        )

    return (
        f"(CASE WHEN EXISTS (SELECT 1 FROM {overrides} o WHERE o.{owner} = {ref}"
        f" AND o.day = {day}) THEN {_covered_sql(override_rows, lo, hi)} ELSE {weekly} END)"
    )


def _own_day_sql(day: str, dow: str, lo: str, hi: str) -> str:
    """The mechanic's own hours cover [lo, hi) on one local date (override first)."""
    blocks = _table(WeeklyBlock)

    def weekly_rows(a: str) -> _Source:
        return _Source(
            f"{blocks} {a} WHERE {a}.mechanic_id = b.id AND {a}.day_of_week = {dow}",
            f"{a}.start_minute",
            f"{a}.end_minute",
        )

    return _override_or("mechanic_id", "b.id", day, lo, hi, _covered_sql(weekly_rows, lo, hi))


def _shop_day_sql(day: str, dow: str, lo: str, hi: str) -> str:
    """The workshop's hours (breaks excluded) cover [lo, hi) on one local date."""
    hours = _table(WorkshopHours)
    # Opening and break give two pieces that never touch: one of them must cover.
    weekly = (
        f"EXISTS (SELECT 1 FROM {hours} h WHERE h.workshop_id = b.shop_id"
        f" AND h.day_of_week = {dow} AND h.is_open AND ("
        f"(h.break_start_minute IS NULL AND h.open_minute <= {lo} AND h.close_minute >= {hi})"
        f" OR (h.break_start_minute IS NOT NULL AND ("
        f"(h.open_minute <= {lo} AND h.break_start_minute >= {hi})"
        f" OR (h.break_end_minute <= {lo} AND h.close_minute >= {hi})))))"
    )
    return _override_or("workshop_id", "b.shop_id", day, lo, hi, weekly)


def _source_covers_sql(day_sql: Callable[[str, str, str, str], str], z: str) -> str:
    """Both segments of the zone row ``z`` are covered (the second one may be absent)."""
    first = day_sql(f"{z}.d1", f"{z}.dow1", f"{z}.lo1", f"{z}.hi1")
    second = day_sql(f"{z}.d2", f"{z}.dow2", "0", f"{z}.hi2")
    return f"({z}.zone IS NOT NULL AND {first} AND ({z}.d2 IS NULL OR {second}))"


def _placeholder(sql_type: str) -> str:
    # PostgreSQL cannot infer the type of a VALUES column that is NULL in every row.
    return f"CAST(%s AS {sql_type})" if connection.vendor == "postgresql" else "%s"


def _values_rows(columns: list[tuple[str, str]], rows: list[tuple]) -> tuple[str, list]:
    """``VALUES (…), …`` with parameters; one all-NULL row when empty."""
    if not rows:
        rows = [(None,) * len(columns)]
    row_sql = "(" + ", ".join(_placeholder(sql_type) for _, sql_type in columns) + ")"
    return "VALUES " + ", ".join([row_sql] * len(rows)), [v for row in rows for v in row]


def _values_cte(name: str, columns: list[tuple[str, str]], rows: list[tuple]) -> tuple[str, list]:
    """``name(col, …) AS (VALUES …)`` with parameters."""
    values, params = _values_rows(columns, rows)
    return f"{name}({', '.join(c for c, _ in columns)}) AS ({values})", params


_SEGMENT_COLUMNS = [
    ("zone", "varchar(64)"),
    ("d1", "date"),
    ("dow1", "integer"),
    ("lo1", "integer"),
    ("hi1", "integer"),
    ("d2", "date"),
    ("dow2", "integer"),
    ("hi2", "integer"),
]


def _free_by_sql(
    base: QuerySet, segments: dict[str, tuple[_Segment, ...]], window: Interval
) -> list[tuple[int, int]]:
    """(mechanic id, buffer minutes) of mechanics in ``base`` whose hours cover the window
    and who have no blocking time off in it -- for mechanics whose zones are in
    ``segments``. One query."""
    ops = connection.ops
    base_sql, base_params = base.values_list(
        "pk", "kind", "own_zone", "workshop_id", "shop_zone", "buffer"
    ).query.sql_with_params()
    zone_rows = []
    for zone, segs in segments.items():
        first = segs[0]
        second = segs[1] if len(segs) > 1 else None
        zone_rows.append(
            (
                zone,
                ops.adapt_datefield_value(first.day),
                first.dow,
                first.lo,
                first.hi,
                ops.adapt_datefield_value(second.day) if second else None,
                second.dow if second else None,
                second.hi if second else None,
            )
        )
    zp_sql, zp_params = _values_cte("zp", _SEGMENT_COLUMNS, zone_rows)
    sql = (
        f"WITH base(id, kind, own_zone, shop_id, shop_zone, buffer) AS ({base_sql}), {zp_sql} "
        "SELECT b.id, b.buffer FROM base b "
        "LEFT JOIN zp oz ON oz.zone = b.own_zone "
        "LEFT JOIN zp sz ON sz.zone = b.shop_zone "
        f"WHERE (b.kind = %s OR {_source_covers_sql(_own_day_sql, 'oz')}) "
        f"AND (b.kind = %s OR {_source_covers_sql(_shop_day_sql, 'sz')}) "
        f"AND NOT EXISTS (SELECT 1 FROM {_table(TimeOff)} t WHERE t.mechanic_id = b.id"
        f" AND t.status IN ({_in(BLOCKING_TIME_OFF)}) AND t.starts_at < %s AND t.ends_at > %s)"
    )
    params = [
        *base_params,
        *zp_params,
        MechanicType.WORKSHOP_AFFILIATED.value,  # needs no own hours
        MechanicType.VIRTUAL_ONLY.value,  # needs no workshop hours
        *[status.value for status in BLOCKING_TIME_OFF],
        ops.adapt_datetimefield_value(window.end),
        ops.adapt_datetimefield_value(window.start),
    ]
    return _fetch(sql, params)


def _offered_state() -> tuple[tuple[int, int] | None, set[int]]:
    """The materialized range (epoch seconds) or None, and the dirty mechanics: one query
    (``availability.offered``)."""
    rows = _fetch(
        f"SELECT 0, start_s, end_s FROM {_table(OfferedRange)} WHERE id = 1"
        f" UNION ALL SELECT DISTINCT 1, mechanic_id, 0 FROM {_table(OfferedDirty)}",
        [],
    )
    span = next(((a, b) for kind, a, b in rows if kind == 0), None)
    return span, {mid for kind, mid, _ in rows if kind == 1}


def _only(candidates: Iterable[int] | QuerySet | None, ids: set[int]) -> list[int] | QuerySet:
    """``candidates`` restricted to ``ids``."""
    if candidates is None:
        return sorted(ids)
    if isinstance(candidates, QuerySet):
        return candidates.filter(pk__in=sorted(ids))
    return [mid for mid in candidates if mid in ids]


def _free_from_pieces(
    candidates: Iterable[int] | QuerySet | None, window: Interval, lead: int, *, with_dirty: bool
) -> list[tuple[int, int]]:
    """(id, buffer minutes) of clean mechanics (among ``candidates``; None = everyone)
    whose offered pieces cover ``window``, whose notice and advance (copied into the
    pieces) allow a start ``lead`` µs from now and who have no blocking time off in it:
    one query on the hour's pieces. Only approved, active mechanics have pieces, so
    everyone is read without joining profiles, users or settings; a candidate set is
    joined as ids."""
    ops = connection.ops
    base_sql, base_params = ("", [])
    if candidates is not None:
        base_sql, base_params = _mechanic_rows(candidates).values_list("pk").query.sql_with_params()
    t = offered.seconds(window.start)
    big = _placeholder("bigint")
    # start >= now + notice  <=>  notice <= floor(lead) in whole minutes;  start <= now +
    # advance  <=>  advance >= ceil(lead) in whole days (as _notice_filter).
    notice_s = lead // _MICROS_PER_MINUTE * 60
    advance_s = -(-lead // _MICROS_PER_DAY) * 86_400
    sql = (
        (f"WITH base(id) AS ({base_sql}) " if base_sql else "")
        + "SELECT p.mechanic_id, p.buffer_s / 60"
        f" FROM {_table(OfferedPiece)} p"
        + (" JOIN base b ON b.id = p.mechanic_id" if base_sql else "")
        + f" WHERE p.bucket = {big} AND p.start_s <= {big} AND p.end_s > {big}"
        f" AND p.span_end_s >= {big} AND p.notice_s <= {big} AND p.advance_s >= {big}"
        + (
            f" AND NOT EXISTS (SELECT 1 FROM {_table(OfferedDirty)} d"
            " WHERE d.mechanic_id = p.mechanic_id)"
            if with_dirty
            else ""
        )
        + f" AND NOT EXISTS (SELECT 1 FROM {_table(TimeOff)} t"
        " WHERE t.mechanic_id = p.mechanic_id"
        f" AND t.status IN ({_in(BLOCKING_TIME_OFF)}) AND t.starts_at < %s AND t.ends_at > %s)"
    )
    params = [
        *base_params,
        t // offered.BUCKET_SECONDS,
        t,
        t,
        offered.ceil_seconds(window.end),
        notice_s,
        advance_s,
        *[status.value for status in BLOCKING_TIME_OFF],
        ops.adapt_datetimefield_value(window.end),
        ops.adapt_datetimefield_value(window.start),
    ]
    return _fetch(sql, params)


def _without_busy(free: dict[int, int], window: Interval, now: datetime) -> set[int]:
    """The mechanics of ``free`` (id -> buffer minutes) whose busy time, widened by their
    buffer, leaves ``window`` free."""
    if free:
        # Busy rows in a few hours are few: above a handful of mechanics it is cheaper
        # to ask the sources for everyone than to send thousands of ids. Only busy time
        # within the largest buffer of these mechanics can touch the window.
        pad = timedelta(minutes=max(free.values()))
        busy = busy_periods(
            list(free) if len(free) <= _BUSY_ID_LIMIT else None,
            Interval(window.start - pad, window.end + pad),
            now=now,
        )
        for mid, intervals in busy.items():
            buffer_minutes = free.get(mid)
            if buffer_minutes is None:  # asked about everyone: not one of ours
                continue
            buffer = timedelta(minutes=buffer_minutes)
            if any(interval.widened(buffer).overlaps(window) for interval in intervals):
                del free[mid]
    return set(free)


def _notice_filter(base: QuerySet, lead: int) -> QuerySet:
    # start >= now + notice  <=>  notice <= floor(lead);  start <= now + advance  <=>
    # advance >= ceil(lead) (whole minutes and days in the settings).
    return base.filter(
        notice__lte=lead // _MICROS_PER_MINUTE,
        advance__gte=-(-lead // _MICROS_PER_DAY),
    )


def _free_args(
    start: datetime, end: datetime, candidates: Iterable[int] | QuerySet | None, now
) -> tuple[datetime, Interval, Iterable[int] | QuerySet | None, int] | None:
    """(now, window, candidates, lead in µs) for a who-is-free question; None when nobody
    can be free (no candidates, or a start in the past: no notice rule allows it)."""
    now = _now(now)
    window = Interval(start, end)
    candidates = _candidate_ids(candidates)
    lead = _micros(window.start - now)
    if (isinstance(candidates, list) and not candidates) or lead < 0:
        return None
    return now, window, candidates, lead


def mechanics_free_between(
    start: datetime,
    end: datetime,
    candidates: Iterable[int] | QuerySet | None = None,
    *,
    now: datetime | None = None,
) -> set[int]:
    """Ids of the mechanic profiles for whom ``is_available(m, start, end)`` is true.

    Inside the materialized range (``availability.offered``): the pieces of the asked
    hour that cover the window, joined with the live rules, time off and busy time, for
    every mechanic not marked dirty; dirty mechanics go through the set-based SQL
    (``mechanics_free_by_rules``). Outside it, the set-based SQL for everyone.
    """
    args = _free_args(start, end, candidates, now)
    if args is None:
        return set()
    now, window, candidates, lead = args
    span, dirty = _offered_state()
    if (
        span is None
        or offered.seconds(window.start) < span[0]
        or offered.ceil_seconds(window.end) > span[1]
        or window.duration > _DAY
    ):
        return mechanics_free_by_rules(start, end, candidates, now=now)
    result = _without_busy(
        dict(_free_from_pieces(candidates, window, lead, with_dirty=bool(dirty))), window, now
    )
    if dirty:
        others = _only(candidates, dirty)
        if isinstance(others, QuerySet) or others:
            result |= mechanics_free_by_rules(start, end, others, now=now)
    return result


def mechanics_free_by_rules(
    start: datetime,
    end: datetime,
    candidates: Iterable[int] | QuerySet | None = None,
    *,
    now: datetime | None = None,
) -> set[int]:
    """``mechanics_free_between`` by set-based SQL on the rules themselves (no pieces).

    Set-based: ``candidates`` (ids or a MechanicProfile queryset; ``None`` = everyone) are
    filtered in SQL by notice and advance, by source hours per type and local date
    (overrides first, touching blocks joined, breaks excluded) and by blocking time off;
    busy time comes from the busy sources in one call. Queries: a fixed handful whatever
    the number of mechanics. Mechanics whose zone has a DST transition inside the window
    (a few hours a year) are checked by the engine instead, still with fixed queries.
    """
    args = _free_args(start, end, candidates, now)
    if args is None:
        return set()
    now, window, candidates, lead = args
    base = _notice_filter(_mechanic_rows(candidates), lead)
    zones = _zones_in_use()
    segments: dict[str, tuple[_Segment, ...]] = {}
    for zone in zones:
        local = _local_segments(zone, window)
        if local is not None:
            segments[zone] = local

    result = _without_busy(dict(_free_by_sql(base, segments, window)), window, now)

    if len(segments) < len(zones):
        # The rare hard cases (a zone whose wall clock jumps inside the window): the SQL
        # above skipped these mechanics; the engine decides for them.
        simple = list(segments)
        hard_ids = list(
            base.filter(
                (~Q(kind=MechanicType.WORKSHOP_AFFILIATED) & ~Q(own_zone__in=simple))
                | (~Q(kind=MechanicType.VIRTUAL_ONLY) & ~Q(shop_zone__in=simple))
            ).values_list("pk", flat=True)
        )
        if hard_ids:
            inputs = _load(hard_ids, _context(window, window.duration), now=now)
            result.update(mid for mid, item in inputs.items() if item.bookable(window, now))
    return result


# --------------------------------------------------------------------------------------
# Earliest slot across many mechanics: best-first on a lower bound computed in SQL
# --------------------------------------------------------------------------------------


def _grid_delta_sql(start: str, end: str, t: str, step: str) -> str:
    """Minutes from time-of-week ``t`` to the first slot-grid point of the weekly piece
    [start, end) (week minutes) at or after ``t`` -- this week's piece if a grid point
    is left in it, else next week's start. Grid points are ``start + k × step``."""
    first = f"(({start}) + ((({t}) - ({start}) + ({step}) - 1) / ({step})) * ({step}))"
    return (
        f"CASE WHEN {t} < {end} THEN CASE WHEN {t} <= {start} THEN ({start}) - {t}"
        f" WHEN {first} < {end} THEN {first} - {t}"
        f" ELSE ({start}) + {_WEEK_MINUTES} - {t} END"
        f" ELSE ({start}) + {_WEEK_MINUTES} - {t} END"
    )


def _raw_delta_sql(start: str, end: str, t: str) -> str:
    """Minutes from ``t`` to the first instant of the weekly piece [start, end) at or
    after ``t`` (0 when inside it)."""
    return (
        f"CASE WHEN {t} < {end} THEN CASE WHEN {t} <= {start} THEN ({start}) - {t} ELSE 0 END"
        f" ELSE ({start}) + {_WEEK_MINUTES} - {t} END"
    )


def _vendor_max(*exprs: str) -> str:
    # Scalar max of non-NULL expressions: SQLite's multi-argument MAX, PostgreSQL GREATEST.
    name = "GREATEST" if connection.vendor == "postgresql" else "MAX"
    return f"{name}({', '.join(exprs)})"


def _vendor_min(*exprs: str) -> str:
    name = "LEAST" if connection.vendor == "postgresql" else "MIN"
    return f"{name}({', '.join(exprs)})"


def _lower_bound_sql(*, limit: int, offset: int) -> str:
    """One query: per mechanic the lower bound (minutes after the reference) on its first
    slot, best first. CTEs, in order:

    * ``m``: each candidate with ``tm`` -- the first whole minute after the reference that
      respects t0 and its notice -- and its zones' time-of-week and DST-stability limit;
    * ``own``: per mechanic, the first slot-grid point of its weekly blocks from there
      (and the first covered minute, for independent owners);
    * ``shop``: the same for workshop hours, once per (workshop, tm, step) -- many
      mechanics share a workshop;
    * the result: by type (plan §2.3), minus the DST slack where the zone changes offset
      before the bound, lowered by date overrides, never before ``tm - 1``.
    """
    affiliated = MechanicType.WORKSHOP_AFFILIATED.value
    virtual = MechanicType.VIRTUAL_ONLY.value
    independent = MechanicType.INDEPENDENT_WORKSHOP.value
    week = _WEEK_MINUTES
    x_start, x_end = "x.day_of_week * 1440 + x.start_minute", "x.day_of_week * 1440 + x.end_minute"
    h1_start = "h.day_of_week * 1440 + h.open_minute"
    h1_end = "h.day_of_week * 1440 + COALESCE(h.break_start_minute, h.close_minute)"
    h2_start = "h.day_of_week * 1440 + h.break_end_minute"
    h2_end = "h.day_of_week * 1440 + h.close_minute"
    own_t = f"((m.own_tow + m.tm) %% {week})"
    shop_t = f"((c.shop_tow + c.tm) %% {week})"
    h1_grid = _grid_delta_sql(h1_start, h1_end, shop_t, "c.step")
    h2_grid = _grid_delta_sql(h2_start, h2_end, shop_t, "c.step")
    h1_raw = _raw_delta_sql(h1_start, h1_end, shop_t)
    h2_raw = _raw_delta_sql(h2_start, h2_end, shop_t)
    independent_delta = (
        "CASE WHEN o.grid IS NULL OR s.grid IS NULL THEN NULL ELSE "
        + _vendor_max("o.raw", "s.raw", _vendor_min("o.grid", "s.grid"))
        + " END"
    )
    weekly = (
        f"m.tm + CASE m.kind WHEN '{virtual}' THEN o.grid WHEN '{affiliated}' THEN s.grid"
        f" ELSE {independent_delta} END"
    )
    unstable = (
        f"((w.kind <> '{affiliated}' AND w.own_stable IS NOT NULL AND w.weekly >= w.own_stable)"
        f" OR (w.kind <> '{virtual}' AND w.shop_stable IS NOT NULL"
        f" AND w.weekly >= w.shop_stable))"
    )
    slack = _DST_SLACK // _MINUTE
    # COALESCE(x, big) turns "no bound from this source" into "later than anything".
    never = 10**9
    candidates = _vendor_min(
        f"COALESCE(CASE WHEN {unstable} THEN w.weekly - {slack} ELSE w.weekly END, {never})",
        f"CASE WHEN w.kind <> '{affiliated}' THEN COALESCE(om.bound, {never}) ELSE {never} END",
        f"CASE WHEN w.kind <> '{virtual}' THEN COALESCE(ow.bound, {never}) ELSE {never} END",
    )
    return (
        "WITH base(id, kind, own_zone, shop_id, shop_zone, notice, advance, step) AS ({base}),"
        " zp(zone, tow, stable) AS ({zones}),"
        " ov(owner_kind, owner, bound) AS ({overrides}),"
        " m AS MATERIALIZED (SELECT b.id, b.kind, b.shop_id, b.advance, b.step,"
        " CASE WHEN CAST(b.notice AS BIGINT) * 60000000 + %s > %s"
        " THEN (CAST(b.notice AS BIGINT) * 60000000 + %s + 59999999) / 60000000"
        " ELSE %s END AS tm,"
        " oz.tow AS own_tow, oz.stable AS own_stable, sz.tow AS shop_tow,"
        " sz.stable AS shop_stable"
        " FROM base b LEFT JOIN zp oz ON oz.zone = b.own_zone"
        " LEFT JOIN zp sz ON sz.zone = b.shop_zone),"
        f" own AS (SELECT m.id,"
        f" MIN({_grid_delta_sql(x_start, x_end, own_t, 'm.step')}) AS grid,"
        f" MIN(CASE WHEN m.kind = '{independent}' THEN {_raw_delta_sql(x_start, x_end, own_t)}"
        " END) AS raw"
        f" FROM m JOIN {_table(WeeklyBlock)} x ON x.mechanic_id = m.id"
        f" WHERE m.kind <> '{affiliated}' GROUP BY m.id),"
        f" combos AS MATERIALIZED (SELECT shop_id, tm, step, shop_tow,"
        f" MAX(CASE WHEN kind = '{independent}' THEN 1 ELSE 0 END) AS independent FROM m"
        f" WHERE m.kind <> '{virtual}' GROUP BY shop_id, tm, step, shop_tow),"
        f" shop AS (SELECT c.shop_id, c.tm, c.step,"
        f" MIN(CASE WHEN h.break_end_minute IS NULL THEN {h1_grid}"
        f" ELSE {_vendor_min(h1_grid, h2_grid)} END) AS grid,"
        f" MIN(CASE WHEN c.independent = 0 THEN NULL"
        f" WHEN h.break_end_minute IS NULL THEN {h1_raw}"
        f" ELSE {_vendor_min(h1_raw, h2_raw)} END) AS raw"
        f" FROM combos c JOIN {_table(WorkshopHours)} h ON h.workshop_id = c.shop_id"
        f" WHERE h.is_open GROUP BY c.shop_id, c.tm, c.step),"
        " w AS (SELECT m.id, m.kind, m.tm, m.advance, m.shop_id, m.own_stable,"
        f" m.shop_stable, {weekly} AS weekly FROM m"
        " LEFT JOIN own o ON o.id = m.id"
        " LEFT JOIN shop s ON s.shop_id = m.shop_id AND s.tm = m.tm AND s.step = m.step),"
        f" f AS (SELECT w.id, w.tm, w.advance, {candidates} AS bound FROM w"
        " LEFT JOIN ov om ON om.owner_kind = 'm' AND om.owner = w.id"
        " LEFT JOIN ov ow ON ow.owner_kind = 'w' AND ow.owner = w.shop_id)"
        f" SELECT f.id, {_vendor_max('f.bound', 'f.tm - 1')} AS lower_bound, f.advance FROM f"
        f" WHERE f.bound < {never} AND f.bound <= CAST(f.advance AS BIGINT) * 1440 + %s"
        f" ORDER BY lower_bound, f.id LIMIT {int(limit)} OFFSET {int(offset)}"
    )


def _override_bounds(reference: datetime, t0: datetime) -> list[tuple[str, int, int]]:
    """Date overrides can add hours the weekly pattern lacks. Each owner's earliest
    override row bounds its slots from below by the earliest instant that local wall time
    can be (offsets are at most +14 h): ("m"/"w", owner id, minutes after reference)."""
    first_day = (reference - _MAX_OFFSET).date() - _DAY
    last_day = (t0 + timedelta(days=366) + _MAX_OFFSET).date() + _DAY
    best: dict[tuple[str, int], int] = {}
    for mid, wid, day, start_minute in DateOverride.objects.filter(
        day__range=(first_day, last_day), start_minute__isnull=False
    ).values_list("mechanic_id", "workshop_id", "day", "start_minute"):
        instant = datetime(day.year, day.month, day.day, tzinfo=UTC) - _MAX_OFFSET
        minutes = (instant - reference) // _MINUTE + start_minute
        key = ("m", mid) if mid is not None else ("w", wid)
        if key not in best or minutes < best[key]:
            best[key] = minutes
    return [(kind, owner, minutes) for (kind, owner), minutes in best.items()]


@lru_cache(maxsize=512)
def _stable_until(zone: str, since: datetime) -> datetime | None:
    """An instant no later than the first UTC-offset change of ``zone`` after ``since``
    (``None``: no change within 400 days). Scans day by day -- offsets never change
    twice within a day -- and is cached, so callers round ``since`` down to the hour."""
    tz = engine.zone_info(zone)
    offset = since.astimezone(tz).utcoffset()
    previous = since
    for days in range(1, 401):
        instant = since + days * _DAY
        if instant.astimezone(tz).utcoffset() != offset:
            return previous
        previous = instant
    return None


class _Bound(NamedTuple):
    # (order, mechanic_id) is the sort key: no slot of this mechanic starts before
    # ``order``, and bounds arrive sorted by it. ``start`` is ``order`` clamped to t0, where
    # the precise search begins (clamping could reorder ties, so it is not the key).
    order: datetime
    mechanic_id: int
    start: datetime
    last_start: datetime  # now + the mechanic's maximum advance


def _lower_bounds(
    t0: datetime, now: datetime, candidates: Iterable[int] | QuerySet | None
) -> Iterable[_Bound]:
    """Lower bounds on each candidate's first slot start at or after ``t0``, best first,
    fetched a page at a time (most searches need only the first page).

    Exact to the slot grid when the weekly pattern decides and the zone keeps one UTC
    offset; safely earlier otherwise (DST slack, date overrides).
    """
    reference = t0.replace(second=0, microsecond=0)
    # Wall-clock minutes equal real minutes only while the zone keeps one UTC offset (the
    # hours before the reference included: a fall-back repeats wall times).
    since = reference.replace(minute=0) - _DST_SLACK
    zone_rows = []
    for zone in _zones_in_use():
        local = reference.astimezone(engine.zone_info(zone))
        stable = _stable_until(zone, since)
        zone_rows.append(
            (
                zone,
                engine.day_of_week(local.date()) * 1440 + local.hour * 60 + local.minute,
                None if stable is None else (stable - reference) // _MINUTE,
            )
        )
    zones_sql, zones_params = _values_rows(
        [("zone", "varchar(64)"), ("tow", "integer"), ("stable", "integer")], zone_rows
    )
    overrides_sql, overrides_params = _values_rows(
        [("owner_kind", "varchar(1)"), ("owner", "bigint"), ("bound", "integer")],
        _override_bounds(reference, t0),
    )
    base_sql, base_params = (
        _mechanic_rows(candidates)
        .values_list(
            "pk", "kind", "own_zone", "workshop_id", "shop_zone", "notice", "advance", "step"
        )
        .query.sql_with_params()
    )
    now_us, t0_us = _micros(now - reference), _micros(t0 - reference)
    params = [
        *base_params,
        *zones_params,
        *overrides_params,
        now_us,
        t0_us,
        now_us,
        1 if t0_us else 0,
        -(-now_us // _MICROS_PER_MINUTE),
    ]
    offset, page = 0, 64
    while True:
        sql = _lower_bound_sql(limit=page, offset=offset).format(
            base=base_sql, zones=zones_sql, overrides=overrides_sql
        )
        rows = _fetch(sql, params)
        for mid, minutes, advance in rows:
            last_start = now + timedelta(days=advance)
            order = reference + minutes * _MINUTE
            start = max(order, t0)
            if start <= last_start:
                yield _Bound(order, mid, start, last_start)
        if len(rows) < page:
            return
        offset += page
        page *= 8


def _piece_bounds_sql(base_sql: str, *, with_dirty: bool) -> str:
    """Per clean mechanic, the first slot-grid point at or after t0, its notice and the
    piece start, among its pieces in a range of hour buckets, kept only where it lies in
    [lo, hi), before the piece's end, with room for the duration in its merged span and
    within the advance: a lower bound on its first slot there (bookings and time off
    only remove slots). Best first, a row per piece (the caller keeps a mechanic's first);
    ``with_dirty``: leave out mechanics marked dirty."""
    big = _placeholder("bigint")
    x = _vendor_max(big, f"{big} + CAST(b.notice AS BIGINT) * 60", "p.start_s")
    st = "(CAST(b.step AS BIGINT) * 60)"
    grid = f"(p.start_s + (({x} - p.start_s + {st} - 1) / {st}) * {st})"
    return (
        f"WITH base(id, notice, advance, step) AS ({base_sql})"
        " SELECT q.id, q.g, q.advance FROM ("
        f"SELECT p.mechanic_id AS id, b.advance, p.end_s, p.span_end_s, {grid} AS g"
        f" FROM {_table(OfferedPiece)} p JOIN base b ON b.id = p.mechanic_id"
        f" WHERE p.bucket >= {big} AND p.bucket <= {big} AND p.end_s > {big}"
        + (
            f" AND NOT EXISTS (SELECT 1 FROM {_table(OfferedDirty)} d"
            " WHERE d.mechanic_id = p.mechanic_id)"
            if with_dirty
            else ""
        )
        + ") q"
        f" WHERE q.g < q.end_s AND q.g + {big} <= q.span_end_s AND q.g >= {big}"
        f" AND q.g < {big} AND q.g <= {big} + CAST(q.advance AS BIGINT) * 86400"
        " ORDER BY q.g, q.id LIMIT {limit} OFFSET {offset}"
    )


def _piece_bounds(
    t0: datetime,
    now: datetime,
    duration: timedelta,
    candidates: Iterable[int] | QuerySet | None,
    span: tuple[int, int],
    *,
    with_dirty: bool,
) -> Iterable[_Bound]:
    """Lower bounds on each clean candidate's first slot at or after ``t0``, best first:
    from the offered pieces up to the end of the materialized range (everyone: by grid
    class from the indexes, ``_class_bounds``; a candidate set: its pieces hour range by
    hour range, ``_candidate_piece_bounds``); then a marker bound (mechanic 0) at that
    end; then the SQL lower bounds from there on for mechanics not seen yet."""
    seen: set[int] = set()
    found = (
        _class_bounds(t0, now, duration, span, with_dirty=with_dirty)
        if candidates is None
        else _candidate_piece_bounds(t0, now, duration, candidates, span, with_dirty=with_dirty)
    )
    for bound in found:
        if bound.mechanic_id not in seen:
            seen.add(bound.mechanic_id)
            yield bound
    tail_start = offered.instant(span[1])
    yield _Bound(tail_start, 0, tail_start, tail_start)
    for bound in _lower_bounds(max(t0, tail_start), now, candidates):
        if bound.mechanic_id not in seen:
            order = max(bound.order, tail_start)
            yield bound._replace(order=order, start=max(bound.start, order))


def _grid_classes() -> list[int]:
    """The grid classes in the pieces (``offered.grid_class``), by a loose index scan:
    one index probe per class (a population has a few: notice × step × grid phase)."""
    table = _table(OfferedPiece)
    rows = _fetch(
        "WITH RECURSIVE c(k) AS ("
        f" SELECT MIN(grid_class) FROM {table}"
        f" UNION ALL SELECT (SELECT MIN(p.grid_class) FROM {table} p WHERE p.grid_class > c.k)"
        " FROM c WHERE c.k IS NOT NULL)"
        " SELECT k FROM c WHERE k IS NOT NULL",
        [],
    )
    return [k for (k,) in rows]


def _class_bounds_sql(
    t0: datetime, now: datetime, duration: timedelta, end_s: int, *, with_dirty: bool
) -> str | None:
    """The SQL of ``_class_bounds`` (``{limit}``/``{offset}`` left to fill), or None when
    no class can have a piece bound. Per grid class (notice N, step S, phase φ) the first
    grid point at or after x = max(t0, now + N) of a piece [a, b) is a when a >= x, else
    the same g = x + ((φ - x) mod S) for every piece containing x. So two index-ordered
    reads per class: pieces of x's hour containing x, by mechanic id (``offered_class_
    bucket``), and pieces starting at or after x, by start then id (``offered_class_
    start``, the row of the piece's first hour only). Kept where the grid point lies
    before the piece's end, leaves room for the duration in its merged stretch, is
    within the advance and before ``end_s``. All values are integers we computed: inlined."""
    t0_s, now_s = offered.ceil_seconds(t0), offered.ceil_seconds(now)
    now_floor = offered.seconds(now)
    duration_s = -(-_micros(duration) // 1_000_000)
    table = _table(OfferedPiece)
    clean = (
        f" AND NOT EXISTS (SELECT 1 FROM {_table(OfferedDirty)} d"
        " WHERE d.mechanic_id = p.mechanic_id)"
        if with_dirty
        else ""
    )
    parts = []
    for key in _grid_classes():
        notice_s, step_s, phase_s = offered.grid_class_parts(key)
        x = max(t0_s, now_s + notice_s)
        if x >= end_s:
            continue
        g = x + (phase_s - x) % step_s
        if g < end_s:
            parts.append(
                f"SELECT p.mechanic_id AS id, {g} AS g, p.advance_s AS advance FROM {table} p"
                f" WHERE p.grid_class = {key} AND p.bucket = {x // offered.BUCKET_SECONDS}"
                f" AND +p.start_s < {x} AND p.end_s > {g} AND p.span_end_s >= {g + duration_s}"
                f" AND p.advance_s >= {g - now_floor}{clean}"
                " ORDER BY p.mechanic_id LIMIT {reach}"
            )
        parts.append(
            f"SELECT p.mechanic_id AS id, p.start_s AS g, p.advance_s AS advance FROM {table} p"
            f" WHERE p.grid_class = {key} AND p.start_s >= {x} AND p.start_s < {end_s}"
            f" AND p.bucket = p.start_s / {offered.BUCKET_SECONDS}"
            f" AND p.span_end_s >= p.start_s + {duration_s}"
            f" AND p.advance_s >= p.start_s - {now_floor}{clean}"
            " ORDER BY p.start_s, p.mechanic_id LIMIT {reach}"
        )
    if not parts:
        return None
    union = " UNION ALL ".join(f"SELECT * FROM ({part}) AS c{n}" for n, part in enumerate(parts))
    return f"SELECT id, g, advance FROM ({union}) AS u ORDER BY g, id LIMIT {{limit}} OFFSET {{offset}}"


def _class_bounds(
    t0: datetime, now: datetime, duration: timedelta, span: tuple[int, int], *, with_dirty: bool
) -> Iterable[_Bound]:
    """Piece bounds of every clean mechanic, best first (possibly a mechanic again,
    later): a page at a time from ``_class_bounds_sql``; most searches read one page.
    Only approved, active mechanics have pieces (``availability.offered``)."""
    sql = _class_bounds_sql(t0, now, duration, span[1], with_dirty=with_dirty)
    if sql is None:
        return
    pages = _pages(
        lambda limit, offset: _fetch(
            sql.format(limit=limit, offset=offset, reach=offset + limit), []
        )
    )
    for mid, g, advance_s in pages:
        order = offered.instant(g)
        yield _Bound(order, mid, max(order, t0), now + timedelta(seconds=advance_s))


def _pages(fetch: Callable[[int, int], list[tuple]]) -> Iterable[tuple]:
    """The rows of ``fetch(limit, offset)`` a page at a time, pages growing (16, 128, …):
    most searches read only the first."""
    offset, page = 0, 16
    while True:
        rows = fetch(page, offset)
        yield from rows
        if len(rows) < page:
            return
        offset += page
        page *= 8


def _candidate_piece_bounds(
    t0: datetime,
    now: datetime,
    duration: timedelta,
    candidates: Iterable[int] | QuerySet,
    span: tuple[int, int],
    *,
    with_dirty: bool,
) -> Iterable[_Bound]:
    """Piece bounds of the clean mechanics among ``candidates``, best first (possibly a
    mechanic again, later): their pieces joined with the live rules, hour range by hour
    range (growing) up to the end of the materialized range."""
    base_sql, base_params = (
        _mechanic_rows(candidates)
        .values_list("pk", "notice", "advance", "step")
        .query.sql_with_params()
    )
    sql = _piece_bounds_sql(base_sql, with_dirty=with_dirty)
    t0_s, now_s = offered.ceil_seconds(t0), offered.ceil_seconds(now)
    now_floor = offered.seconds(now)
    duration_s = -(-_micros(duration) // 1_000_000)
    end_s = span[1]
    # Nobody's slots start before now + the smallest notice anyone has (the default for
    # mechanics without a settings row): skip the hours before it.
    (smallest,) = _fetch(f"SELECT MIN(min_notice_minutes) FROM {_table(MechanicSettings)}", [])[0]
    default_notice = default_booking_rules().min_notice // _MINUTE
    smallest = default_notice if smallest is None else min(smallest, default_notice)
    first_s = max(t0_s, now_s + smallest * 60)
    lo, bucket, width = None, first_s // offered.BUCKET_SECONDS, 1
    while True:
        last = bucket + width - 1
        hi = min((last + 1) * offered.BUCKET_SECONDS, end_s)
        params = [
            *base_params,
            t0_s, now_s,  # x = max(t0, now + notice, piece start)
            bucket, last, t0_s,
            duration_s, -(10**15) if lo is None else lo, hi, now_floor,
        ]  # fmt: skip
        pages = _pages(
            lambda limit, offset, params=params: _fetch(
                sql.format(limit=limit, offset=offset), params
            )
        )
        for mid, g, advance in pages:
            order = offered.instant(g)
            yield _Bound(order, mid, max(order, t0), now + timedelta(days=advance))
        if hi >= end_s:
            return
        lo, bucket, width = hi, last + 1, width * 2


def _first_slot(
    inputs: _Inputs,
    cursor: datetime,
    duration: timedelta,
    now: datetime,
    beat: datetime | None,
) -> Interval | None:
    """The mechanic's first slot starting at or after ``cursor``; gives up past ``beat``."""
    last_start = now + inputs.rules.max_advance
    span = _DAY
    while cursor <= last_start and (beat is None or cursor <= beat):
        window = Interval(cursor, min(cursor + span, last_start + timedelta(microseconds=1)))
        slots = inputs.slots(window, duration, now)
        if slots:
            return slots[0]
        cursor = window.end
        span = min(span * 2, 8 * _DAY)
    return None


def earliest_slot(
    duration: timedelta,
    candidates: Iterable[int] | QuerySet | None = None,
    *,
    after: datetime | None = None,
    now: datetime | None = None,
) -> tuple[int, Interval] | None:
    """The earliest bookable slot of ``duration`` among ``candidates`` (None = everyone):
    ``(mechanic profile id, slot)``, or None if nobody has one within their advance window.

    Ties go to the lowest mechanic id. Best-first: a lower bound per mechanic comes from
    one SQL query over the weekly patterns (grid-aligned, notice applied); mechanics are
    then checked precisely with the engine in bound order, in growing batches, until the
    best slot found is not beaten by the next bound.
    """
    now = _now(now)
    t0 = now if after is None or after < now else after
    candidates = _candidate_ids(candidates)
    if isinstance(candidates, list) and not candidates:
        return None
    span, dirty = _offered_state()
    if span is None or offered.seconds(t0) < span[0] or offered.ceil_seconds(t0) >= span[1]:
        bounds = iter(_lower_bounds(t0, now, candidates))
    else:
        bounds = _piece_bounds(t0, now, duration, candidates, span, with_dirty=bool(dirty))
        others = _only(candidates, dirty) if dirty else []
        if isinstance(others, QuerySet) or others:
            bounds = heapq.merge(
                bounds,
                _lower_bounds(t0, now, others),
                key=lambda b: (b.order, b.mechanic_id),
            )
        bounds = iter(bounds)
    best: tuple[int, Interval] | None = None
    pending: list[_Bound] = []
    batch_size = 8
    while True:
        while len(pending) < batch_size:
            bound = next(bounds, None)
            if bound is None:
                break
            pending.append(bound)
            if bound.mechanic_id == 0:
                break  # the end of the pieces: decide before asking for more
        if not pending:
            return best
        batch, pending = pending[:batch_size], pending[batch_size:]
        batch_size *= 2
        if best is not None and (batch[0].order, batch[0].mechanic_id) > (best[1].start, best[0]):
            return best
        horizon = max(bound.last_start for bound in batch)
        inputs = _load(
            [bound.mechanic_id for bound in batch],
            Interval(t0 - _DAY, horizon + duration + _DAY),
            now=now,
        )
        for bound in batch:
            if best is not None and (bound.order, bound.mechanic_id) > (best[1].start, best[0]):
                return best
            item = inputs.get(bound.mechanic_id)
            if item is None:
                continue
            slot = _first_slot(item, bound.start, duration, now, best[1].start if best else None)
            if slot is not None and (
                best is None or (slot.start, bound.mechanic_id) < (best[1].start, best[0])
            ):
                best = (bound.mechanic_id, slot)


# ======================================================================================
# Workshop visits: opening hours, visit rules and bays (issue 11)
# ======================================================================================

# Visit minutes when neither the workshop (WorkshopVisitSettings.durations) nor a
# diagnosis says how long the work takes.
DEFAULT_VISIT_MINUTES = 60


@dataclass(frozen=True, slots=True)
class VisitRules:
    """A workshop's rules for in-person visits (WorkshopVisitSettings) as durations."""

    min_notice: timedelta
    max_advance: timedelta
    slot_step: timedelta
    response_window: timedelta
    durations: tuple[tuple[str, int], ...] = ()

    @classmethod
    def of(cls, row: WorkshopVisitSettings | None) -> VisitRules:
        row = row or WorkshopVisitSettings()
        return cls(
            min_notice=timedelta(minutes=row.min_notice_minutes),
            max_advance=timedelta(days=row.max_advance_days),
            slot_step=timedelta(minutes=row.slot_step_minutes),
            response_window=timedelta(hours=row.response_hours),
            durations=tuple(sorted((row.durations or {}).items())),
        )

    def minutes_for(self, service_type: str, estimate: int | None = None) -> int:
        """How long a visit for `service_type` takes: the diagnosis estimate when there
        is one, else the workshop's own duration for that work, else the default."""
        if estimate:
            return estimate
        return dict(self.durations).get(service_type) or DEFAULT_VISIT_MINUTES


class BayLoadSource(Protocol):
    """What each bay of a workshop already holds (the workshops app registers one):
    ``{bay number: [Interval, ...]}`` for visits holding time at ``now`` that overlap
    ``window``, leaving out the visit ids in ``ignore`` (a visit being moved). One query."""

    def __call__(
        self, workshop_id: int, window: Interval, *, now: datetime, ignore: Collection[int]
    ) -> dict[int, list[Interval]]: ...


_BAY_LOAD: list[BayLoadSource] = []


def register_bay_load_source(source: BayLoadSource) -> None:
    """Set the bay load source (WorkshopsConfig.ready)."""
    _BAY_LOAD[:] = [source]


@dataclass(frozen=True, slots=True)
class _ShopInputs:
    workshop_id: int
    zone: str
    bays: int
    schedule: engine.LocalSchedule
    rules: VisitRules
    load: tuple[tuple[Interval, ...], ...]  # index = bay - 1


def _load_shop(
    workshop_id: int, context: Interval, *, now: datetime, ignore: Collection[int] = ()
) -> _ShopInputs:
    """Queries: workshop + its visit settings (1), hours (1), date overrides (1), bay
    load (1)."""
    workshop = (
        Workshop.objects.filter(pk=workshop_id)
        .select_related("visit_settings")
        .only("time_zone", "max_concurrent_appointments", "visit_settings")
        .first()
    )
    if workshop is None:
        raise NotFound(_("No such workshop."))
    row = getattr(workshop, "visit_settings", None)
    blocks = [
        block
        for hours in WorkshopHours.objects.filter(workshop_id=workshop_id, is_open=True)
        for block in _workshop_blocks(
            hours.day_of_week,
            hours.open_minute,
            hours.close_minute,
            hours.break_start_minute,
            hours.break_end_minute,
        )
    ]
    overrides = DateOverride.objects.filter(
        workshop_id=workshop_id,
        day__gte=(context.start - _MAX_OFFSET).date() - _DAY,
        day__lte=(context.end + _MAX_OFFSET).date() + _DAY,
    ).values_list("day", "start_minute", "end_minute")
    bays = workshop.max_concurrent_appointments
    by_bay = _BAY_LOAD[0](workshop_id, context, now=now, ignore=ignore) if _BAY_LOAD else {}
    return _ShopInputs(
        workshop_id=workshop_id,
        zone=workshop.time_zone,
        bays=bays,
        schedule=engine.LocalSchedule(
            workshop.time_zone, tuple(blocks), tuple(_day_overrides(overrides))
        ),
        rules=VisitRules.of(row),
        load=tuple(tuple(by_bay.get(bay, ())) for bay in range(1, bays + 1)),
    )


def workshop_open_minutes(
    workshop_ids: Collection[int], start: datetime, end: datetime
) -> dict[int, int]:
    """Minutes each workshop is open in ``[start, end)``: the schedule ``visit_slots``
    reads (_load_shop: weekly hours with breaks excluded, date overrides and closures, in
    the workshop's zone), not multiplied by bays. The denominator of bay utilization
    (analytics.metrics). Queries: workshops (1), hours (1), date overrides (1), whatever
    the number of workshops; unknown ids are left out."""
    ids = list(workshop_ids)
    if not ids:
        return {}
    window = Interval(start, end)
    zones = dict(Workshop.objects.filter(pk__in=ids).values_list("pk", "time_zone"))
    blocks: dict[int, list[engine.WeeklyBlock]] = defaultdict(list)
    for hours in WorkshopHours.objects.filter(workshop_id__in=zones, is_open=True):
        blocks[hours.workshop_id].extend(
            _workshop_blocks(
                hours.day_of_week,
                hours.open_minute,
                hours.close_minute,
                hours.break_start_minute,
                hours.break_end_minute,
            )
        )
    overrides: dict[int, list[tuple[date, int | None, int | None]]] = defaultdict(list)
    for wid, day, lo, hi in DateOverride.objects.filter(
        workshop_id__in=zones,
        day__gte=(start - _MAX_OFFSET).date() - _DAY,
        day__lte=(end + _MAX_OFFSET).date() + _DAY,
    ).values_list("workshop_id", "day", "start_minute", "end_minute"):
        overrides[wid].append((day, lo, hi))
    out: dict[int, int] = {}
    for wid, zone in zones.items():
        schedule = engine.LocalSchedule(
            zone, tuple(blocks[wid]), tuple(_day_overrides(overrides[wid]))
        )
        pieces = engine.intersection(engine.expand(schedule, window), [window])
        out[wid] = int(sum((p.duration for p in pieces), timedelta(0)).total_seconds() // 60)
    return out


def visit_rules(workshop: Workshop | int) -> VisitRules:
    """The visit rules of one workshop (one query)."""
    workshop_id = workshop if isinstance(workshop, int) else workshop.pk
    return VisitRules.of(WorkshopVisitSettings.objects.filter(workshop_id=workshop_id).first())


def visit_slots(
    workshop: Workshop | int,
    start: datetime,
    end: datetime,
    duration: timedelta,
    *,
    now: datetime | None = None,
    ignore: Collection[int] = (),
) -> list[Interval]:
    """Visit times of ``duration`` starting in ``[start, end)`` at the workshop: inside its
    opening hours (breaks, date overrides and closures applied), on its slot grid, within
    its notice and advance rules, with at least one bay free for the whole visit
    (engine.capacity_slots). ``ignore``: visit ids whose own time does not count (a move).
    A fixed number of queries (see _load_shop) whatever the window or the visits."""
    now = _now(now)
    window = Interval(start, end)
    shop = _load_shop(
        workshop if isinstance(workshop, int) else workshop.pk,
        _context(window, duration),
        now=now,
        ignore=ignore,
    )
    return list(_shop_slots(shop, window, duration, now))


def _shop_slots(
    shop: _ShopInputs, window: Interval, duration: timedelta, now: datetime
) -> tuple[Interval, ...]:
    pieces = engine.expand(shop.schedule, Interval(window.start, window.end + duration))
    if not pieces:
        return ()
    return engine.capacity_slots(
        pieces=pieces,
        window=window,
        duration=duration,
        step=shop.rules.slot_step,
        busy_by_unit=shop.load,
        now=now,
        min_notice=shop.rules.min_notice,
        max_advance=shop.rules.max_advance,
    )


def visit_daily_counts(
    workshop: Workshop | int,
    start: datetime,
    end: datetime,
    duration: timedelta,
    zone: str,
    *,
    now: datetime | None = None,
) -> dict[date, int]:
    """Number of visit times per local date of ``zone`` (for a month calendar)."""
    return engine.daily_counts(visit_slots(workshop, start, end, duration, now=now), zone)


def visit_bookable(
    workshop: Workshop | int,
    starts_at: datetime,
    duration: timedelta,
    *,
    now: datetime | None = None,
    ignore: Collection[int] = (),
) -> bool:
    """Whether a visit may start at ``starts_at`` (on the grid, inside hours and rules,
    a bay free): the friendly pre-check; the bay guard in the database decides races."""
    slots = visit_slots(
        workshop, starts_at, starts_at + timedelta(microseconds=1), duration, now=now, ignore=ignore
    )
    return bool(slots) and slots[0].start == starts_at
