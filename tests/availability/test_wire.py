"""The slot list's hand-written JSON (availability.wire) is character for character what
the API's encoder and ``isoformat`` write, including in hours where the zone's offset
changes — also in zones whose changes fall on the half or quarter hour in UTC."""

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.serializers.json import DjangoJSONEncoder

from autodoctor.availability.api import SlotsOut
from autodoctor.availability.engine import Interval
from autodoctor.availability.wire import slots_json

ZONES = [
    "America/Toronto",
    "America/St_Johns",  # changes at 02:00 local = hh:30 UTC
    "Australia/Lord_Howe",  # a 30-minute change
    "Pacific/Chatham",  # +12:45 / +13:45
    "Asia/Kathmandu",  # +05:45, no change
    "Europe/London",  # +00:00 half the year
    "Africa/Casablanca",  # leaves and re-enters summer time around Ramadan
    "America/Sao_Paulo",
    "UTC",
]


def reference(mechanic_id: int, zone: str, minutes: int, slots: list[Interval]) -> dict:
    """What the route wrote before: the encoder for UTC, isoformat for the display zone."""
    local = ZoneInfo(zone)
    encode = DjangoJSONEncoder().default
    return {
        "mechanic_id": mechanic_id,
        "time_zone": zone,
        "duration_minutes": minutes,
        "slots": [
            {
                "start": encode(s.start),
                "end": encode(s.end),
                "start_local": s.start.astimezone(local).isoformat(),
                "end_local": s.end.astimezone(local).isoformat(),
                "zone": zone,
            }
            for s in slots
        ],
    }


def transitions(zone: str, year: int) -> list[datetime]:
    """UTC instants in `year` where the zone's offset changes (to the minute)."""
    local = ZoneInfo(zone)
    found = []
    hour = datetime(year, 1, 1, tzinfo=UTC)
    before = hour.astimezone(local).utcoffset()
    while hour.year == year:
        after = (hour + timedelta(hours=1)).astimezone(local).utcoffset()
        if after != before:
            minute = hour
            while minute.astimezone(local).utcoffset() == before:
                minute += timedelta(minutes=1)
            found.append(minute)
        hour, before = hour + timedelta(hours=1), after
    return found


@pytest.mark.parametrize("zone", ZONES)
def test_slot_text_equals_the_encoder_around_every_offset_change(zone):
    changes = transitions(zone, 2026)
    assert zone in ("Asia/Kathmandu", "UTC", "America/Sao_Paulo") or changes, zone
    slots = []
    for change in changes or [datetime(2026, 6, 1, tzinfo=UTC)]:
        # every 5 minutes from 3 hours before to 3 hours after, 30 and 45 minute slots
        start = change - timedelta(hours=3)
        while start < change + timedelta(hours=3):
            slots.append(Interval(start, start + timedelta(minutes=30)))
            slots.append(Interval(start, start + timedelta(minutes=45)))
            start += timedelta(minutes=5)
    text = slots_json(7, zone, 30, slots)
    assert json.loads(text) == reference(7, zone, 30, slots)
    SlotsOut.model_validate_json(text)


def test_odd_instants_take_the_exact_path():
    # seconds and microseconds are written as the encoder writes them (milliseconds)
    start = datetime(2026, 3, 8, 6, 59, 59, 123456, tzinfo=UTC)
    slots = [
        Interval(start, start + timedelta(seconds=61)),
        Interval(start, start + timedelta(hours=2)),
    ]
    zone = "America/Toronto"
    assert json.loads(slots_json(1, zone, 1, slots)) == reference(1, zone, 1, slots)
    assert json.loads(slots_json(1, zone, 1, slots))["slots"][0]["start"] == (
        "2026-03-08T06:59:59.123Z"
    )


def test_an_empty_list_and_the_zone_name_are_valid_json():
    assert json.loads(slots_json(3, "America/Argentina/Buenos_Aires", 15, [])) == {
        "mechanic_id": 3,
        "time_zone": "America/Argentina/Buenos_Aires",
        "duration_minutes": 15,
        "slots": [],
    }
