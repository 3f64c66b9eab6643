"""Offered time, materialized: the pieces of every mechanic's source hours over the next
days, indexed by UTC hour, so who-is-free and the earliest slot read the mechanics that
work at the asked time instead of scoring every mechanic (issue 15, docs/deploy.md
"Hot paths").

What is stored (``OfferedPiece``) is exactly what ``service._Inputs.pieces`` gives the
engine -- hours per mechanic type, date overrides, workshop hours and breaks, zones and
DST -- for the range in ``OfferedRange``. Bookings and time off are not in it: they are
read live by the queries. Each row also carries the mechanic's booking rules (notice,
step, advance, buffer and ``grid_class``), and only mechanics who may be found
(approved, account active) have rows, so who-is-free reads the hour's rows without
joining profiles, users and settings, and the earliest slot takes its first candidates
from an index in order. So it goes stale only through writes to weekly blocks, date
overrides, workshop hours, a user's or workshop's zone or active flag, a profile's type
fields, approval or deletion, or the mechanic's settings; database triggers (migrations
availability 0005 and 0006) record each such write in ``OfferedDirty``. Readers treat a dirty
mechanic with the set-based code (always exact), so a missed rebuild costs speed, never
an answer. ``refresh_due`` (periodic) rebuilds the dirty mechanics and moves the range
forward once a day.

Rebuild races: a rebuild first locks the range row (one rebuild at a time), reads the
dirty rows, then the hours, and at the end deletes exactly the dirty rows it read (by
id). A write committed after that read leaves its own row, so the mechanic stays dirty.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction

from . import engine
from .engine import Interval
from .models import OfferedDirty, OfferedPiece, OfferedRange

BUCKET_SECONDS = 3600
# How far ahead pieces are kept. Searches past the range use the set-based code.
OFFERED_DAYS = 8
# Spans that reach the end of what was expanded may go on: stored as "open".
OPEN_END = 10**15
_CHUNK = 500
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def seconds(at: datetime) -> int:
    """Whole epoch seconds, rounded down."""
    delta = at - _EPOCH
    return delta.days * 86_400 + delta.seconds


def ceil_seconds(at: datetime) -> int:
    delta = at - _EPOCH
    return delta.days * 86_400 + delta.seconds + (1 if delta.microseconds else 0)


def instant(value: int) -> datetime:
    return _EPOCH + timedelta(seconds=value)


def grid_class(notice_s: int, step_s: int, phase_s: int) -> int:
    """One number for (notice, step, grid phase), ordered by notice first: pieces of one
    class whose span contains an instant all have the same first grid point there, so
    inside a class the earliest candidates come in mechanic-id order (service
    ``_class_bounds``). Steps are 5-240 minutes (a settings constraint): phase < 14,400 s."""
    return ((notice_s // 60) * 256 + step_s // 60) * 16_384 + phase_s


def grid_class_parts(value: int) -> tuple[int, int, int]:
    """(notice_s, step_s, phase_s) of a ``grid_class``."""
    rest, phase_s = divmod(value, 16_384)
    notice_m, step_m = divmod(rest, 256)
    return notice_m * 60, step_m * 60, phase_s


def _rows(mechanic_ids: Collection[int], start_s: int, end_s: int) -> Iterable[tuple]:
    """(mechanic_id, bucket, start_s, end_s, span_end_s, notice_s, step_s, advance_s,
    buffer_s, grid_class) for the mechanics' pieces that overlap [start_s, end_s)."""
    from .service import _load

    outer = Interval(instant(start_s) - timedelta(days=1), instant(end_s) + timedelta(days=1))
    context = Interval(outer.start - timedelta(days=1), outer.end + timedelta(days=1))
    first_bucket, last_bucket = start_s // BUCKET_SECONDS, (end_s - 1) // BUCKET_SECONDS
    # Only mechanics who may be found (approved, account active) have pieces; a change
    # of either marks the mechanic dirty (triggers, availability 0006).
    inputs = _load(mechanic_ids, context, now=outer.start, with_busy=False, approved_only=True)
    for mid, item in inputs.items():
        pieces = item.pieces(outer)
        if not pieces:
            continue
        spans = engine.merge(pieces)
        last_end = max(piece.end for piece in pieces)
        rules = item.rules
        notice_s, step_s = (
            int(rules.min_notice.total_seconds()),
            int(rules.slot_step.total_seconds()),
        )
        advance_s, buffer_s = (
            int(rules.max_advance.total_seconds()),
            int(rules.buffer.total_seconds()),
        )
        j = 0
        for piece in pieces:  # sorted by start, like the spans
            while spans[j].end < piece.end:
                j += 1
            a, b = seconds(piece.start), ceil_seconds(piece.end)
            if b <= start_s or a >= end_s:
                continue
            span_end = OPEN_END if spans[j].end >= last_end else ceil_seconds(spans[j].end)
            rule = (notice_s, step_s, advance_s, buffer_s, grid_class(notice_s, step_s, a % step_s))
            for bucket in range(max(a // BUCKET_SECONDS, first_bucket),
                                min((b - 1) // BUCKET_SECONDS, last_bucket) + 1):  # fmt: skip
                yield (mid, bucket, a, b, span_end, *rule)


_COLUMNS = ("mechanic_id", "bucket", "start_s", "end_s", "span_end_s", "notice_s", "step_s",
            "advance_s", "buffer_s", "grid_class")  # fmt: skip


def _insert(rows: Iterable[tuple]) -> int:
    table = connection.ops.quote_name(OfferedPiece._meta.db_table)
    columns = ", ".join(_COLUMNS)
    count = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY: the daily rebuild writes about 52 rows a mechanic (a million at
            # 20,000 mechanics); executemany took 41 s for them here, COPY 14 s. The rows
            # are read first: a generator of them queries the same connection (_load),
            # which cannot run while a COPY is open.
            rows = list(rows)
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
            return count
        sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(_COLUMNS))})"
        batch: list[tuple] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= 5000:
                cursor.executemany(sql, batch)
                count += len(batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
            count += len(batch)
    return count


def _build(mechanic_ids: list[int], start_s: int, end_s: int) -> int:
    count = 0
    for k in range(0, len(mechanic_ids), _CHUNK):
        count += _insert(_rows(mechanic_ids[k : k + _CHUNK], start_s, end_s))
    return count


@transaction.atomic
def rebuild(start: datetime, end: datetime) -> int:
    """Every mechanic's pieces for [start, end) (the range moves there). Returns rows."""
    from autodoctor.accounts.models import MechanicProfile

    start_s, end_s = seconds(start), ceil_seconds(end)
    # update_or_create locks the row: one rebuild at a time.
    OfferedRange.objects.update_or_create(pk=1, defaults={"start_s": start_s, "end_s": end_s})
    seen = list(OfferedDirty.objects.values_list("id", flat=True))
    OfferedPiece.objects.all().delete()
    mids = sorted(MechanicProfile.objects.values_list("pk", flat=True))
    # Rows stored in (bucket, start) order: an hour's pieces share a few table pages.
    rows: list[tuple] = []
    for k in range(0, len(mids), _CHUNK):
        rows.extend(_rows(mids[k : k + _CHUNK], start_s, end_s))
    rows.sort(key=lambda row: (row[1], row[2]))
    count = _insert(rows)
    _forget(seen)
    return count


@transaction.atomic
def refresh_dirty() -> int:
    """Rebuild the pieces of the mechanics marked dirty; returns how many mechanics."""
    current = OfferedRange.objects.select_for_update().filter(pk=1).first()
    if current is None:
        return 0
    seen = list(OfferedDirty.objects.values_list("id", "mechanic_id"))
    if not seen:
        return 0
    mids = sorted({mid for _, mid in seen})
    for k in range(0, len(mids), _CHUNK):
        OfferedPiece.objects.filter(mechanic_id__in=mids[k : k + _CHUNK]).delete()
    _build(mids, current.start_s, current.end_s)
    _forget([pk for pk, _ in seen])
    return len(mids)


def _forget(dirty_ids: list[int]) -> None:
    for k in range(0, len(dirty_ids), _CHUNK):
        OfferedDirty.objects.filter(id__in=dirty_ids[k : k + _CHUNK]).delete()


def refresh_due(now: datetime) -> int:
    """Periodic: keep the range at [now - 1 h, now + OFFERED_DAYS days) (moved once it has
    less than OFFERED_DAYS - 1 days ahead) and rebuild dirty mechanics."""
    current = OfferedRange.objects.filter(pk=1).first()
    now_s = seconds(now)
    if (
        current is None
        or current.start_s > now_s
        or current.end_s < now_s + (OFFERED_DAYS - 1) * 86_400
    ):
        return rebuild(now - timedelta(hours=1), now + timedelta(days=OFFERED_DAYS))
    return refresh_dirty()
