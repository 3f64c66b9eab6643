"""Slots as the API writes them: each slot in UTC and in a display zone, as ISO 8601 text.

A month of one mechanic's slots is hundreds of items, and formatting four timestamps
per item through ``datetime.isoformat`` / ``astimezone`` (and the JSON encoder's
``default``) cost more than finding the slots. Here the text is put together from
cached pieces instead: the date of a day, the time of a second of the day, the suffix
of a UTC offset. The zone's offset is looked up once per UTC hour the slots touch;
an hour whose two ends disagree (a DST change inside it) is done instant by instant
through ``astimezone``. The output is character for character what
``DjangoJSONEncoder`` (UTC fields) and ``isoformat`` (local fields) write, which
``tests/availability/test_wire.py`` checks across DST changes in many zones.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from django.core.serializers.json import DjangoJSONEncoder

from autodoctor.availability.engine import Interval

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY = 86_400
_HOUR = 3_600


@lru_cache(maxsize=4096)
def _date_text(day: int) -> str:
    """``YYYY-MM-DDT`` of the day `day` days after 1970-01-01."""
    date = (_EPOCH + timedelta(days=day)).date()
    return f"{date.year:04d}-{date.month:02d}-{date.day:02d}T"


@lru_cache(maxsize=_DAY)
def _clock_text(second: int) -> str:
    hours, rest = divmod(second, _HOUR)
    return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


@lru_cache(maxsize=256)
def _offset_text(offset_seconds: int) -> str:
    """What ``isoformat`` writes after the seconds for this UTC offset (``-05:00``)."""
    zone = timezone(timedelta(seconds=offset_seconds))
    return datetime(2000, 1, 1, tzinfo=zone).isoformat()[19:]


def _utc_text_slow(instant: datetime) -> str:
    return DjangoJSONEncoder().default(instant)


class _Formatter:
    """Formats instants in UTC and in one zone, remembering the zone's offset per UTC
    hour (None for an hour in which the offset changes)."""

    def __init__(self, zone: str) -> None:
        self.zone = ZoneInfo(zone)
        self.offsets: dict[int, int | None] = {}
        self.seen: dict[datetime, tuple[str, str]] = {}

    def _offset(self, hour: int) -> int | None:
        if hour not in self.offsets:
            first = _EPOCH + timedelta(seconds=hour * _HOUR)
            last = first + timedelta(seconds=_HOUR - 1)
            at_first = self.zone.utcoffset(first.astimezone(self.zone))
            at_last = self.zone.utcoffset(last.astimezone(self.zone))
            self.offsets[hour] = (
                int(at_first.total_seconds()) if at_first == at_last else None  # type: ignore[union-attr]
            )
        return self.offsets[hour]

    def texts(self, instant: datetime) -> tuple[str, str]:
        """(UTC text as the API's JSON encoder writes it, local ISO text), remembered
        per instant (a slot's end is usually a later slot's start)."""
        known = self.seen.get(instant)
        if known is None:
            known = self.seen[instant] = self._texts(instant)
        return known

    def _texts(self, instant: datetime) -> tuple[str, str]:
        if instant.tzinfo is not UTC or instant.microsecond:
            return _utc_text_slow(instant), instant.astimezone(self.zone).isoformat()
        seconds = int(instant.timestamp())
        day, second = divmod(seconds, _DAY)
        utc = f"{_date_text(day)}{_clock_text(second)}Z"
        offset = self._offset(seconds // _HOUR)
        if offset is None:
            return utc, instant.astimezone(self.zone).isoformat()
        local_day, local_second = divmod(seconds + offset, _DAY)
        return utc, f"{_date_text(local_day)}{_clock_text(local_second)}{_offset_text(offset)}"


def slot_items(zone: str, slots: Iterable[Interval]) -> list[str]:
    """Each slot's object in ``SlotsOut.slots`` as compact JSON text, in order."""
    fmt = _Formatter(zone)
    zone_json = json.dumps(zone)
    items = []
    for slot in slots:
        start, start_local = fmt.texts(slot.start)
        end, end_local = fmt.texts(slot.end)
        items.append(
            f'{{"start":"{start}","end":"{end}","start_local":"{start_local}",'
            f'"end_local":"{end_local}","zone":{zone_json}}}'
        )
    return items


def slots_body(mechanic_id: int, zone: str, minutes: int, items: Iterable[str]) -> str:
    """The body of ``SlotsOut`` around slot texts from `slot_items`."""
    return (
        f'{{"mechanic_id":{int(mechanic_id)},"time_zone":{json.dumps(zone)},'
        f'"duration_minutes":{int(minutes)},"slots":[{",".join(items)}]}}'
    )


def slots_json(mechanic_id: int, zone: str, minutes: int, slots: Iterable[Interval]) -> str:
    """The body of ``SlotsOut`` as compact JSON text."""
    return slots_body(mechanic_id, zone, minutes, slot_items(zone, slots))
