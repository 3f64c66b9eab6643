"""Reads the booking pages need beyond selectors.py: month calendars of free slots, the
wizard's mechanic list, My sessions, a mechanic's unified calendar.

Every question about free time goes to the availability service (invariant 2); this
module only arranges its answers for display in the viewer's zone.
"""

import calendar
from collections.abc import Collection, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from autodoctor.accounts.models import MechanicProfile, User
from autodoctor.availability import service as availability
from autodoctor.availability.engine import Interval
from autodoctor.availability.models import TimeOff
from autodoctor.errors import NotFound

from .matching import MatchCriteria, mechanics_ranked
from .models import (
    ACTIVE_RESERVATION_STATUSES,
    Reservation,
    ReservationStatus,
    Session,
    SessionEvent,
    SessionStatus,
)
from .selectors import active_reservations, sessions_for_user, upcoming_sessions, with_holds

# How many matched mechanics the wizard's "any mechanic" calendar pools free times from.
CALENDAR_CANDIDATES = 12
MECHANIC_CHOICES = 6
FIRST_WEEKDAY = calendar.SUNDAY  # North American calendars start on Sunday


# --------------------------------------------------------------------------- local time


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of a local date, in UTC."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(ZoneInfo("UTC"))


def local_today(zone: ZoneInfo, *, now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(zone).date()


# --------------------------------------------------------------------------- slot pickers


@dataclass(frozen=True)
class CalendarDay:
    day: date
    in_month: bool
    count: int = 0
    past: bool = False


@dataclass(frozen=True)
class MonthOfSlots:
    """A month grid (Sunday-first weeks) with the free slot starts per local date."""

    month: date  # first of the month
    days: list[CalendarDay]
    zone: ZoneInfo
    prev_month: date | None
    next_month: date
    starts_by_day: dict[date, list[datetime]] = field(default_factory=dict)

    @property
    def first_day_with_slots(self) -> date | None:
        return next((d.day for d in self.days if d.in_month and d.count), None)

    def slots_on(self, day: date) -> list[datetime]:
        """Free slot starts (UTC) on one local date of the grid."""
        return self.starts_by_day.get(day, [])


def month_of_slots(
    mechanic_ids: Iterable[int],
    *,
    month: date,
    duration: timedelta,
    zone: ZoneInfo,
    now: datetime | None = None,
    ignore_busy: Collection[Hashable] = (),
) -> MonthOfSlots:
    """Free slots per local day of `month` in `zone`, pooled over the mechanics (a time
    counts once however many of them are free then). One availability call per mechanic."""
    now = now or timezone.now()
    first, last = month_bounds(month, zone)
    starts = _pooled_starts(mechanic_ids, first, last, duration, now=now, ignore_busy=ignore_busy)
    return month_of_starts(starts, month=month, zone=zone, now=now)


def month_bounds(month: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The instants the month grid of `month` spans (whole Sunday-first weeks) in `zone`."""
    weeks = calendar.Calendar(FIRST_WEEKDAY).monthdatescalendar(month.year, month.month)
    return local_midnight(weeks[0][0], zone), local_midnight(
        weeks[-1][-1] + timedelta(days=1), zone
    )


def month_of_starts(
    starts: Iterable[datetime], *, month: date, zone: ZoneInfo, now: datetime
) -> MonthOfSlots:
    """The month grid of `month` with `starts` (free times, UTC) counted per local day."""
    month = month.replace(day=1)
    weeks = calendar.Calendar(FIRST_WEEKDAY).monthdatescalendar(month.year, month.month)
    by_day: dict[date, list[datetime]] = {}
    for start in starts:
        by_day.setdefault(start.astimezone(zone).date(), []).append(start)
    today = local_today(zone, now=now)
    days = [
        CalendarDay(
            day=d, in_month=d.month == month.month, count=len(by_day.get(d, ())), past=d < today
        )
        for week in weeks
        for d in week
    ]
    prev_month = (month - timedelta(days=1)).replace(day=1)
    return MonthOfSlots(
        month=month,
        days=days,
        zone=zone,
        prev_month=prev_month if prev_month >= today.replace(day=1) else None,
        next_month=(month + timedelta(days=32)).replace(day=1),
        starts_by_day=by_day,
    )


def _pooled_starts(
    mechanic_ids: Iterable[int],
    start: datetime,
    end: datetime,
    duration: timedelta,
    *,
    now: datetime,
    ignore_busy: Collection[Hashable] = (),
) -> list[datetime]:
    by_mechanic = availability.available_slots_by_mechanic(
        list(mechanic_ids), start, end, duration, now=now, ignore_busy=ignore_busy
    )
    return sorted({slot.start for slots in by_mechanic.values() for slot in slots})


@dataclass(frozen=True)
class SlotPeriod:
    name: str  # "Morning"
    hours: str  # "06:00–12:00"
    starts: list[datetime]

    @property
    def label(self) -> str:
        """The part of the day in the viewer's language (``name`` stays the English key)."""
        return str(PERIOD_LABELS.get(self.name, self.name))


# Local hours each part of the day begins at (the slot wall groups by them).
DAY_PERIODS = (("Night", 0), ("Morning", 6), ("Afternoon", 12), ("Evening", 17))
PERIOD_LABELS = {
    "Night": gettext_lazy("Night"),
    "Morning": gettext_lazy("Morning"),
    "Afternoon": gettext_lazy("Afternoon"),
    "Evening": gettext_lazy("Evening"),
}


def slot_periods(starts: Iterable[datetime], zone: ZoneInfo) -> list[SlotPeriod]:
    """The day's free starts grouped into night / morning / afternoon / evening (local
    time in `zone`); parts with no free time are left out."""
    bounds = [*(hour for _, hour in DAY_PERIODS), 24]
    groups: list[list[datetime]] = [[] for _ in DAY_PERIODS]
    for start in starts:
        hour = start.astimezone(zone).hour
        index = max(i for i, (_, first) in enumerate(DAY_PERIODS) if hour >= first)
        groups[index].append(start)
    return [
        SlotPeriod(name, f"{bounds[i]:02d}:00–{bounds[i + 1]:02d}:00", groups[i])
        for i, (name, _) in enumerate(DAY_PERIODS)
        if groups[i]
    ]


def neighbour_days(grid: MonthOfSlots, day: date) -> tuple[date | None, date | None]:
    """The nearest earlier and later local dates of the grid's month that have free
    times (the slot wall's day arrows)."""
    open_days = [d.day for d in grid.days if d.in_month and d.count]
    before = [d for d in open_days if d < day]
    after = [d for d in open_days if d > day]
    return (before[-1] if before else None), (after[0] if after else None)


# --------------------------------------------------------------------------- wizard


def calendar_candidates(criteria: MatchCriteria, *, now: datetime | None = None) -> list[int]:
    """The mechanics whose free times the wizard's month calendar shows: the best
    matches for this customer, before any time is chosen."""
    plain = MatchCriteria(**{**criteria.__dict__, "scheduled_for": None})
    return [m.mechanic_id for m in mechanics_ranked(plain, limit=CALENDAR_CANDIDATES, now=now)]


@dataclass(frozen=True)
class MechanicChoice:
    mechanic: MechanicProfile
    score: int
    reasons: list[str]
    next_free: datetime | None = None


def mechanic_choices(
    criteria: MatchCriteria, *, limit: int = MECHANIC_CHOICES, now: datetime | None = None
) -> list[MechanicChoice]:
    """The matched mechanics (free at the chosen time, if any), best first, each with
    the reasons for its score and its next free slot."""
    now = now or timezone.now()
    matches = mechanics_ranked(criteria, limit=limit, now=now)
    profiles = MechanicProfile.objects.select_related("user").in_bulk(
        [m.mechanic_id for m in matches]
    )
    duration = timedelta(minutes=criteria.duration_minutes)
    choices = []
    for match in matches:
        found = availability.earliest_slot(duration, [match.mechanic_id], now=now)
        choices.append(
            MechanicChoice(
                mechanic=profiles[match.mechanic_id],
                score=match.score,
                reasons=match.reasons,
                next_free=found[1].start if found else None,
            )
        )
    return choices


def earliest_with_anyone(
    minutes: int, *, after: datetime | None = None, now: datetime | None = None
) -> tuple[MechanicProfile, datetime] | None:
    """The earliest free slot with any mechanic (at or after `after`)."""
    found = availability.earliest_slot(timedelta(minutes=minutes), after=after, now=now)
    if found is None:
        return None
    mechanic_id, slot = found
    return MechanicProfile.objects.select_related("user").get(pk=mechanic_id), slot.start


# --------------------------------------------------------------------------- sessions


def my_sessions(user: User, *, now: datetime | None = None) -> tuple[list[Session], list[Session]]:
    """(upcoming, past) sessions of the user; each carries `.holds` (open checkout holds)."""
    now = now or timezone.now()
    upcoming = list(with_holds(upcoming_sessions(user, now=now)))
    past = list(
        with_holds(sessions_for_user(user).exclude(pk__in=[s.pk for s in upcoming])).order_by(
            "-scheduled_for", "-created_at"
        )[:50]
    )
    return upcoming, past


def hold_for_customer(reservation_id: int, customer: User) -> Reservation:
    reservation = (
        Reservation.objects.select_related("session__plan", "mechanic__user")
        .filter(pk=reservation_id, session__customer=customer)
        .first()
    )
    if reservation is None:
        raise NotFound(_("No such hold."))
    return reservation


def session_history(session: Session) -> QuerySet[SessionEvent]:
    return session.events.select_related("actor").order_by("created_at", "pk")


def session_reservation(session: Session) -> Reservation | None:
    """The reservation pinning the session's time (active first, then the latest)."""
    return (
        session.reservations.filter(status__in=ACTIVE_RESERVATION_STATUSES).first()
        or session.reservations.order_by("-reserved_at").first()
    )


def add_to_calendar(session: Session) -> dict[str, str]:
    """Add-to-calendar links for a booked session: our .ics file (the same entry the
    emails carry), and Google / Outlook web links that open a prefilled event. Each
    entry links to the session room."""
    from urllib.parse import urlencode

    from autodoctor.notifications.links import absolute

    assert session.scheduled_for is not None
    start = session.scheduled_for.astimezone(ZoneInfo("UTC"))
    end = start + timedelta(minutes=session.duration_minutes)
    room = absolute(reverse("booking:room", args=[session.pk]))
    kind = str(session.get_type_display()).lower()
    if session.mechanic:
        title = _("Auto Doctor %(kind)s session with %(mechanic)s") % {
            "kind": kind,
            "mechanic": session.mechanic,
        }
    else:
        title = _("Auto Doctor %(kind)s session") % {"kind": kind}
    details = _("%(plan)s · %(minutes)s minutes. Join: %(room)s") % {
        "plan": session.plan.title,
        "minutes": session.duration_minutes,
        "room": room,
    }
    google = urlencode(
        {
            "action": "TEMPLATE",
            "text": title,
            "dates": f"{start:%Y%m%dT%H%M%SZ}/{end:%Y%m%dT%H%M%SZ}",
            "details": details,
            "location": room,
        }
    )
    outlook = urlencode(
        {
            "path": "/calendar/action/compose",
            "rru": "addevent",
            "subject": title,
            "startdt": start.isoformat().replace("+00:00", "Z"),
            "enddt": end.isoformat().replace("+00:00", "Z"),
            "body": details,
            "location": room,
        }
    )
    return {
        "ics": reverse("api:session_calendar", args=[session.pk]),
        "google": f"https://calendar.google.com/calendar/render?{google}",
        "outlook": f"https://outlook.live.com/calendar/0/deeplink/compose?{outlook}",
        "room": room,
    }


# --------------------------------------------------------------------------- mechanic calendar


@dataclass
class CalendarEntry:
    kind: str  # "session" | "hold" | "visit" | "available" | "time_off"
    start: datetime
    end: datetime
    title: str
    session: Session | None = None
    status: str = ""


@dataclass(frozen=True)
class GridBlock:
    """An entry placed on one day of the hour grid: minutes after local midnight
    (wall clock in the viewer's zone), clamped to the day."""

    entry: CalendarEntry
    top: int
    bottom: int

    @property
    def minutes(self) -> int:
        return max(self.bottom - self.top, 15)


def _wall_minute(moment: datetime, zone: ZoneInfo) -> int:
    local = moment.astimezone(zone)
    return local.hour * 60 + local.minute


@dataclass
class CalendarColumn:
    day: date
    in_range: bool
    entries: list[CalendarEntry] = field(default_factory=list)
    available_minutes: int = 0
    zone: ZoneInfo | None = None

    def blocks(self) -> list[GridBlock]:
        """The day's entries on the hour grid (background kinds first)."""
        zone = self.zone or ZoneInfo("UTC")
        order = {"available": 0, "time_off": 1, "hold": 2, "session": 3}
        placed = []
        for e in sorted(self.entries, key=lambda e: (order.get(e.kind, 9), e.start)):
            starts_before = e.start.astimezone(zone).date() < self.day
            ends_after = e.end.astimezone(zone).date() > self.day
            top = 0 if starts_before else _wall_minute(e.start, zone)
            bottom = 24 * 60 if ends_after else _wall_minute(e.end, zone)
            if bottom > top:
                placed.append(GridBlock(e, top, bottom))
        return placed

    @property
    def session_count(self) -> int:
        return sum(1 for e in self.entries if e.kind in ("session", "hold"))

    @property
    def available_label(self) -> str:
        hours, minutes = divmod(self.available_minutes, 60)
        return f"{hours} h {minutes:02d}" if minutes else f"{hours} h"


def mechanic_calendar(
    mechanic: MechanicProfile,
    days: list[date],
    *,
    zone: ZoneInfo,
    in_range: set[date] | None = None,
    now: datetime | None = None,
) -> list[CalendarColumn]:
    """One column per local date: the mechanic's sessions, checkout holds, free
    (available) time and time off, as the mechanic's unified calendar shows them (plan
    §10.2). Queries: reservations 1, time off 1, availability a fixed few."""
    now = now or timezone.now()
    start = local_midnight(days[0], zone)
    end = local_midnight(days[-1] + timedelta(days=1), zone)
    entries: list[CalendarEntry] = []
    reservations = (
        active_reservations(now=now)
        .filter(mechanic=mechanic, starts_at__lt=end, ends_at__gt=start)
        .select_related("session__plan", "session__customer", "visit__workshop")
    )
    for r in reservations:
        if r.session is None:  # an in-person visit the workshop assigned them to
            visit = getattr(r, "visit", None)
            title = (
                _("Workshop visit at %(workshop)s") % {"workshop": visit.workshop}
                if visit
                else _("Workshop visit")
            )
            if visit and visit.vehicle_label:
                title += f" · {visit.vehicle_label}"
            entries.append(
                CalendarEntry(
                    kind="visit",
                    start=r.starts_at,
                    end=r.ends_at,
                    title=title,
                    status=visit.status if visit else "",
                )
            )
            continue
        hold = r.status == ReservationStatus.RESERVED
        label = f"{r.session.customer} · {r.session.plan.title}"
        if r.session.vehicle_label:
            label += f" · {r.session.vehicle_label}"
        entries.append(
            CalendarEntry(
                kind="hold" if hold else "session",
                start=r.starts_at,
                end=r.ends_at,
                title=(_("Checkout hold: %(label)s") % {"label": label}) if hold else label,
                session=r.session,
                status=r.session.status,
            )
        )
    entries.extend(
        CalendarEntry(kind="available", start=iv.start, end=iv.end, title=_("Available"))
        for iv in availability.free_intervals(mechanic, start, end, now=now)
    )
    time_off = TimeOff.objects.filter(
        mechanic=mechanic,
        starts_at__lt=end,
        ends_at__gt=start,
        status__in=availability.BLOCKING_TIME_OFF,
    )
    entries.extend(
        CalendarEntry(
            kind="time_off",
            start=t.starts_at,
            end=t.ends_at,
            title=_("Time off: %(reason)s") % {"reason": t.reason} if t.reason else _("Time off"),
            status=t.status,
        )
        for t in time_off
    )
    entries.sort(key=lambda e: (e.start, e.kind))
    wanted = in_range if in_range is not None else set(days)
    columns = []
    for day in days:
        lo, hi = local_midnight(day, zone), local_midnight(day + timedelta(days=1), zone)
        window = Interval(lo, hi)
        shown = [e for e in entries if Interval(e.start, e.end).overlaps(window)]
        free = sum(
            (min(e.end, hi) - max(e.start, lo) for e in shown if e.kind == "available"),
            timedelta(0),
        )
        columns.append(
            CalendarColumn(
                day=day,
                in_range=day in wanted,
                entries=shown,
                available_minutes=int(free.total_seconds() // 60),
                zone=zone,
            )
        )
    return columns


# --------------------------------------------------------------------------- mechanic home


def offers_with_earnings(mechanic: MechanicProfile, *, limit: int = 50) -> list:
    """Open offers this mechanic can take, each with `.earning_cents` (the payout split
    of its plan's price), `.paid_to` (their workshop, when it is paid the share) and
    `.answer_by` (a booking request's deadline, else None)."""
    from autodoctor.accounts.mechanic_types import mechanic_type
    from autodoctor.payments.policy import PAYS_THE_WORKSHOP, payout_split

    from .selectors import offer_deadline, offers_visible_to

    kind = mechanic_type(mechanic)
    offers = list(offers_visible_to(mechanic)[:limit])
    for offer in offers:
        offer.answer_by = offer_deadline(offer)  # booking requests only
        offer.earning_cents = payout_split(offer.session.plan.price_cents, kind).payee_cents
        offer.paid_to = mechanic.workshop if kind in PAYS_THE_WORKSHOP else None
    return offers


@dataclass(frozen=True)
class MechanicHome:
    today: list[Session]
    tomorrow: list[Session]
    offers: list
    week_free_minutes: int
    week_booked: int

    @property
    def week_free_label(self) -> str:
        hours, minutes = divmod(self.week_free_minutes, 60)
        return f"{hours} h {minutes:02d}" if minutes else f"{hours} h"


def mechanic_home(
    mechanic: MechanicProfile, *, zone: ZoneInfo, now: datetime | None = None
) -> MechanicHome:
    """The mechanic's home: today's and tomorrow's sessions (Join buttons), open offers
    with what each pays, and this week's hours still open for booking (Sunday–Saturday
    in the viewer's zone, from the availability service)."""
    now = now or timezone.now()
    today = local_today(zone, now=now)
    tomorrow_end = local_midnight(today + timedelta(days=2), zone)
    sessions = list(
        upcoming_sessions(mechanic.user, now=now)
        .filter(Q(scheduled_for__isnull=True) | Q(scheduled_for__lt=tomorrow_end))
        .exclude(status=SessionStatus.PENDING)
    )
    day_of = {s.pk: (s.scheduled_for or now).astimezone(zone).date() for s in sessions}
    sunday = today - timedelta(days=(today.weekday() + 1) % 7)
    week_start, week_end = (
        local_midnight(sunday, zone),
        local_midnight(sunday + timedelta(days=7), zone),
    )
    free = sum(
        (
            iv.end - iv.start
            for iv in availability.free_intervals(mechanic, max(now, week_start), week_end, now=now)
        ),
        timedelta(0),
    )
    booked = (
        active_reservations(now=now)
        .filter(mechanic=mechanic, starts_at__gte=week_start, starts_at__lt=week_end)
        .count()
    )
    return MechanicHome(
        today=[s for s in sessions if day_of[s.pk] <= today],
        tomorrow=[s for s in sessions if day_of[s.pk] > today],
        offers=offers_with_earnings(mechanic, limit=5),
        week_free_minutes=int(free.total_seconds() // 60),
        week_booked=booked,
    )
