"""The dashboards' tables as plain rows, for the CSV downloads (`?format=csv&table=…`).

Each table is the one the page shows beside its chart: the same numbers, a header row
first. A table a scope does not have (no mechanic table on a mechanic's own page, no
start-now or visit figures there) is simply absent, so asking for it is a 404.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

Rows = list[list[object]]


def _heat(grid: list[list[int]]) -> Rows:
    return [["weekday", *range(24)]] + [[WEEKDAYS[d], *row] for d, row in enumerate(grid)]


def _utilization(board: dict) -> Rows:
    return [["mechanic", "booked_minutes", "offered_minutes", "utilization"]] + [
        [m["name"], m["booked_minutes"], m["available_minutes"], m["ratio"]]
        for m in board["utilization"]["mechanics"]
    ]


def _bays(board: dict) -> Rows:
    return [
        ["workshop", "bays", "open_minutes", "booked_minutes", "bay_minutes", "utilization"]
    ] + [
        [w["name"], w["bays"], w["open_minutes"], w["booked_minutes"], w["bay_minutes"], w["ratio"]]
        for w in board["bays"]["workshops"]
    ]


TABLES: dict[str, tuple[str, Callable[[dict], Rows]]] = {
    # name: (the board key it needs, rows)
    "utilization": ("utilization", _utilization),
    "bays": ("bays", _bays),
    "visits": (
        "visits",
        lambda b: (
            [["status", "visits"]] + [[s["status"], s["count"]] for s in b["visits"]["by_status"]]
        ),
    ),
    "bookings-by-week": (
        "booking_mix",
        lambda b: (
            [["week_of_utc", "advance", "start_now"]]
            + [
                [w["week"].date().isoformat(), w["advance"], w["immediate"]]
                for w in b["booking_mix"]["by_week"]
            ]
        ),
    ),
    "bookings-by-plan": (
        "booking_mix",
        lambda b: (
            [["plan", "advance", "start_now"]]
            + [[p["plan__name"], p["advance"], p["immediate"]] for p in b["booking_mix"]["by_plan"]]
        ),
    ),
    "lead-time": (
        "lead_time",
        lambda b: (
            [["lead_time", "bookings"]]
            + [[h["label"], h["count"]] for h in b["lead_time"]["histogram"]]
        ),
    ),
    "peak-sessions": ("peak_times", lambda b: _heat(b["peak_times"]["sessions"])),
    "peak-bookings": ("peak_times", lambda b: _heat(b["peak_times"]["bookings"])),
    "revenue-by-week": (
        "revenue",
        lambda b: (
            [["week_of_utc", "gross_cents", "payee_cents", "platform_cents", "refunded_cents"]]
            + [
                [w["week"].date().isoformat(), w["gross"], w["payee"], w["platform"], w["refunded"]]
                for w in b["revenue"]["by_week"]
            ]
        ),
    ),
}


def table_names(board: dict, *, with_mechanics: bool) -> list[str]:
    """The tables this board can give (the mechanic table only where the page shows it)."""
    return [
        name
        for name, (key, _rows) in TABLES.items()
        if board.get(key) is not None and (with_mechanics or name != "utilization")
    ]


def _cell(value: object) -> object:
    """None → empty; text a spreadsheet would run as a formula (a mechanic or workshop
    name starting with = + - @) is quoted with a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def as_csv(board: dict, name: str) -> str:
    _key, rows = TABLES[name]
    out = io.StringIO()
    csv.writer(out).writerows([_cell(cell) for cell in row] for row in rows(board))
    return out.getvalue()
