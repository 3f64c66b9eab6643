"""Pages of the workshops app: the customer books an in-person visit from a completed
session (workshop, then time, then how), everyone allowed sees the visit page with the
actions theirs to take, the customer's My visits, and the workshop's Appointments tabs
and bay board.

Views parse input, call one service (or selector) and render; the services decide who
may do what (a visit one cannot see answers 404, access_visit). DomainErrors are
rendered by web.middleware (a refused form post: flash + back to the page it came from).
Every time is shown in the workshop's zone, and labelled so (a visit happens there).
"""

from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from autodoctor.accounts.models import User, Workshop
from autodoctor.booking.diagnosis import diagnosis_of
from autodoctor.booking.forms import parse_start
from autodoctor.booking.models import Session, SessionStatus
from autodoctor.booking.page_selectors import local_today
from autodoctor.booking.templatetags.booking_tags import when as format_when
from autodoctor.booking.views import customer_required, slot_picker_context
from autodoctor.dates import date_in_range
from autodoctor.errors import Conflict, InvalidInput, NotAllowed, NotFound, SlotUnavailable
from autodoctor.ratelimit import READ, rate_limited

from . import page_selectors, selectors, services
from .models import Visit, VisitMode, VisitStatus

View = Callable[..., HttpResponse]
BOARD_VIEWS = ("day", "week")


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _start(request: HttpRequest) -> datetime:
    raw = request.POST.get("start", "")
    if not raw:
        raise InvalidInput(_("Pick one of the free times."), field="start")
    try:
        return parse_start(raw)
    except ValidationError:  # not an offered time
        raise InvalidInput(
            _("That is not a time we offered; pick one again."), field="start"
        ) from None


def _optional_int(request: HttpRequest, name: str) -> int | None:
    raw = (request.POST.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        message = _("Choose a mechanic.") if name == "mechanic" else _("Choose a bay.")
        raise InvalidInput(message, field=name)
    return int(raw)


def _refused_time(request: HttpRequest, error: SlotUnavailable, workshop: Workshop, back: str):
    """A taken or closed time: back to the calendar with the message and the next free
    times, in the workshop's zone."""
    others = error.data.get("next_free_slots") or []
    hint = ", ".join(format_when(datetime.fromisoformat(s), workshop.time_zone) for s in others[:3])
    next_free = (" " + _("Next free: %(times)s.") % {"times": hint}) if hint else ""
    messages.error(request, error.message + next_free)
    return HttpResponseRedirect(back)


def _picker(request: HttpRequest, visit_workshop: Workshop, minutes: int, *, url: str, **kw):
    now = timezone.now()
    return slot_picker_context(
        request,
        lambda month: page_selectors.visit_month(
            visit_workshop, month, timedelta(minutes=minutes), now=now, **kw
        ),
        zone=page_selectors.workshop_zone(visit_workshop),
        url=url,
        now=now,
    )


# --------------------------------------------------------------------------- booking


def _completed_session(request: HttpRequest, session_id: int) -> Session:
    session = (
        Session.objects.filter(pk=session_id, customer=_user(request))
        .select_related("mechanic__user")
        .first()
    )
    if session is None:
        raise NotFound(_("No such session."))
    if session.status != SessionStatus.COMPLETED:
        raise Conflict(
            _("An in-person visit can be booked once the remote session is completed."),
            code="session_not_completed",
        )
    return session


def _open_visit(session: Session) -> Visit | None:
    return Visit.objects.filter(session=session, status__in=selectors.HOLDING_STATUSES).first()


@customer_required
def visit_new(request: HttpRequest, session_id: int) -> HttpResponse:
    """Step 1: pick a workshop, nearest first (customer's postal code, then city)."""
    session = _completed_session(request, session_id)
    profile = getattr(_user(request), "customer_profile", None)
    nearby = selectors.workshops_near(
        postal_code=getattr(profile, "postal_code", ""),
        city=getattr(profile, "city", ""),
        mechanic_workshop_id=session.mechanic.workshop_id if session.mechanic else None,
    )
    return render(
        request,
        "workshops/visit_new.html",
        {
            "session": session,
            "open_visit": _open_visit(session),
            "nearby": [
                (n, page_selectors.hours_summary(list(n.workshop.hours.all()))) for n in nearby
            ],
        },
    )


@customer_required
@rate_limited(READ)
def visit_new_at(request: HttpRequest, session_id: int, workshop_id: int) -> HttpResponse:
    """Step 2: the workshop's free times for this visit's length, then drop-off or wait
    and notes; vehicle, concern and diagnosis come from the session (shown, not asked).
    POST: the request (visit_request_from_session)."""
    session = _completed_session(request, session_id)
    workshop = Workshop.objects.filter(pk=workshop_id).first()
    if workshop is None:
        raise NotFound(_("No such workshop."))
    here = reverse("workshops:visit_new_at", args=[session.pk, workshop.pk])
    if request.method == "POST":
        request_ = services.VisitRequest(
            workshop_id=workshop.pk,
            starts_at=_start(request),
            mode=request.POST.get("mode") or VisitMode.DROP_OFF,
            notes=request.POST.get("notes", ""),
        )
        try:
            visit = services.visit_request_from_session(
                customer=_user(request), session_id=session.pk, request=request_
            )
        except SlotUnavailable as error:
            return _refused_time(request, error, workshop, here)
        messages.success(
            request,
            _("Sent to %(workshop)s. The time is held while they answer.") % {"workshop": workshop},
        )
        return redirect("workshops:visit_detail", visit.pk)
    service_type, minutes = services.visit_plan_for_session(session, workshop.pk)
    context = _picker(request, workshop, minutes, url=here)
    if _htmx(request):
        return render(request, "booking/_slot_picker.html#picker", context)
    return render(
        request,
        "workshops/visit_new_at.html",
        {
            "session": session,
            "workshop": workshop,
            "minutes": minutes,
            "service_type": service_type,
            "diagnosis": diagnosis_of(session),
            "open_visit": _open_visit(session),
            "modes": VisitMode.choices,
            **context,
        },
    )


# --------------------------------------------------------------------------- visit page


def _actions(visit: Visit, role: str, *, now: datetime) -> dict[str, bool]:
    """Which buttons the viewer sees. Only a hint: every service checks again."""
    status = visit.status
    waiting_open = visit.expires_at is None or visit.expires_at > now
    not_started = visit.starts_at > now
    if role == "customer":
        return {
            "accept_offer": status == VisitStatus.COUNTERED and waiting_open,
            "decline_offer": status == VisitStatus.COUNTERED,
            "cancel": status in (VisitStatus.REQUESTED, VisitStatus.CONFIRMED) and not_started,
            "move": status in (VisitStatus.REQUESTED, VisitStatus.CONFIRMED) and not_started,
        }
    if role != "workshop":
        return {}
    return {
        "confirm": status == VisitStatus.REQUESTED and waiting_open,
        "counter": status == VisitStatus.REQUESTED and waiting_open,
        "decline": status == VisitStatus.REQUESTED,
        "assign": status in (VisitStatus.REQUESTED, VisitStatus.CONFIRMED, VisitStatus.CHECKED_IN),
        "check_in": status == VisitStatus.CONFIRMED,
        "complete": status == VisitStatus.CHECKED_IN,
        "no_show": status == VisitStatus.CONFIRMED
        and now >= visit.starts_at + services.NO_SHOW_AFTER,
        "cancel": status in (VisitStatus.REQUESTED, VisitStatus.COUNTERED, VisitStatus.CONFIRMED)
        and not_started,
        "move": status == VisitStatus.CONFIRMED and not_started,
    }


@login_required
def visit_detail(request: HttpRequest, visit_id: int) -> HttpResponse:
    user = _user(request)
    visit = selectors.access_visit(user, visit_id)
    role = selectors.visit_role(visit, user)
    now = timezone.now()
    actions = _actions(visit, role, now=now)
    return render(
        request,
        "workshops/visit_detail.html",
        {
            "visit": visit,
            "role": role,
            "now": now,
            "actions": actions,
            "shop_zone": visit.workshop.time_zone,
            "customer_zone": visit.customer.time_zone
            if visit.customer.time_zone != visit.workshop.time_zone
            else "",
            "mechanics": page_selectors.workshop_mechanics(visit.workshop_id)
            if role == "workshop"
            else [],
            "bays": range(1, visit.workshop.max_concurrent_appointments + 1),
            "history": page_selectors.visit_history(visit),
            "hours": page_selectors.hours_summary(list(visit.workshop.hours.all())),
        },
    )


def _done(request: HttpRequest, visit: Visit, message: str) -> HttpResponse:
    messages.success(request, message)
    return redirect("workshops:visit_detail", visit.pk)


@login_required
@require_POST
def visit_accept_offer(request: HttpRequest, visit_id: int) -> HttpResponse:
    visit = services.visit_counter_accept(customer=_user(request), visit_id=visit_id)
    return _done(request, visit, "Accepted. Your visit is confirmed.")


@login_required
@require_POST
def visit_decline_offer(request: HttpRequest, visit_id: int) -> HttpResponse:
    visit = services.visit_counter_decline(customer=_user(request), visit_id=visit_id)
    return _done(request, visit, "Declined. The visit is cancelled; you can book another time.")


@login_required
@require_POST
def visit_cancel(request: HttpRequest, visit_id: int) -> HttpResponse:
    visit = services.visit_cancel(
        user=_user(request), visit_id=visit_id, reason=request.POST.get("reason", "")
    )
    return _done(request, visit, "The visit is cancelled and its time is free again.")


@login_required
@require_POST
def visit_confirm(request: HttpRequest, visit_id: int) -> HttpResponse:
    visit = services.visit_confirm(
        user=_user(request),
        visit_id=visit_id,
        mechanic_id=_optional_int(request, "mechanic"),
        bay=_optional_int(request, "bay"),
    )
    return _done(request, visit, "Confirmed. The customer is told.")


@login_required
@require_POST
def visit_decline(request: HttpRequest, visit_id: int) -> HttpResponse:
    visit = services.visit_decline(
        user=_user(request), visit_id=visit_id, reason=request.POST.get("reason", "")
    )
    return _done(request, visit, "Declined. The customer is told why.")


@login_required
@require_POST
def visit_assign(request: HttpRequest, visit_id: int) -> HttpResponse:
    visit = services.visit_assign(
        user=_user(request),
        visit_id=visit_id,
        mechanic_id=_optional_int(request, "mechanic"),
        bay=_optional_int(request, "bay"),
    )
    return _done(request, visit, "Saved.")


@login_required
@require_POST
def visit_check_in(request: HttpRequest, visit_id: int) -> HttpResponse:
    visit = services.visit_check_in(user=_user(request), visit_id=visit_id)
    return _done(request, visit, "Checked in.")


@login_required
@require_POST
def visit_complete(request: HttpRequest, visit_id: int) -> HttpResponse:
    visit = services.visit_complete(
        user=_user(request), visit_id=visit_id, notes=request.POST.get("notes", "")
    )
    return _done(request, visit, "Completed.")


@login_required
@require_POST
def visit_no_show(request: HttpRequest, visit_id: int) -> HttpResponse:
    visit = services.visit_no_show(user=_user(request), visit_id=visit_id)
    return _done(request, visit, "Marked as a no-show.")


def _time_page(request: HttpRequest, visit_id: int, *, counter: bool) -> HttpResponse:
    """A new time for a visit: the workshop's free times (the visit's own time not
    counting). counter: the workshop offers it for a request; else a move (customer or
    workshop, visit_reschedule)."""
    user = _user(request)
    visit = selectors.access_visit(user, visit_id)
    name = "workshops:visit_counter" if counter else "workshops:visit_move"
    here = reverse(name, args=[visit.pk])
    if request.method == "POST":
        try:
            if counter:
                visit = services.visit_counter(
                    user=user,
                    visit_id=visit.pk,
                    starts_at=_start(request),
                    reason=request.POST.get("reason", ""),
                )
            else:
                visit = services.visit_reschedule(
                    user=user, visit_id=visit.pk, starts_at=_start(request)
                )
        except SlotUnavailable as error:
            return _refused_time(request, error, visit.workshop, here)
        shown = format_when(visit.starts_at, visit.workshop.time_zone)
        if counter:
            return _done(request, visit, f"Offered {shown}. The customer is asked to answer.")
        if visit.status == VisitStatus.REQUESTED:
            return _done(request, visit, f"Asked for {shown}. The workshop is asked to answer.")
        return _done(request, visit, f"Moved to {shown}. The customer is told.")
    role = selectors.visit_role(visit, user)
    allowed = _actions(visit, role, now=timezone.now())
    if not allowed.get("counter" if counter else "move"):
        raise NotAllowed(
            (
                _("This visit is %(status)s; it cannot be offered another time now.")
                if counter
                else _("This visit is %(status)s; it cannot be moved now.")
            )
            % {"status": visit.get_status_display().lower()}
        )
    context = _picker(request, visit.workshop, visit.duration_minutes, url=here, ignore=(visit.pk,))
    if _htmx(request):
        return render(request, "booking/_slot_picker.html#picker", context)
    return render(
        request,
        "workshops/visit_time.html",
        {"visit": visit, "counter": counter, "shop_zone": visit.workshop.time_zone, **context},
    )


@login_required
@rate_limited(READ)
def visit_counter(request: HttpRequest, visit_id: int) -> HttpResponse:
    return _time_page(request, visit_id, counter=True)


@login_required
@rate_limited(READ)
def visit_move(request: HttpRequest, visit_id: int) -> HttpResponse:
    return _time_page(request, visit_id, counter=False)


# --------------------------------------------------------------------------- lists


@login_required
def my_visits(request: HttpRequest) -> HttpResponse:
    """A customer's visits (upcoming first); an assigned mechanic's workshop visits."""
    user = _user(request)
    upcoming, past = page_selectors.my_visits(user, now=timezone.now())
    return render(
        request,
        "workshops/my_visits.html",
        {
            "upcoming": upcoming,
            "past": past,
            "assigned": list(selectors.visits_for_mechanic(user)) if user.is_mechanic else [],
        },
    )


def staff_required(view: View) -> View:
    """Workshop owners and staff (and admins); the workshop asked for with ?workshop=
    must be one of theirs (else 404), default the first."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        ids = selectors.staff_workshop_ids(_user(request))
        if not ids:
            raise NotAllowed(_("This page is for workshop staff."))
        raw = request.GET.get("workshop", "")
        if raw and (not raw.isdigit() or int(raw) not in ids):
            raise NotFound(_("No such workshop."))
        shops = list(Workshop.objects.filter(pk__in=ids).prefetch_related("hours"))
        chosen = next((w for w in shops if str(w.pk) == raw), shops[0])
        return view(request, chosen, shops, *args, **kwargs)

    return wrapped


@staff_required
def appointments(request: HttpRequest, workshop: Workshop, shops: list[Workshop]) -> HttpResponse:
    """Pending / Confirmed / Completed / Closed tabs with their counts."""
    tab = request.GET.get("tab") if request.GET.get("tab") in selectors.TABS else "pending"
    counts = selectors.workshop_tab_counts(workshop.pk)
    return render(
        request,
        "workshops/appointments.html",
        {
            "workshop": workshop,
            "shops": shops,
            "tab": tab,
            "keep_tab": [("tab", tab)],
            "tabs": [(name, name.capitalize(), counts[name]) for name in selectors.TABS],
            "visits": selectors.workshop_visits(workshop.pk, tab),
            "shop_zone": workshop.time_zone,
            "now": timezone.now(),
        },
    )


@staff_required
def appointments_board(
    request: HttpRequest, workshop: Workshop, shops: list[Workshop]
) -> HttpResponse:
    """The day (bays × hours) or week (bays × days) board of confirmed visits."""
    view = request.GET.get("view") if request.GET.get("view") in BOARD_VIEWS else "day"
    zone = page_selectors.workshop_zone(workshop)
    try:
        anchor = date.fromisoformat(request.GET.get("date", ""))
    except ValueError:
        anchor = local_today(zone)
    date_in_range(anchor, field="date")
    return render(
        request,
        "workshops/board.html",
        {
            "workshop": workshop,
            "shops": shops,
            "board": page_selectors.board(workshop, view=view, anchor=anchor),
            "views": BOARD_VIEWS,
            "keep": [("view", view), ("date", anchor.isoformat())],
            "shop_zone": workshop.time_zone,
        },
    )
