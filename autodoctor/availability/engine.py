"""Pure interval arithmetic for "when can this mechanic be booked?".

This module owns:

* ``Interval`` -- a half-open ``[start, end)`` span of real time, always stored in UTC;
* set operations on intervals (``merge``, ``intersection``, ``difference``);
* the weekly schedule model (``WeeklyBlock``, ``DayOverride``, ``LocalSchedule``) and its
  expansion from local wall-clock time to real UTC time (``expand``), including the DST rules;
* slot generation and validation (``bookable_slots``, ``is_bookable``, ``intersect_pieces``),
  and for a resource with several units such as a workshop's bays (``capacity_slots``,
  ``free_units``);
* wall time to real time (``wall_to_utc``, with ``zone_info`` and ``day_of_week``), the one
  place the DST rules below are written;
* small presentation helpers (``daily_counts``, ``minute_label``).

It deliberately knows nothing else: no Django, no database, no I/O and no clock. "Now" is
always a parameter, so every function here is deterministic and cheap to test.

Vocabulary
----------
*piece*
    One UTC interval produced by one schedule block on one local date. Pieces are kept
    separate (never merged) because each piece anchors its own slot grid: slot starts are
    ``piece.start + k * step``.
*free time*
    ``merge(pieces) - time_off - (busy widened by buffer)``. A slot must fit entirely inside
    one free interval, which may span several adjacent pieces.

DST rules (how local wall time becomes real time)
-------------------------------------------------
* Minute ``1440`` means 24:00, i.e. local midnight of the *next* date.
* A wall time that does not exist (spring-forward gap) maps to the transition instant, the
  first real instant after the gap (02:30 on Toronto's spring-forward day -> 03:00 EDT).
* An ambiguous wall time (fall-back overlap) maps to its *first* occurrence (``fold=0``).
* A block whose two ends map to the same instant (entirely inside a gap) yields no piece.

Consequently a 00:00-24:00 block lasts exactly as long as the real local day (23 h or 25 h
on Toronto's transition days) and every block yields at most one piece per local date.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "MINUTES_PER_DAY",
    "DayOverride",
    "Interval",
    "LocalSchedule",
    "WeeklyBlock",
    "bookable_slots",
    "capacity_slots",
    "daily_counts",
    "day_of_week",
    "difference",
    "expand",
    "free_units",
    "intersect_pieces",
    "intersection",
    "is_bookable",
    "merge",
    "minute_label",
    "wall_to_utc",
    "zone_info",
]

MINUTES_PER_DAY = 1440

_UTC = UTC
_ONE_DAY = timedelta(days=1)
_ONE_SECOND = timedelta(seconds=1)
_ONE_MICROSECOND = timedelta(microseconds=1)
_ZERO = timedelta(0)


# --------------------------------------------------------------------------------------
# Intervals
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, order=True)
class Interval:
    """A half-open span ``[start, end)`` of real time.

    Both bounds must be timezone-aware (any zone); they are normalised to UTC so that
    equality, hashing, ordering and ``repr`` do not depend on the zone they came from.
    """

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        start, end = self.start, self.end
        # Fast path: already-normalised UTC datetimes (the overwhelmingly common case).
        if not (
            type(start) is datetime
            and type(end) is datetime
            and start.tzinfo is _UTC
            and end.tzinfo is _UTC
        ):
            if not isinstance(start, datetime) or not isinstance(end, datetime):
                raise TypeError("interval bounds must be datetime objects")
            if start.utcoffset() is None or end.utcoffset() is None:
                raise ValueError("interval bounds must be timezone-aware datetimes")
            start = start.astimezone(_UTC)
            end = end.astimezone(_UTC)
            object.__setattr__(self, "start", start)
            object.__setattr__(self, "end", end)
        if end <= start:
            raise ValueError("interval end must be after start")

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def overlaps(self, other: Interval) -> bool:
        """True if the two half-open intervals share at least one instant."""
        return self.start < other.end and other.start < self.end

    def contains(self, other: Interval) -> bool:
        """True if ``other`` lies entirely inside ``self``."""
        return self.start <= other.start and other.end <= self.end

    def widened(self, by: timedelta) -> Interval:
        """The interval extended by ``by`` on both sides."""
        return Interval(self.start - by, self.end + by)


_new_object = object.__new__
_set_attr = object.__setattr__


def _iv(start: datetime, end: datetime) -> Interval:
    """Build an Interval from bounds already known to be UTC-normalised and ordered.

    Internal fast constructor: skips ``__post_init__`` validation, which matters when
    thousands of slots are built per request.
    """
    iv = _new_object(Interval)
    _set_attr(iv, "start", start)
    _set_attr(iv, "end", end)
    return iv


def _bounds(iv: Interval) -> tuple[datetime, datetime]:
    return (iv.start, iv.end)


def merge(intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    """Sorted union of ``intervals``; overlapping *and touching* intervals are merged."""
    items = sorted(intervals, key=_bounds)
    if not items:
        return ()
    out: list[Interval] = []
    first = items[0]
    cur_start, cur_end = first.start, first.end
    for iv in items[1:]:
        if iv.start <= cur_end:
            if iv.end > cur_end:
                cur_end = iv.end
        else:
            out.append(_iv(cur_start, cur_end))
            cur_start, cur_end = iv.start, iv.end
    out.append(_iv(cur_start, cur_end))
    return tuple(out)


def intersection(a: Iterable[Interval], b: Iterable[Interval]) -> tuple[Interval, ...]:
    """Instants that are in both ``a`` and ``b``, as a merged, sorted tuple."""
    left, right = merge(a), merge(b)
    out: list[Interval] = []
    i = j = 0
    while i < len(left) and j < len(right):
        x, y = left[i], right[j]
        start = x.start if x.start > y.start else y.start
        end = x.end if x.end < y.end else y.end
        if start < end:
            out.append(_iv(start, end))
        if x.end < y.end:
            i += 1
        else:
            j += 1
    # Both inputs are merged (disjoint, non-touching), so the pieces cannot touch either.
    return tuple(out)


def difference(a: Iterable[Interval], b: Iterable[Interval]) -> tuple[Interval, ...]:
    """Instants of ``a`` that are not in ``b``, as a merged, sorted tuple."""
    left, right = merge(a), merge(b)
    out: list[Interval] = []
    j, n = 0, len(right)
    for iv in left:
        start, end = iv.start, iv.end
        while j < n and right[j].end <= start:
            j += 1
        k = j
        while k < n and right[k].start < end:
            cut = right[k]
            if cut.start > start:
                out.append(_iv(start, cut.start))
            if cut.end > start:
                start = cut.end
            if start >= end:
                break
            k += 1
        if start < end:
            out.append(_iv(start, end))
    return tuple(out)


# --------------------------------------------------------------------------------------
# Weekly schedules
# --------------------------------------------------------------------------------------


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_minutes(start_minute: int, end_minute: int) -> None:
    if not _is_int(start_minute) or not _is_int(end_minute):
        raise ValueError("start_minute and end_minute must be integers")
    if not 0 <= start_minute < MINUTES_PER_DAY:
        raise ValueError(f"start_minute must be in 0..{MINUTES_PER_DAY - 1}, got {start_minute}")
    if not 0 < end_minute <= MINUTES_PER_DAY:
        raise ValueError(f"end_minute must be in 1..{MINUTES_PER_DAY}, got {end_minute}")
    if start_minute >= end_minute:
        raise ValueError(
            f"start_minute must be before end_minute, got {start_minute}..{end_minute}"
        )


@dataclass(frozen=True, slots=True)
class WeeklyBlock:
    """A recurring block of local wall-clock time.

    ``day_of_week`` uses 0=Sunday ... 6=Saturday (NOT Python's ``date.weekday()``).
    Minutes count from local midnight; ``end_minute == 1440`` means 24:00, i.e. the block
    runs to the end of the day (local midnight of the next date).
    """

    day_of_week: int
    start_minute: int
    end_minute: int

    def __post_init__(self) -> None:
        if not _is_int(self.day_of_week) or not 0 <= self.day_of_week <= 6:
            raise ValueError(
                f"day_of_week must be an integer 0 (Sunday)..6 (Saturday), got {self.day_of_week!r}"
            )
        _check_minutes(self.start_minute, self.end_minute)


@dataclass(frozen=True, slots=True)
class DayOverride:
    """Replaces the weekly blocks for one local date.

    ``hours`` holds ``(start_minute, end_minute)`` pairs with the same meaning as in
    ``WeeklyBlock``; an empty tuple means closed all day.
    """

    day: date
    hours: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.day, date) or isinstance(self.day, datetime):
            raise ValueError(f"day must be a date, got {self.day!r}")
        hours = tuple(tuple(pair) for pair in self.hours)
        for pair in hours:
            if len(pair) != 2:
                raise ValueError(
                    f"override hours must be (start_minute, end_minute) pairs: {pair!r}"
                )
            _check_minutes(pair[0], pair[1])
        object.__setattr__(self, "hours", hours)


@cache
def zone_info(name: str) -> ZoneInfo:
    """The zone named ``name`` (cached); ValueError for an unknown name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


@dataclass(frozen=True, slots=True)
class LocalSchedule:
    """Weekly blocks plus per-date overrides, in one IANA time zone."""

    zone: str
    blocks: tuple[WeeklyBlock, ...]
    overrides: tuple[DayOverride, ...] = ()

    def __post_init__(self) -> None:
        zone_info(self.zone)  # raises ValueError for an unknown zone
        object.__setattr__(self, "blocks", tuple(self.blocks))
        object.__setattr__(self, "overrides", tuple(self.overrides))
        seen: set[date] = set()
        for override in self.overrides:
            if override.day in seen:
                raise ValueError(f"more than one override for {override.day.isoformat()}")
            seen.add(override.day)


def wall_to_utc(day: date, minute: int, tz: ZoneInfo) -> datetime:
    """The real (UTC) instant of local wall time ``day`` + ``minute`` (0..1440) in ``tz``.

    See the module docstring for the rules; the reasoning:

    * 1440 is 24:00, which ``datetime`` cannot represent, so it becomes 00:00 of the next
      date. That makes "end of today" and "start of tomorrow" the same instant, so a
      00:00-24:00 block covers the real local day exactly, with no gap or overlap.
    * ``fold=0`` is the default. For an *ambiguous* wall time (fall-back) ``fold=0`` is the
      first occurrence, which is what we want: a block is resolved once, never twice.
    * For a *non-existent* wall time (spring-forward gap) PEP 495 gives no real answer --
      ``fold=0`` silently applies the pre-transition offset, yielding an instant whose wall
      clock is *later* than requested (02:30 EST = 03:30 EDT). We detect this by converting
      to UTC and back: if the wall clock changed, the time was in a gap. The sensible mapping
      is the end of the gap, i.e. the transition instant itself (the first real instant
      after the missing wall times): a block 02:30-05:00 on the spring-forward day then
      starts when the shop actually opens at 03:00 EDT and keeps its real end at 05:00.
    """
    if minute == MINUTES_PER_DAY:
        day += _ONE_DAY
        minute = 0
    hour, minute_of_hour = divmod(minute, 60)
    local = datetime(day.year, day.month, day.day, hour, minute_of_hour, tzinfo=tz)
    instant = local.astimezone(_UTC)
    back = instant.astimezone(tz)
    if back.replace(tzinfo=None) == local.replace(tzinfo=None):  # naive compare ignores fold
        return instant
    return _gap_end(local, tz)


def _gap_end(local: datetime, tz: ZoneInfo) -> datetime:
    """The transition instant that ends the DST gap containing the wall time ``local``.

    With ``off_before`` < ``off_after`` the two offsets around the transition at ``T``:
    ``fold=0`` converts with ``off_before`` giving ``t0 = wall - off_before >= T`` and
    ``fold=1`` converts with ``off_after`` giving ``t1 = wall - off_after < T`` (because
    ``T + off_before <= wall < T + off_after`` is what "wall is in the gap" means).
    So ``T`` is the first instant in ``(t1, t0]`` whose UTC offset differs from the offset
    at ``t1``. tzdata transitions fall on whole seconds, so a binary search over seconds
    finds it exactly. Gaps happen about once a year per zone, so the cost is irrelevant.
    """
    t0 = local.replace(fold=0).astimezone(_UTC)
    t1 = local.replace(fold=1).astimezone(_UTC)
    low, high = (t0, t1) if t0 < t1 else (t1, t0)
    offset_low = low.astimezone(tz).utcoffset()
    lo_s, hi_s = 0, int((high - low) // _ONE_SECOND)  # invariant: offset(lo) same, offset(hi) not
    while hi_s - lo_s > 1:
        mid = (lo_s + hi_s) // 2
        if (low + mid * _ONE_SECOND).astimezone(tz).utcoffset() == offset_low:
            lo_s = mid
        else:
            hi_s = mid
    return low + hi_s * _ONE_SECOND


def day_of_week(day: date) -> int:
    """0=Sunday ... 6=Saturday for a date (``date.weekday()`` has 0=Monday)."""
    return (day.weekday() + 1) % 7


def expand(schedule: LocalSchedule, window: Interval) -> tuple[Interval, ...]:
    """UTC pieces of ``schedule`` for every local date that could touch ``window``.

    Returns one Interval per (block, local date) -- not merged, sorted by start (then end) --
    for local dates from the day before ``window.start``'s local date to the day after
    ``window.end``'s local date, inclusive. Pieces are *not* clipped to the window: callers
    clip (``bookable_slots`` selects by start within its own window). A date with a
    ``DayOverride`` uses the override's hours instead of the weekly blocks. Blocks that fall
    entirely inside a DST gap produce no piece.
    """
    tz = zone_info(schedule.zone)
    by_dow: list[list[tuple[int, int]]] = [[] for _ in range(7)]
    for block in schedule.blocks:
        by_dow[block.day_of_week].append((block.start_minute, block.end_minute))
    overrides = {override.day: override.hours for override in schedule.overrides}

    day = window.start.astimezone(tz).date() - _ONE_DAY
    last = window.end.astimezone(tz).date() + _ONE_DAY
    out: list[Interval] = []
    while day <= last:
        hours = overrides.get(day)
        for start_minute, end_minute in by_dow[day_of_week(day)] if hours is None else hours:
            start = wall_to_utc(day, start_minute, tz)
            end = wall_to_utc(day, end_minute, tz)
            if start < end:
                out.append(_iv(start, end))
        day += _ONE_DAY
    out.sort(key=_bounds)
    return tuple(out)


def intersect_pieces(a: Sequence[Interval], b: Sequence[Interval]) -> tuple[Interval, ...]:
    """Pairwise intersections of two piece lists, keeping the results as separate pieces.

    Each non-empty ``x & y`` (x from ``a``, y from ``b``) is its own piece and so anchors its
    own slot grid: mechanic 08:00-12:00 within workshop 09:00-17:00 gives 09:00-12:00 with
    slots from 09:00. Result sorted, duplicates removed.
    """
    if not a or not b:
        return ()
    right = sorted(b, key=_bounds)
    right_starts = [iv.start for iv in right]
    longest = max(iv.end - iv.start for iv in right)
    n = len(right)
    found: set[tuple[datetime, datetime]] = set()
    for x in a:
        # Any y overlapping x has y.start in (x.start - longest, x.end).
        k = bisect_right(right_starts, x.start - longest)
        while k < n and right_starts[k] < x.end:
            y = right[k]
            start = x.start if x.start > y.start else y.start
            end = x.end if x.end < y.end else y.end
            if start < end:
                found.add((start, end))
            k += 1
    return tuple(_iv(start, end) for start, end in sorted(found))


# --------------------------------------------------------------------------------------
# Slots
# --------------------------------------------------------------------------------------


def _require_aware(value: datetime, name: str) -> None:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")


def _check_rules(
    *, buffer: timedelta, now: datetime, min_notice: timedelta, max_advance: timedelta | None
) -> None:
    _require_aware(now, "now")
    if buffer < _ZERO:
        raise ValueError("buffer must not be negative")
    if min_notice < _ZERO:
        raise ValueError("min_notice must not be negative")
    if max_advance is not None and max_advance < _ZERO:
        raise ValueError("max_advance must not be negative")


def _free(
    pieces: Iterable[Interval],
    busy: Iterable[Interval],
    buffer: timedelta,
    time_off: Iterable[Interval],
) -> tuple[Interval, ...]:
    """merge(pieces) - merge(time_off) - merge(busy widened by buffer)."""
    blocked = [_iv(b.start - buffer, b.end + buffer) for b in busy] if buffer else list(busy)
    blocked.extend(time_off)
    return difference(pieces, blocked)


def bookable_slots(
    *,
    pieces: Sequence[Interval],
    window: Interval,
    duration: timedelta,
    step: timedelta,
    busy: Sequence[Interval] = (),
    buffer: timedelta = _ZERO,
    time_off: Sequence[Interval] = (),
    now: datetime,
    min_notice: timedelta = _ZERO,
    max_advance: timedelta | None = None,
) -> tuple[Interval, ...]:
    """Every bookable slot of length ``duration`` whose *start* lies in ``window``.

    Candidate starts are ``piece.start + k * step`` (k >= 0, real time) while before
    ``piece.end``. A candidate ``c`` is kept iff

    * ``window.start <= c < window.end``;
    * ``c >= now + min_notice`` and (``max_advance`` is None or ``c <= now + max_advance``);
    * ``[c, c + duration)`` lies inside ONE interval of free time, where free time is
      ``merge(pieces) - time_off - (busy widened by buffer)``. A slot may therefore run past
      its own piece into an adjacent piece (blocks 09-12 and 12-17 allow 11:45-12:15).

    Result: sorted, one slot per distinct start.

    Because slots are selected by start, the result for a long window equals the
    concatenation of the results for any partition of it -- *provided the pieces cover the
    window*. Precondition for callers: ``pieces`` must include every piece that starts before
    ``window.end + duration`` and ends after ``window.start``; otherwise a slot near the
    window's end that runs into the next piece is lost (or an off-grid anchor is missed).
    ``expand(schedule, window)`` satisfies this for any duration under 23 hours, because it
    already returns whole local dates from the day before to the day after the window, and a
    piece for a given date is the same whatever window it was expanded for.
    Runs in O((P + F) log F + S) for P pieces, F free intervals and S candidates.
    """
    return tuple(
        _iv(c, c + duration)
        for c in _bookable_starts(
            pieces=pieces,
            window=window,
            duration=duration,
            step=step,
            busy=busy,
            buffer=buffer,
            time_off=time_off,
            now=now,
            min_notice=min_notice,
            max_advance=max_advance,
        )
    )


def _bookable_starts(
    *,
    pieces: Sequence[Interval],
    window: Interval,
    duration: timedelta,
    step: timedelta,
    busy: Sequence[Interval] = (),
    buffer: timedelta = _ZERO,
    time_off: Sequence[Interval] = (),
    now: datetime,
    min_notice: timedelta = _ZERO,
    max_advance: timedelta | None = None,
) -> list[datetime]:
    """The sorted, distinct starts of ``bookable_slots`` (no Interval built per slot)."""
    if duration <= _ZERO:
        raise ValueError("duration must be positive")
    if step <= _ZERO:
        raise ValueError("step must be positive")
    _check_rules(buffer=buffer, now=now, min_notice=min_notice, max_advance=max_advance)

    free = _free(pieces, busy, buffer, time_off)
    if not free:
        return []
    free_starts = [iv.start for iv in free]
    free_ends = [iv.end for iv in free]
    n_free = len(free)

    lowest = window.start
    earliest = now + min_notice
    if earliest > lowest:
        lowest = earliest
    # Candidates must be < stop. "c <= now + max_advance" is "c < that + 1 µs" (datetime's
    # resolution), which lets one exclusive bound serve both rules.
    stop_all = window.end
    if max_advance is not None:
        latest = now + max_advance + _ONE_MICROSECOND
        if latest < stop_all:
            stop_all = latest

    starts: list[datetime] = []
    append = starts.append
    ordered = True
    last: datetime | None = None
    for piece in pieces:
        anchor = piece.start
        stop = piece.end if piece.end < stop_all else stop_all
        if anchor >= stop or piece.end <= lowest:
            continue
        c = anchor
        if c < lowest:
            c += -((anchor - lowest) // step) * step  # ceil((lowest - anchor) / step) steps
        if c >= stop:
            continue
        if last is not None and c <= last:
            ordered = False
        j = bisect_right(free_starts, c) - 1  # free interval starting at or before c
        while c < stop:
            if j >= 0 and c + duration <= free_ends[j]:
                append(c)
                c += step
                if j + 1 < n_free and c >= free_starts[j + 1]:
                    j = bisect_right(free_starts, c, j + 1) - 1
            else:
                # c is before the first free interval, or the slot does not fit in free
                # interval j -- then no later start in it fits either: jump to the first
                # grid point at or after the next free interval.
                nxt = j + 1
                if nxt >= n_free:
                    break
                target = free_starts[nxt]
                if c < target:
                    c += -((c - target) // step) * step
                j = bisect_right(free_starts, c, nxt) - 1
        if starts:
            last = starts[-1]

    if not ordered:
        starts = sorted(set(starts))
    return starts


def bookable_runs(
    starts: Sequence[datetime],
    *,
    duration: timedelta,
    busy: Iterable[Interval] = (),
    buffer: timedelta = _ZERO,
    lowest: datetime,
    latest: datetime,
) -> list[tuple[int, int]]:
    """The runs ``[i, j)`` of ``starts`` that stay bookable once busy time and the
    notice/advance bounds apply, where ``starts`` are the sorted starts `bookable_slots`
    gives for the same pieces and time off with no busy time, no notice and no advance.
    The result's slots are exactly `bookable_slots` with them, because each only takes
    starts away:

    * busy time only removes free time, so a slot of ``duration`` still fits iff it
      overlaps no busy interval widened by ``buffer`` (as in `_free`): the starts ``c``
      with ``c + duration > b.start - buffer`` and ``c < b.end + buffer`` go, a run;
    * notice and advance keep ``lowest <= c <= latest`` (the grid is anchored at each
      piece's start, never at now).

    O(B log S) for B busy intervals and S starts."""
    first = bisect_left(starts, lowest)
    last = bisect_right(starts, latest)
    taken = sorted(
        (bisect_right(starts, b.start - buffer - duration), bisect_left(starts, b.end + buffer))
        for b in busy
    )
    runs: list[tuple[int, int]] = []
    for lo, hi in taken:
        if lo > first:
            runs.append((first, min(lo, last)))
        first = max(first, hi)
        if first >= last:
            return runs
    if first < last:
        runs.append((first, last))
    return runs


def is_bookable(
    slot: Interval,
    *,
    pieces: Sequence[Interval],
    busy: Sequence[Interval] = (),
    buffer: timedelta = _ZERO,
    time_off: Sequence[Interval] = (),
    now: datetime,
    min_notice: timedelta = _ZERO,
    max_advance: timedelta | None = None,
) -> bool:
    """Whether ``slot`` can be booked, by the same rules as ``bookable_slots``.

    No grid alignment is required (an API caller may book any start inside free time) and
    there is no window.
    """
    _check_rules(buffer=buffer, now=now, min_notice=min_notice, max_advance=max_advance)
    if slot.start < now + min_notice:
        return False
    if max_advance is not None and slot.start > now + max_advance:
        return False
    free = _free(pieces, busy, buffer, time_off)
    j = bisect_right([iv.start for iv in free], slot.start) - 1
    return j >= 0 and slot.end <= free[j].end


def capacity_slots(
    *,
    pieces: Sequence[Interval],
    window: Interval,
    duration: timedelta,
    step: timedelta,
    busy_by_unit: Sequence[Sequence[Interval]],
    now: datetime,
    min_notice: timedelta = _ZERO,
    max_advance: timedelta | None = None,
) -> tuple[Interval, ...]:
    """``bookable_slots`` for a resource of several units (a workshop's bays): a slot is
    bookable when at least ONE unit is free for all of it. ``busy_by_unit[i]`` is what
    unit i already holds; the capacity is ``len(busy_by_unit)``.

    Counting overlaps ("fewer than N visits at once") is not enough when each booking
    keeps its unit: with 2 bays, 09:00-10:00 in bay 1 and 10:00-11:00 in bay 2 leave no
    bay free for all of 09:30-10:30 although only one visit overlaps any instant. This
    asks the question the database guard (one bay, no overlap) answers, so a listed slot
    is never refused for capacity. O(units * bookable_slots)."""
    starts: set[datetime] = set()
    for busy in busy_by_unit:
        starts.update(
            _bookable_starts(
                pieces=pieces,
                window=window,
                duration=duration,
                step=step,
                busy=busy,
                now=now,
                min_notice=min_notice,
                max_advance=max_advance,
            )
        )
    return tuple(_iv(c, c + duration) for c in sorted(starts))


def free_units(slot: Interval, busy_by_unit: Sequence[Sequence[Interval]]) -> tuple[int, ...]:
    """Indexes of the units with nothing overlapping ``slot``, lowest first."""
    return tuple(
        index for index, busy in enumerate(busy_by_unit) if not any(b.overlaps(slot) for b in busy)
    )


# --------------------------------------------------------------------------------------
# Presentation helpers
# --------------------------------------------------------------------------------------


def daily_counts(slots: Iterable[Interval], zone: str) -> dict[date, int]:
    """Number of slots per local date (of the slot's start) in ``zone``, keys ascending."""
    tz = zone_info(zone)
    counts: dict[date, int] = {}
    for slot in slots:
        day = slot.start.astimezone(tz).date()
        counts[day] = counts.get(day, 0) + 1
    return dict(sorted(counts.items()))


def minute_label(m: int) -> str:
    """``"HH:MM"`` for minutes after midnight: 90 -> ``"01:30"``, 1440 -> ``"24:00"``."""
    if not _is_int(m) or not 0 <= m <= MINUTES_PER_DAY:
        raise ValueError(f"minute must be an integer in 0..{MINUTES_PER_DAY}, got {m!r}")
    return f"{m // 60:02d}:{m % 60:02d}"
