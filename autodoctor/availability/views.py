"""Pages of the availability app: a mechanic's week, time off and settings; a workshop's
hours, bays and time-off requests; a mechanic's public profile with bookable days.

Views are thin: they check who is asking (through the access selectors), parse the
form, call one service, and render. htmx requests get the named partial of the same
template (``{% partialdef %}``); other requests get the whole page or a redirect.
DomainErrors are rendered by ``web.middleware.DomainErrorMiddleware``.
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from autodoctor.accounts.mechanic_types import mechanic_type
from autodoctor.accounts.models import MechanicProfile, User, Workshop
from autodoctor.dates import date_in_range
from autodoctor.errors import InvalidInput, NotFound

from . import external, selectors, services
from .forms import (
    BaysForm,
    BlockForm,
    CalendarForm,
    OverrideForm,
    SettingsForm,
    TimeOffForm,
    WorkshopWeekFormSet,
    wall_label,
)
from .models import DayOfWeek
from .plans import PLAN_MINUTES, plan_duration
from .templatetags.availability_tags import dated

DEFAULT_PLAN = "advice"


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _cleaned(form: forms.Form) -> dict:
    """The form's data, or InvalidInput naming the first field in error."""
    if form.is_valid():
        return form.cleaned_data
    name, errors = next(iter(form.errors.items()))
    label = form.fields[name].label if name in form.fields else None
    message = f"{label}: {errors[0]}" if label else errors[0]
    # The field as posted (a formset row's "form-3-open"), so the page can point at it.
    raise InvalidInput(message, field=None if name == "__all__" else form.add_prefix(name))


def _is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _url(name: str, *args: object) -> str | None:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


# ---------------------------------------------------------------- mechanic: own calendars


def _calendars_context(mechanic: MechanicProfile, **extra: object) -> dict:
    return {
        "mechanic": mechanic,
        "zone": mechanic.user.time_zone,
        "calendars": list(external.external_calendars_of(mechanic)),
        "form": CalendarForm(),
        **extra,
    }


def _calendars_answer(request: HttpRequest, mechanic: MechanicProfile, note: str) -> HttpResponse:
    if _is_htmx(request):
        context = _calendars_context(mechanic, note=note)
        return render(request, "availability/calendars.html#calendars", context)
    messages.success(request, note)
    return redirect("availability:calendars")


@login_required
def calendars(request: HttpRequest) -> HttpResponse:
    """A mechanic's external calendars: connect one, see each one's state."""
    mechanic = selectors.mechanic_for_user(_user(request))
    if request.method == "POST":
        data = _cleaned(CalendarForm(request.POST))
        external.external_calendar_add(mechanic=mechanic, url=data["url"], label=data["label"])
        return _calendars_answer(
            request, mechanic, _("Calendar connected: its busy times will block bookings shortly.")
        )
    return render(request, "availability/calendars.html", _calendars_context(mechanic))


@login_required
@require_POST
def calendar_refresh(request: HttpRequest, calendar_id: int) -> HttpResponse:
    user = _user(request)
    mechanic = selectors.mechanic_for_user(user)
    external.external_calendar_refresh_request(actor=user, calendar_id=calendar_id)
    return _calendars_answer(
        request, mechanic, _("Refreshing: the calendar updates within a minute.")
    )


@login_required
@require_POST
def calendar_remove(request: HttpRequest, calendar_id: int) -> HttpResponse:
    user = _user(request)
    mechanic = selectors.mechanic_for_user(user)
    external.external_calendar_remove(actor=user, calendar_id=calendar_id)
    return _calendars_answer(
        request, mechanic, _("Calendar disconnected: its busy times no longer block.")
    )


# ---------------------------------------------------------------- mechanic: the week


def _week_context(mechanic: MechanicProfile) -> dict:
    managed = selectors.hours_managed_by_workshop(mechanic)
    blocks = selectors.weekly_blocks_of(mechanic)
    today = timezone.now().astimezone(mechanic.user.zone).date()
    days = [
        {
            "number": day.value,
            "name": day.label,
            "blocks": [
                {"id": b.pk, "start": wall_label(b.start_minute), "end": wall_label(b.end_minute)}
                for b in blocks
                if b.day_of_week == day.value
            ],
        }
        for day in DayOfWeek
    ]
    return {
        "mechanic": mechanic,
        "mechanic_type": mechanic_type(mechanic).label,
        "managed": managed,
        "zone": mechanic.workshop.time_zone if managed else mechanic.user.time_zone,
        "days": days,
        "workshop_days": _workshop_days(mechanic.workshop) if managed else [],
        "form": BlockForm(),
        "override_form": OverrideForm(initial={"day": today}),
        "overrides": []
        if managed
        else list(selectors.overrides_of(mechanic=mechanic, from_day=today)),
    }


def _workshop_days(workshop: Workshop) -> list[dict]:
    return [
        {
            "name": DayOfWeek(row.day_of_week).label,
            "is_open": row.is_open,
            "open": wall_label(row.open_minute),
            "close": wall_label(row.close_minute),
            "break_start": wall_label(row.break_start_minute),
            "break_end": wall_label(row.break_end_minute),
        }
        for row in selectors.workshop_week(workshop)
    ]


def _week_response(
    request: HttpRequest, mechanic: MechanicProfile, partial: str, note: str
) -> HttpResponse:
    if _is_htmx(request):
        context = {**_week_context(mechanic), "note": note}
        return render(request, f"availability/weekly.html#{partial}", context)
    messages.success(request, note)
    return redirect("availability:weekly")


@login_required
def weekly(request: HttpRequest) -> HttpResponse:
    mechanic = selectors.mechanic_for_user(_user(request))
    return render(request, "availability/weekly.html", _week_context(mechanic))


@login_required
@require_POST
def weekly_add(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    mechanic = selectors.mechanic_for_user(user)
    data = _cleaned(BlockForm(request.POST))
    added = services.BlockInput(data["day_of_week"], data["start"], data["end"])
    services.weekly_block_add(mechanic=mechanic, block=added, actor=user)
    return _week_response(
        request, mechanic, "week", _("Added %(block)s.") % {"block": added.label()}
    )


@login_required
@require_POST
def weekly_remove(request: HttpRequest, block_id: int) -> HttpResponse:
    user = _user(request)
    mechanic = selectors.mechanic_for_user(user)
    services.weekly_block_remove(mechanic=mechanic, block_id=block_id, actor=user)
    return _week_response(request, mechanic, "week", _("Block removed."))


def _override_fields(data: dict) -> dict:
    if data["closed"]:
        return {"start_minute": None, "end_minute": None}
    if data["start"] is None or data["end"] is None:
        raise InvalidInput(_("Give the hours, or tick “Closed all day”."), field="start")
    return {"start_minute": data["start"], "end_minute": data["end"]}


@login_required
@require_POST
def weekly_override_add(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    mechanic = selectors.mechanic_for_user(user)
    data = _cleaned(OverrideForm(request.POST))
    services.date_override_create(
        actor=user, mechanic=mechanic, day=data["day"], note=data["note"], **_override_fields(data)
    )
    return _week_response(
        request, mechanic, "overrides", _("Saved %(day)s.") % {"day": dated(data["day"], "D d M Y")}
    )


@login_required
@require_POST
def weekly_override_remove(request: HttpRequest, override_id: int) -> HttpResponse:
    user = _user(request)
    mechanic = selectors.mechanic_for_user(user)
    services.date_override_delete(actor=user, override_id=override_id, owner="mechanic")
    return _week_response(request, mechanic, "overrides", _("Special date removed."))


@login_required
def calendar(request: HttpRequest) -> HttpResponse:
    """ "My schedule": the booking app's unified calendar when installed, else the week."""
    selectors.mechanic_for_user(_user(request))
    return redirect(_url("booking:calendar") or reverse("availability:weekly"))


# ---------------------------------------------------------------- mechanic: time off


def _time_off_context(mechanic: MechanicProfile, form: TimeOffForm | None = None) -> dict:
    return {
        "mechanic": mechanic,
        "zone": mechanic.user.time_zone,
        "managed": selectors.hours_managed_by_workshop(mechanic),
        "entries": list(selectors.time_off_of(mechanic)),
        "form": form or TimeOffForm(),
    }


@login_required
def time_off(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    mechanic = selectors.mechanic_for_user(user)
    if request.method == "POST":
        form = TimeOffForm(request.POST)
        _cleaned(form)
        start, end, all_day = form.span(user.time_zone)
        entry = services.time_off_create(
            mechanic=mechanic,
            actor=user,
            starts_at=start,
            ends_at=end,
            all_day=all_day,
            reason=form.cleaned_data["reason"],
        )
        note = (
            _("Time off requested: your workshop will approve or decline it.")
            if entry.status == "pending"
            else _("Time off saved.")
        )
        if _is_htmx(request):
            context = {**_time_off_context(mechanic), "note": note}
            return render(request, "availability/time_off.html#entries", context)
        messages.success(request, note)
        return redirect("availability:time_off")
    return render(request, "availability/time_off.html", _time_off_context(mechanic))


@login_required
@require_POST
def time_off_cancel(request: HttpRequest, time_off_id: int) -> HttpResponse:
    user = _user(request)
    mechanic = selectors.mechanic_for_user(user)
    services.time_off_delete(actor=user, time_off_id=time_off_id)
    if _is_htmx(request):
        context = {**_time_off_context(mechanic), "note": _("Time off cancelled.")}
        return render(request, "availability/time_off.html#entries", context)
    messages.success(request, _("Time off cancelled."))
    return redirect("availability:time_off")


# ---------------------------------------------------------------- mechanic: settings


@login_required
def settings(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    mechanic = selectors.mechanic_for_user(user)
    if request.method == "POST":
        data = _cleaned(SettingsForm(request.POST))
        services.mechanic_settings_update(mechanic=mechanic, actor=user, **data)
        messages.success(request, _("Booking rules saved."))
        return redirect("availability:settings")
    row = selectors.settings_of(mechanic)
    form = SettingsForm(initial={name: getattr(row, name) for name in SettingsForm.base_fields})
    return render(request, "availability/settings.html", {"form": form, "mechanic": mechanic})


# ---------------------------------------------------------------- workshop: hours


def _chosen_workshop(request: HttpRequest) -> tuple[Workshop, list[Workshop]]:
    """The workshop the page is about (``?workshop=``) and all the user manages."""
    workshops = list(selectors.workshops_managed_by(_user(request)).order_by("name"))
    raw = request.GET.get("workshop") or request.POST.get("workshop")
    if raw:
        if not raw.isdigit():
            raise NotFound(_("No such workshop."))
        return selectors.workshop_for_staff(_user(request), int(raw)), workshops
    if not workshops:
        selectors.workshop_for_staff(_user(request))  # raises "You do not manage a workshop."
    return workshops[0], workshops


def _hours_context(workshop: Workshop, workshops: list[Workshop]) -> dict:
    # A closed day shows no times (its stored times are ignored anyway).
    initial = [
        {
            "day_of_week": row.day_of_week,
            "is_open": row.is_open,
            "open": wall_label(row.open_minute) if row.is_open else "",
            "close": wall_label(row.close_minute) if row.is_open else "",
            "break_start": wall_label(row.break_start_minute) if row.is_open else "",
            "break_end": wall_label(row.break_end_minute) if row.is_open else "",
        }
        for row in selectors.workshop_week(workshop)
    ]
    formset = WorkshopWeekFormSet(initial=initial)
    today = timezone.now().astimezone(ZoneInfo(workshop.time_zone)).date()
    return {
        "workshop": workshop,
        "workshops": workshops,
        "query": f"?workshop={workshop.pk}",
        "rows": [(DayOfWeek(i).label, form) for i, form in enumerate(formset.forms)],
        "formset": formset,
        "bays_form": BaysForm(initial={"bays": workshop.max_concurrent_appointments}),
        "override_form": OverrideForm(initial={"day": today}),
        "overrides": list(selectors.overrides_of(workshop=workshop, from_day=today)),
    }


def _day_input(data: dict) -> services.DayHoursInput:
    return services.DayHoursInput(
        day_of_week=data["day_of_week"],
        is_open=data["is_open"],
        open_minute=data["open"],
        close_minute=data["close"],
        break_start_minute=data["break_start"],
        break_end_minute=data["break_end"],
    )


@login_required
def workshop_hours(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    workshop, workshops = _chosen_workshop(request)
    if request.method == "POST":
        formset = WorkshopWeekFormSet(request.POST)
        if not formset.is_valid():
            for form in formset.forms:
                _cleaned(form)
            raise InvalidInput(_("Check the opening hours."), field="days")
        bays = _cleaned(BaysForm(request.POST))["bays"]
        days = [_day_input(form.cleaned_data) for form in formset.forms]
        services.workshop_hours_replace(workshop=workshop, days=days, actor=user, bays=bays)
        messages.success(request, _("Opening hours of %(name)s saved.") % {"name": workshop.name})
        return redirect(f"{reverse('availability:workshop_hours')}?workshop={workshop.pk}")
    return render(request, "availability/workshop_hours.html", _hours_context(workshop, workshops))


@login_required
@require_POST
def workshop_override_add(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    workshop, workshops = _chosen_workshop(request)
    data = _cleaned(OverrideForm(request.POST))
    services.date_override_create(
        actor=user, workshop=workshop, day=data["day"], note=data["note"], **_override_fields(data)
    )
    return _hours_response(
        request, workshop, workshops, _("Saved %(day)s.") % {"day": dated(data["day"], "D d M Y")}
    )


@login_required
@require_POST
def workshop_override_remove(request: HttpRequest, override_id: int) -> HttpResponse:
    user = _user(request)
    workshop, workshops = _chosen_workshop(request)
    services.date_override_delete(actor=user, override_id=override_id, owner="workshop")
    return _hours_response(request, workshop, workshops, _("Special date removed."))


def _hours_response(
    request: HttpRequest, workshop: Workshop, workshops: list[Workshop], note: str
) -> HttpResponse:
    if _is_htmx(request):
        context = {**_hours_context(workshop, workshops), "note": note}
        return render(request, "availability/workshop_hours.html#overrides", context)
    messages.success(request, note)
    return redirect(f"{reverse('availability:workshop_hours')}?workshop={workshop.pk}")


# ---------------------------------------------------------------- workshop: time off


def _requests_context(workshop: Workshop, workshops: list[Workshop]) -> dict:
    entries = list(selectors.time_off_requests_for(workshop))
    return {
        "workshop": workshop,
        "workshops": workshops,
        "pending": [e for e in entries if e.status == "pending"],
        "decided": [e for e in entries if e.status != "pending"],
    }


@login_required
def workshop_time_off(request: HttpRequest) -> HttpResponse:
    workshop, workshops = _chosen_workshop(request)
    return render(
        request, "availability/workshop_time_off.html", _requests_context(workshop, workshops)
    )


@login_required
@require_POST
def workshop_time_off_decide(request: HttpRequest, time_off_id: int, decision: str) -> HttpResponse:
    user = _user(request)
    decide = {"approve": services.time_off_approve, "decline": services.time_off_decline}.get(
        decision
    )
    if decide is None:
        raise NotFound(_("No such decision."))
    # Resolve ?workshop= first: a bad one is a 404 before anything is decided.
    workshop, workshops = _chosen_workshop(request)
    entry = decide(actor=user, time_off_id=time_off_id)
    note = f"{entry.get_status_display()}: {entry.mechanic.user}'s time off."
    if _is_htmx(request):
        context = {**_requests_context(workshop, workshops), "note": note}
        return render(request, "availability/workshop_time_off.html#requests", context)
    messages.success(request, note)
    return redirect(f"{reverse('availability:workshop_time_off')}?workshop={workshop.pk}")


# ---------------------------------------------------------------- anyone: a mechanic's days


def _parse_month(value: str | None, today: date) -> date:
    try:
        month = date.fromisoformat(f"{value}-01") if value else today.replace(day=1)
    except ValueError:
        raise InvalidInput(_("Month must look like 2026-03."), field="month") from None
    return date_in_range(month, field="month")


def _parse_day(value: str | None) -> date | None:
    try:
        day = date.fromisoformat(value) if value else None
    except ValueError:
        raise InvalidInput(_("Day must look like 2026-03-08."), field="day") from None
    return date_in_range(day, field="day") if day else None


@login_required
def mechanic_profile(request: HttpRequest, mechanic_id: int) -> HttpResponse:
    """Any signed-in user: a month of bookable days and one day's times, in their zone."""
    viewer = _user(request)
    mechanic = selectors.mechanic_public(mechanic_id)
    zone = viewer.time_zone
    plan = request.GET.get("plan") or DEFAULT_PLAN
    duration = plan_duration(plan)
    today = timezone.now().astimezone(viewer.zone).date()
    month = _parse_month(request.GET.get("month"), today)
    grid = selectors.month_calendar(mechanic, month=month, zone=zone, duration=duration)
    day = (
        _parse_day(request.GET.get("day"))
        or grid.first_day_with_slots
        or (today if today.replace(day=1) == month else month)
    )
    context = {
        "mechanic": mechanic,
        "mechanic_type": mechanic_type(mechanic).label,
        "zone": zone,
        "plan": plan,
        "plans": [(code, minutes) for code, minutes in PLAN_MINUTES.items()],
        "grid": grid,
        "day": day,
        "slots": selectors.day_slots(mechanic, day=day, zone=zone, duration=duration),
        "book_url": _url("booking:wizard"),
    }
    target = request.headers.get("HX-Target")
    if _is_htmx(request) and target == "day-slots":
        return render(request, "availability/mechanic_profile.html#day", context)
    if _is_htmx(request):
        return render(request, "availability/mechanic_profile.html#calendar", context)
    return render(request, "availability/mechanic_profile.html", context)
