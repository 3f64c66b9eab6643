"""Input parsing for the availability pages and API: wall-clock times ("HH:MM", "24:00"
as an end), local dates and times in a zone, and the page forms.

The API and the pages parse the same way through these functions; the rules themselves
(overlaps, limits, who may change what) live in ``services``.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import available_timezones

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from autodoctor.dates import date_in_range
from autodoctor.errors import InvalidInput

from .engine import MINUTES_PER_DAY, minute_label
from .models import DayOfWeek
from .service import local_instant

_WALL_TIME = re.compile(r"^(\d{2}):(\d{2})$")


def parse_wall_time(value: str, *, end: bool = False) -> int:
    """ "09:30" -> 570. "24:00" is accepted only as an end (``end=True``) and means
    midnight at the end of the day. ValueError with a readable message otherwise."""
    match = _WALL_TIME.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ValueError(_("%(value)s is not a time like 09:30") % {"value": repr(value)})
    hours, minutes = int(match[1]), int(match[2])
    if end and (hours, minutes) == (24, 0):
        return MINUTES_PER_DAY
    if hours > 23 or minutes > 59:
        raise ValueError(
            _("%(value)s is not a time of day (00:00–%(last)s)")
            % {"value": repr(value), "last": "24:00" if end else "23:59"}
        )
    return hours * 60 + minutes


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def parse_zone(value: str, *, field: str = "tz") -> str:
    """An IANA zone name, or InvalidInput naming ``field``."""
    if value not in _zones():
        raise InvalidInput(
            _("Unknown time zone %(value)s; use an IANA name like America/Toronto.")
            % {"value": repr(value)},
            field=field,
        )
    return value


def parse_instant(value: str, *, zone: str, field: str, end_of_day: bool = False) -> datetime:
    """An ISO date-time (with an offset, or naive = wall time in ``zone``) or an ISO date
    (its local midnight; with ``end_of_day``, the midnight that ends it)."""
    text = value.strip()
    try:
        if len(text) == 10:
            day = date_in_range(date.fromisoformat(text), field=field)
            return local_instant(day + timedelta(days=1 if end_of_day else 0), 0, zone)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            _("%(value)s is not a date (2026-03-08) or date-time (2026-03-08T09:00-05:00).")
            % {"value": repr(value)},
            field=field,
        ) from None
    date_in_range(moment.date(), field=field)
    if moment.tzinfo is None:
        return local_instant(moment.date(), moment.hour * 60 + moment.minute, zone) + timedelta(
            seconds=moment.second, microseconds=moment.microsecond
        )
    return moment.astimezone(UTC)


def wall_label(minute: int | None) -> str:
    """Minutes after local midnight as "HH:MM" (1440 -> "24:00"); empty for None."""
    return "" if minute is None else minute_label(minute)


# ---------------------------------------------------------------- page forms


class WallTimeField(forms.Field):
    """A "HH:MM" field cleaned to minutes after midnight ("24:00" allowed as an end)."""

    def __init__(self, *, end: bool = False, placeholder: str = "", **kwargs: object) -> None:
        self.end = end
        # A hint only where it reads as an example ("17:00"); never "24:00" in an empty
        # field, which looked like a value.
        attrs = {"pattern": r"\d{2}:\d{2}", "size": 5, "inputmode": "numeric"}
        if placeholder:
            attrs["placeholder"] = placeholder
        kwargs.setdefault("widget", forms.TextInput(attrs=attrs))
        super().__init__(**kwargs)

    def to_python(self, value: object) -> int | None:
        text = str(value).strip() if value not in (None, "") else ""
        if not text:
            return None
        try:
            return parse_wall_time(text, end=self.end)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def prepare_value(self, value: object) -> object:
        return wall_label(value) if isinstance(value, int) else value


class BlockForm(forms.Form):
    day_of_week = forms.TypedChoiceField(
        choices=DayOfWeek.choices, coerce=int, label=gettext_lazy("Day")
    )
    start = WallTimeField(label=gettext_lazy("From"), placeholder="09:00")
    end = WallTimeField(end=True, label=gettext_lazy("To"), placeholder="17:00")


class TimeOffForm(forms.Form):
    start_date = forms.DateField(
        label=gettext_lazy("First day"), widget=forms.DateInput(attrs={"type": "date"})
    )
    end_date = forms.DateField(
        label=gettext_lazy("Last day"), widget=forms.DateInput(attrs={"type": "date"})
    )
    start_time = WallTimeField(label=gettext_lazy("From (optional)"), required=False)
    end_time = WallTimeField(end=True, label=gettext_lazy("Until (optional)"), required=False)
    reason = forms.CharField(max_length=200, required=False)

    def span(self, zone: str) -> tuple[datetime, datetime, bool]:
        """(start, end, all_day) in real time: whole days unless times are given."""
        data = self.cleaned_data
        start_minute, end_minute = data.get("start_time"), data.get("end_time")
        all_day = start_minute is None and end_minute is None
        start = local_instant(data["start_date"], start_minute or 0, zone)
        if end_minute is None:
            end = local_instant(data["end_date"] + timedelta(days=1), 0, zone)
        else:
            end = local_instant(data["end_date"], end_minute, zone)
        return start, end, all_day


class SettingsForm(forms.Form):
    buffer_minutes = forms.IntegerField(label=gettext_lazy("Buffer between sessions (minutes)"))
    min_notice_minutes = forms.IntegerField(label=gettext_lazy("Minimum notice (minutes)"))
    max_advance_days = forms.IntegerField(label=gettext_lazy("Bookable up to (days ahead)"))
    slot_step_minutes = forms.IntegerField(label=gettext_lazy("Slot step (minutes)"))
    allow_instant_booking = forms.BooleanField(
        label=gettext_lazy("Confirm bookings instantly (otherwise you review each request)"),
        help_text=gettext_lazy(
            "On: a time a customer books is confirmed at once. Off: each booking waits "
            "for you to accept or decline it. Start-now requests are not affected."
        ),
        required=False,
    )


class WorkshopDayForm(forms.Form):
    day_of_week = forms.IntegerField(widget=forms.HiddenInput, min_value=0, max_value=6)
    is_open = forms.BooleanField(label=gettext_lazy("Open"), required=False)
    open = WallTimeField(label=gettext_lazy("Opens"), required=False, placeholder="09:00")
    close = WallTimeField(
        end=True, label=gettext_lazy("Closes"), required=False, placeholder="17:00"
    )
    break_start = WallTimeField(label=gettext_lazy("Break from"), required=False)
    break_end = WallTimeField(end=True, label=gettext_lazy("Break until"), required=False)


WorkshopWeekFormSet = forms.formset_factory(WorkshopDayForm, extra=0, min_num=7, max_num=7)


class BaysForm(forms.Form):
    bays = forms.IntegerField(label=gettext_lazy("Bays (appointments at the same time)"))


class OverrideForm(forms.Form):
    day = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    closed = forms.BooleanField(label=gettext_lazy("Closed all day"), required=False)
    start = WallTimeField(label=gettext_lazy("From"), required=False)
    end = WallTimeField(end=True, label=gettext_lazy("To"), required=False)
    note = forms.CharField(max_length=200, required=False)


class CalendarForm(forms.Form):
    """Connect an external calendar (availability.external checks the address)."""

    url = forms.CharField(
        label=gettext_lazy("Private calendar address"),
        max_length=2000,
        widget=forms.TextInput(
            attrs={
                "inputmode": "url",
                "autocomplete": "off",
                "placeholder": gettext_lazy("webcal://… or https://…"),
            }
        ),
    )
    label = forms.CharField(label=gettext_lazy("Name"), max_length=80, required=False)
