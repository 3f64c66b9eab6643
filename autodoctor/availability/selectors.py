"""Availability reads for pages and the API: who may reach which hours, and the rows to
show them. Bookable time is not computed here -- that is ``service``.

Access helpers fetch and check in one step: a mechanic reaches only their own profile;
workshop staff reach only workshops they own or staff, and "not yours" answers exactly
like "missing" so ids cannot be probed.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from autodoctor.accounts.mechanic_types import MechanicType, mechanic_type
from autodoctor.accounts.models import MechanicProfile, User, Workshop
from autodoctor.accounts.selectors import workshops_for_staff
from autodoctor.errors import InvalidInput, NotAllowed, NotFound

from . import service
from .models import (
    DateOverride,
    MechanicSettings,
    TimeOff,
    TimeOffStatus,
    WeeklyBlock,
    WorkshopHours,
)

# How far back the time-off lists reach (older entries only clutter the page).
TIME_OFF_HISTORY = timedelta(days=30)


def mechanic_for_user(user: User) -> MechanicProfile:
    """The signed-in mechanic's own profile; NotAllowed for anyone else."""
    profile = (
        MechanicProfile.objects.select_related("user", "workshop").filter(user=user).first()
        if user.is_authenticated
        else None
    )
    if profile is None:
        raise NotAllowed(_("Only mechanics have working hours to manage."))
    return profile


def workshops_managed_by(user: User) -> QuerySet[Workshop]:
    """Workshops this user may manage (every workshop for a platform admin)."""
    if user.is_platform_admin:
        return Workshop.objects.all()
    return workshops_for_staff(user)


def workshop_for_staff(user: User, workshop_id: int | None = None) -> Workshop:
    """The workshop a staff member manages: the one named, or their only one."""
    workshops = workshops_managed_by(user).order_by("name")
    if workshop_id is not None:
        workshop = workshops.filter(pk=workshop_id).first()
        if workshop is None:
            raise NotFound(_("No such workshop."))
        return workshop
    first_two = list(workshops[:2])
    if not first_two:
        raise NotAllowed(_("You do not manage a workshop."))
    if len(first_two) > 1:
        raise InvalidInput(
            _("You manage several workshops; say which one with workshop_id."), field="workshop_id"
        )
    return first_two[0]


def mechanic_public(mechanic_id: int) -> MechanicProfile:
    """A mechanic anyone signed in may look at (approved, active accounts only)."""
    profile = (
        MechanicProfile.objects.approved()
        .select_related("user", "workshop")
        .filter(pk=mechanic_id)
        .first()
    )
    if profile is None:
        raise NotFound(_("No such mechanic."))
    return profile


def hours_managed_by_workshop(mechanic: MechanicProfile) -> bool:
    """plan §2.3: an affiliated mechanic works their workshop's hours."""
    return mechanic_type(mechanic) is MechanicType.WORKSHOP_AFFILIATED


def weekly_blocks_of(mechanic: MechanicProfile) -> list[WeeklyBlock]:
    return list(
        WeeklyBlock.objects.filter(mechanic=mechanic).order_by("day_of_week", "start_minute")
    )


def workshop_week(workshop: Workshop) -> list[WorkshopHours]:
    """Seven rows, Sunday first; a day without a row shows as closed."""
    rows = {row.day_of_week: row for row in WorkshopHours.objects.filter(workshop=workshop)}
    return [
        rows.get(day) or WorkshopHours(workshop=workshop, day_of_week=day, is_open=False)
        for day in range(7)
    ]


def settings_of(mechanic: MechanicProfile) -> MechanicSettings:
    """The mechanic's settings row, or an unsaved one holding the defaults."""
    return MechanicSettings.objects.filter(mechanic=mechanic).first() or MechanicSettings(
        mechanic=mechanic
    )


def time_off_of(mechanic: MechanicProfile, *, now: datetime | None = None) -> QuerySet[TimeOff]:
    """The mechanic's time off, current and recent first to last."""
    since = (now or timezone.now()) - TIME_OFF_HISTORY
    return TimeOff.objects.filter(mechanic=mechanic, ends_at__gte=since).order_by("starts_at")


def time_off_requests_for(
    workshop: Workshop, *, status: str | None = None, now: datetime | None = None
) -> QuerySet[TimeOff]:
    """Time off of the workshop's own mechanics (pending first when unfiltered)."""
    if status is not None and status not in TimeOffStatus.values:
        raise InvalidInput(
            _("Unknown status %(status)s; use one of %(choices)s.")
            % {"status": repr(status), "choices": ", ".join(TimeOffStatus.values)},
            field="status",
        )
    since = (now or timezone.now()) - TIME_OFF_HISTORY
    qs = TimeOff.objects.select_related("mechanic__user").filter(
        mechanic__workshop=workshop, ends_at__gte=since
    )
    if status is not None:
        qs = qs.filter(status=status)
    return qs.order_by("starts_at")


def overrides_of(
    *,
    mechanic: MechanicProfile | None = None,
    workshop: Workshop | None = None,
    from_day: date | None = None,
) -> QuerySet[DateOverride]:
    """Date overrides of one owner from ``from_day`` on (default: all)."""
    owner = Q(mechanic=mechanic) if mechanic is not None else Q(workshop=workshop)
    qs = DateOverride.objects.filter(owner)
    if from_day is not None:
        qs = qs.filter(day__gte=from_day)
    return qs.order_by("day", "start_minute")


# ---------------------------------------------------------------- a mechanic's month


@dataclass(frozen=True, slots=True)
class CalendarDay:
    day: date
    in_month: bool
    count: int  # bookable slots starting on this local date
    past: bool


@dataclass(frozen=True, slots=True)
class MonthCalendar:
    """Sunday-first weeks of one month, as seen from one zone."""

    month: date  # the first of the month
    weeks: list[list[CalendarDay]]
    prev_month: date | None  # None: no earlier month can have slots
    next_month: date

    @property
    def first_day_with_slots(self) -> date | None:
        return next((d.day for w in self.weeks for d in w if d.in_month and d.count), None)


def month_calendar(
    mechanic: MechanicProfile,
    *,
    month: date,
    zone: str,
    duration: timedelta,
    now: datetime | None = None,
) -> MonthCalendar:
    """Bookable-slot counts per local date of ``zone`` for the weeks showing ``month``
    (the viewer's zone: a customer in Vancouver sees a Toronto mechanic's evening slots
    on the dates they fall on for them)."""
    now = now or timezone.now()
    month = month.replace(day=1)
    weeks = calendar.Calendar(calendar.SUNDAY).monthdatescalendar(month.year, month.month)
    first, last = weeks[0][0], weeks[-1][-1] + timedelta(days=1)
    counts = service.daily_slot_counts(
        mechanic,
        service.local_instant(first, 0, zone),
        service.local_instant(last, 0, zone),
        duration,
        zone,
        now=now,
    )
    today = now.astimezone(ZoneInfo(zone)).date()
    this_month = today.replace(day=1)
    previous = (month - timedelta(days=1)).replace(day=1)
    return MonthCalendar(
        month=month,
        weeks=[
            [
                CalendarDay(
                    day=d, in_month=d.month == month.month, count=counts.get(d, 0), past=d < today
                )
                for d in week
            ]
            for week in weeks
        ],
        prev_month=previous if previous >= this_month else None,
        next_month=(month + timedelta(days=32)).replace(day=1),
    )


@dataclass(frozen=True, slots=True)
class LocalSlot:
    start: datetime  # UTC
    end: datetime
    label: str  # "09:30 EST", in the viewer's zone


def day_slots(
    mechanic: MechanicProfile,
    *,
    day: date,
    zone: str,
    duration: timedelta,
    now: datetime | None = None,
) -> list[LocalSlot]:
    """Bookable slots starting on one local date of ``zone``, labelled in that zone."""
    tz = ZoneInfo(zone)
    slots = service.available_slots(
        mechanic,
        service.local_instant(day, 0, zone),
        service.local_instant(day + timedelta(days=1), 0, zone),
        duration,
        now=now,
    )
    return [
        LocalSlot(
            s.start, s.end, f"{s.start.astimezone(tz):%H:%M} {s.start.astimezone(tz).tzname()}"
        )
        for s in slots
    ]
