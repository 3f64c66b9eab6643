"""Reads the workshop pages need beyond selectors.py: a workshop's month of visit times,
its opening hours in one line, My visits split into upcoming and past, the mechanics a
visit can be given to, and the bay board.

Free visit time is the availability service's answer (visit_slots, invariant 2); this
module only arranges it for display in the workshop's zone.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import QuerySet

from autodoctor.accounts.models import MechanicProfile, User, Workshop
from autodoctor.availability import service as availability
from autodoctor.availability.engine import minute_label
from autodoctor.availability.models import DayOfWeek, WorkshopHours
from autodoctor.booking.page_selectors import MonthOfSlots, month_bounds, month_of_starts

from .models import HOLDING_STATUSES, Visit, VisitEvent
from .selectors import board_visits, visits_for_customer

# Sunday-first like the calendars; labels for the one-line hours summary.
SHORT_DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]


def workshop_zone(workshop: Workshop) -> ZoneInfo:
    return ZoneInfo(workshop.time_zone)


def visit_month(
    workshop: Workshop,
    month: date,
    duration: timedelta,
    *,
    now: datetime,
    ignore: tuple[int, ...] = (),
) -> MonthOfSlots:
    """The month grid of a workshop's visit times of `duration`, counted per day of the
    workshop's own zone (one visit_slots call)."""
    zone = workshop_zone(workshop)
    start, end = month_bounds(month, zone)
    slots = availability.visit_slots(workshop, start, end, duration, now=now, ignore=ignore)
    return month_of_starts((s.start for s in slots), month=month, zone=zone, now=now)


def hours_summary(hours: list[WorkshopHours]) -> str:
    """Opening hours in one line, days with the same hours run together:
    "Mon–Fri 08:00–17:00 · Sat 09:00–13:00". `hours`: the workshop's rows (prefetched)."""
    by_day = {
        h.day_of_week: f"{minute_label(h.open_minute)}–{minute_label(h.close_minute)}"
        for h in hours
        if h.is_open
    }
    if not by_day:
        return "No opening hours set"
    # Monday first in the summary, Sunday last (how shops write their hours).
    order = [*range(DayOfWeek.MONDAY, DayOfWeek.SATURDAY + 1), DayOfWeek.SUNDAY]
    runs: list[list[int]] = []
    for day in order:
        if day not in by_day:
            continue
        last = runs[-1] if runs else None
        if (
            last
            and by_day[last[-1]] == by_day[day]
            and order.index(day) == order.index(last[-1]) + 1
        ):
            last.append(day)
        else:
            runs.append([day])
    parts = []
    for run in runs:
        days = SHORT_DAYS[run[0]] + (f"–{SHORT_DAYS[run[-1]]}" if len(run) > 1 else "")
        parts.append(f"{days} {by_day[run[0]]}")
    return " · ".join(parts)


def my_visits(user: User, *, now: datetime) -> tuple[list[Visit], list[Visit]]:
    """(upcoming, past) visits of a customer: upcoming = still holding time and not over,
    soonest first; past = the rest, latest first."""
    visits = list(visits_for_customer(user))
    upcoming = [v for v in visits if v.status in HOLDING_STATUSES and v.ends_at > now]
    past = [v for v in visits if v not in upcoming]
    upcoming.sort(key=lambda v: (v.starts_at, v.pk))
    return upcoming, past


def workshop_mechanics(workshop_id: int) -> QuerySet[MechanicProfile]:
    """The workshop's own approved mechanics (whom the workshop may assign, plan §5.4)."""
    return (
        MechanicProfile.objects.approved()
        .filter(workshop_id=workshop_id)
        .select_related("user")
        .order_by("user__full_name", "pk")
    )


def visit_history(visit: Visit) -> QuerySet[VisitEvent]:
    return visit.events.select_related("actor")


# --------------------------------------------------------------------------- bay board


@dataclass
class BoardColumn:
    label: str
    start: datetime
    end: datetime


@dataclass
class BoardRow:
    bay: int
    cells: list[list[Visit]] = field(default_factory=list)


@dataclass
class Board:
    view: str  # "day" or "week"
    anchor: date
    columns: list[BoardColumn]
    rows: list[BoardRow]
    prev_anchor: date
    next_anchor: date
    count: int


def _opening_span(hours: list[WorkshopHours], weekday: int | None) -> tuple[int, int]:
    """(first hour, last hour) the day board shows: that day's hours, else the widest
    of the week, else 08–18."""
    open_rows = [h for h in hours if h.is_open]
    chosen = [h for h in open_rows if h.day_of_week == weekday] or open_rows
    if not chosen:
        return 8, 18
    first = min(h.open_minute for h in chosen) // 60
    last = -(-max(h.close_minute for h in chosen) // 60)
    return first, max(last, first + 1)


def board(workshop: Workshop, *, view: str, anchor: date) -> Board:
    """Bays (rows) by hours of one day or by the days of a Sunday-first week (columns) in
    the workshop's zone; each cell lists the visits overlapping it. Two queries."""
    zone = workshop_zone(workshop)
    hours = list(workshop.hours.all())

    def at(day: date, hour: int = 0) -> datetime:
        """The local wall-clock hour of `day` (24 = next midnight), in UTC."""
        day, hour = (day + timedelta(days=1), 0) if hour >= 24 else (day, hour)
        return datetime.combine(day, time(hour), tzinfo=zone).astimezone(ZoneInfo("UTC"))

    if view == "week":
        sunday = anchor - timedelta(days=(anchor.weekday() + 1) % 7)
        days = [sunday + timedelta(days=i) for i in range(7)]
        columns = [BoardColumn(f"{d:%a} {d.day}", at(d), at(d + timedelta(days=1))) for d in days]
        step = timedelta(days=7)
    else:
        first, last = _opening_span(hours, (anchor.weekday() + 1) % 7)
        columns = [
            BoardColumn(f"{h:02d}:00", at(anchor, h), at(anchor, h + 1)) for h in range(first, last)
        ]
        step = timedelta(days=1)
    visits = list(board_visits(workshop.pk, columns[0].start, columns[-1].end))
    rows = [
        BoardRow(
            bay=bay,
            cells=[
                [v for v in visits if v.bay == bay and v.starts_at < c.end and c.start < v.ends_at]
                for c in columns
            ],
        )
        for bay in range(1, workshop.max_concurrent_appointments + 1)
    ]
    return Board(
        view=view,
        anchor=anchor,
        columns=columns,
        rows=rows,
        prev_anchor=anchor - step,
        next_anchor=anchor + step,
        count=len(visits),
    )
