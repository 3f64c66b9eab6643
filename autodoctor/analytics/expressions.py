"""SQL expressions the metrics group and sort by, native on SQLite and PostgreSQL.

Why not Django's own `TruncWeek`, `ExtractHour(tzinfo=…)` or `F(a) - F(b)` on
datetimes: on SQLite each of those is a Python function called once per row
(`django_datetime_trunc`, `django_timestamp_diff`), which made a year of history take
seconds. Everything here is integer arithmetic on seconds since the Unix epoch
(SQLite's C `unixepoch()`, PostgreSQL's `date_part('epoch', …)`), so the database
does the work and the same expression runs on both.

Local time without a per-row zone lookup: a zone's UTC offset is constant between its
transitions, so `local_seconds` adds a CASE over the few offsets the period sees (found
here in Python, at most a handful a year). Exact across DST changes and for half-hour
zones (St. John's), unlike grouping by UTC hour and converting afterwards.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Case, ExpressionWrapper, Func, IntegerField, Q, Value, When
from django.db.models.expressions import Combinable

DAY_SECONDS = 86_400
WEEK_SECONDS = 7 * DAY_SECONDS
# 1970-01-01 was a Thursday: the Monday before it is 3 days earlier.
_MONDAY_SHIFT = 3 * DAY_SECONDS
MONDAY_EPOCH = datetime(1969, 12, 29, tzinfo=UTC)


class EpochSeconds(Func):
    """Whole seconds since 1970-01-01 UTC of a datetime column (floor)."""

    output_field = IntegerField()
    # date_part() is double precision; EXTRACT() returns numeric since PostgreSQL 14, whose
    # arithmetic cost 15 ms per 77k rows (a month's bookings). The floor is the same: a
    # double near 1.7e9 s resolves 2.4e-7 s, finer than the microseconds stored.
    template = "CAST(FLOOR(date_part('epoch', %(expressions)s)) AS bigint)"
    arity = 1

    def as_sqlite(self, compiler, connection, **extra):
        # Django stores SQLite datetimes as UTC text. unixepoch() (SQLite ≥ 3.38) is about
        # three times faster than strftime('%s'); both drop the fraction of a second.
        if connection.Database.sqlite_version_info >= (3, 38):
            template = "unixepoch(%(expressions)s)"
        else:
            template = "CAST(strftime('%%%%s', %(expressions)s) AS INTEGER)"
        return self.as_sql(compiler, connection, template=template)


def _int(expression: Combinable) -> ExpressionWrapper:
    return ExpressionWrapper(expression, output_field=IntegerField())


def seconds_between(later: str, earlier: str) -> ExpressionWrapper:
    """`later − earlier` in whole seconds (each side floored to the second)."""
    return _int(EpochSeconds(later) - EpochSeconds(earlier))


def utc_week(field: str) -> ExpressionWrapper:
    """The UTC week (Monday 00:00 UTC) a datetime falls in, as a week number counted from
    MONDAY_EPOCH; `week_start` turns it back into a datetime."""
    return _int((EpochSeconds(field) + Value(_MONDAY_SHIFT)) / Value(WEEK_SECONDS))


def week_start(number: int) -> datetime:
    return MONDAY_EPOCH + timedelta(weeks=number)


def offsets(zone: str, start: datetime, end: datetime) -> list[tuple[datetime | None, int]]:
    """The UTC offsets (seconds) of `zone` over `[start, end)`, as (until, offset) pairs
    in order; the last `until` is None. Transitions are found day by day, then to the
    second by bisection (zone rules change at most a few times a year)."""
    tz = ZoneInfo(zone)

    def offset(at: datetime) -> int:
        return int(at.astimezone(tz).utcoffset().total_seconds())  # type: ignore[union-attr]

    out: list[tuple[datetime | None, int]] = []
    current, cursor = offset(start), start
    while cursor < end:
        step = min(cursor + timedelta(days=1), end)
        if offset(step) != current:
            low, high = cursor, step  # offset(low) == current != offset(high)
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                low, high = (middle, high) if offset(middle) == current else (low, middle)
            out.append((high, current))
            current, cursor = offset(high), high
        else:
            cursor = step
    out.append((None, current))
    return out


def local_seconds(field: str, zone: str, start: datetime, end: datetime) -> ExpressionWrapper:
    """Seconds since the epoch on the wall clock of `zone` for datetimes in
    `[start, end)` (the metric's period)."""
    spans = offsets(zone, start, end)
    if len(spans) == 1:
        shift: Combinable = Value(spans[0][1])
    else:
        whens = [When(Q(**{f"{field}__lt": until}), then=Value(o)) for until, o in spans[:-1]]
        shift = Case(*whens, default=Value(spans[-1][1]), output_field=IntegerField())
    return _int(EpochSeconds(field) + shift)


def local_hour_of_week(field: str, zone: str, start: datetime, end: datetime) -> ExpressionWrapper:
    """The hour of the week of `field` on `zone`'s wall clock, 0 = Monday 00:00–01:00 …
    167 = Sunday 23:00–24:00: weekday = h // 24, hour = h % 24. One expression (the local
    time computed once a row, where a weekday and an hour column computed it twice)."""
    local = local_seconds(field, zone, start, end)
    return _int((local + Value(_MONDAY_SHIFT)) / Value(3600) % Value(168))
