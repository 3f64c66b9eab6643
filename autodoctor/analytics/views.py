"""Pages of the analytics app: the rating form's post, the dashboards.

Views parse input, call one service or metric and render. DomainErrors are rendered by
web.middleware (POST: flash + redirect back)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from autodoctor.errors import InvalidInput, NotAllowed, NotFound

from . import compliance as compliance_checks
from . import metrics, selectors, services, tables
from .forms import PERIOD_CHOICES, FilterForm, PeriodForm, RatingForm, period_from


@login_required
@require_POST
def rating_save(request: HttpRequest, session_id: int) -> HttpResponse:
    form = RatingForm(request.POST)
    if not form.is_valid():
        field, errors = next(iter(form.errors.items()))
        raise InvalidInput(f"{field}: {errors[0]}", field=field)
    services.rating_save(
        session_id=session_id,
        user=request.user,  # type: ignore[arg-type]
        score=form.cleaned_data["score"],
        comment=form.cleaned_data["comment"],
    )
    messages.success(request, _("Thank you: your rating is saved."))
    return redirect("booking:session_detail", session_id)


def _heat(grid: list[list[int]]) -> list[dict]:
    """Rows of a weekday × hour table with each cell's shade (0–1 of the busiest)."""
    top = max((n for row in grid for n in row), default=0) or 1
    return [
        {"day": WEEKDAYS_ABBR[d], "cells": [{"n": n, "shade": round(n / top, 2)} for n in row]}
        for d, row in enumerate(grid)
    ]


def _csv_link(query: QueryDict, name: str) -> str:
    """This page's query string (its period) asking for table `name` as CSV."""
    query = query.copy()
    query["format"], query["table"] = "csv", name
    return f"?{query.urlencode()}"


def _period(request: HttpRequest, *, now, zone: str) -> tuple[metrics.Period, dict]:
    """The period the page's query asks for (`PeriodForm`), and what the period picker
    (`analytics/_period.html`) shows of it."""
    form = PeriodForm(request.GET)
    period = period_from(form, now=now, zone=zone)
    return period, {
        "period": period,
        "form": form,
        "custom": bool(form.is_valid() and form.cleaned_data.get("start")),
        "days": round((period.end - period.start).days),
        "period_choices": PERIOD_CHOICES,
        "zone": zone,
    }


def _render(request: HttpRequest, scope: metrics.Scope, title: str, **extra) -> HttpResponse:
    """The dashboard page of `scope`, or one of its tables as CSV (`?format=csv&table=…`,
    same authorization: the caller checked it before calling)."""
    now = timezone.now()
    zone = request.user.time_zone  # type: ignore[union-attr]
    period, period_context = _period(request, now=now, zone=zone)
    board = metrics.dashboard(period, scope, now=now, zone=zone)
    with_mechanics = extra.get("audience") != "mechanic"
    names = tables.table_names(board, with_mechanics=with_mechanics)
    if request.GET.get("format") == "csv":
        name = request.GET.get("table", "")
        if name not in names:
            raise NotFound(_("No such table."))
        response = HttpResponse(tables.as_csv(board, name), content_type="text/csv; charset=utf-8")
        filename = f"analytics-{name}-{period.start:%Y%m%d}-{period.end:%Y%m%d}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    peaks = board["peak_times"]
    query = request.GET.copy()
    query.pop("format", None)
    context = {
        "title": title,
        "board": board,
        **period_context,
        "csv": {name.replace("-", "_"): _csv_link(query, name) for name in names},
        "heat_sessions": _heat(peaks["sessions"]),
        "heat_bookings": _heat(peaks["bookings"]),
        "hours": range(24),
        "lead_top": max((b["count"] for b in board["lead_time"]["histogram"]), default=0) or 1,
        **extra,
    }
    return render(request, "analytics/dashboard.html", context)


@login_required
def platform(request: HttpRequest) -> HttpResponse:
    """Admins: every metric, platform-wide."""
    if not request.user.is_platform_admin:  # type: ignore[union-attr]
        raise NotFound(_("No such page."))
    filters = FilterForm(request.GET)
    return _render(
        request,
        metrics.Scope(**filters.filters()),
        _("Platform analytics"),
        audience="admin",
        filters=filters,
    )


@login_required
def compliance(request: HttpRequest) -> HttpResponse:
    """Admins: the contractor-law rules (plan §5.3, §5.5) checked against the code and the
    period's data (`analytics.compliance`)."""
    if not request.user.is_platform_admin:  # type: ignore[union-attr]
        raise NotFound(_("No such page."))
    zone = request.user.time_zone  # type: ignore[union-attr]
    period, period_context = _period(request, now=timezone.now(), zone=zone)
    found = {check.key: check for check in compliance_checks.checks(period)}
    context = {
        "title": _("Contractor-law compliance"),
        "checks": found,
        "all_held": all(check.held for check in found.values()),
        **period_context,
    }
    return render(request, "analytics/compliance.html", context)


@login_required
def mechanic(request: HttpRequest, mechanic_id: int) -> HttpResponse:
    """Admins: drill-down to one mechanic's numbers (what the mechanic sees, plus the
    ratings' comments). Nobody else: a mechanic's figures are theirs (plan §5.3)."""
    if not request.user.is_platform_admin:  # type: ignore[union-attr]
        raise NotFound(_("No such page."))
    profile = selectors.mechanic_for_admin(mechanic_id)
    return _render(
        request,
        metrics.Scope(metrics.MECHANIC, profile.pk),
        _("%(name)s: analytics") % {"name": profile.user.full_name},
        audience="admin-mechanic",
        ratings=selectors.ratings_for_mechanic(profile),
    )


@login_required
def mine(request: HttpRequest) -> HttpResponse:
    """A mechanic's own numbers only (plan §13.3: informational; §5.3: no acceptance or
    decline figures)."""
    mechanic = getattr(request.user, "mechanic_profile", None)
    if mechanic is None:
        raise NotAllowed(_("This page is for mechanics."))
    return _render(
        request,
        metrics.Scope(metrics.MECHANIC, mechanic.pk),
        _("My numbers"),
        audience="mechanic",
        ratings=selectors.ratings_for_mechanic(mechanic),
    )


@login_required
def workshop(request: HttpRequest, workshop_id: int) -> HttpResponse:
    """Workshop staff: their workshop's mechanics."""
    shop = selectors.dashboard_scope_workshop(request.user, workshop_id)
    return _render(
        request,
        metrics.Scope(metrics.WORKSHOP, shop.pk),
        _("%(name)s: analytics") % {"name": shop.name},
        audience="workshop",
    )


@login_required
def workshop_default(request: HttpRequest) -> HttpResponse:
    """The NAV link for workshop staff: their (first) workshop's page."""
    from autodoctor.accounts.selectors import workshops_for_staff

    shop = workshops_for_staff(request.user).order_by("pk").first()  # type: ignore[arg-type]
    if shop is None:
        raise NotAllowed(_("This page is for workshop staff."))
    return redirect("analytics:workshop", shop.pk)
