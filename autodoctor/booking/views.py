"""Pages of the booking app: the customer's wizard, holds and My sessions; the
mechanic's offers inbox and unified calendar; the session page both parties share.

Views parse input, call one service (or selector) and render. Every view checks who is
asking: customers-only and mechanics-only pages answer 403 to others, a session that is
not yours answers 404 (selectors.session_for_user). DomainErrors are rendered by
web.middleware (htmx: into #flash; GET: error page; POST: flash + redirect back).
"""

import calendar
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import wraps
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from autodoctor.accounts.decorators import email_verified_required
from autodoctor.accounts.models import MechanicProfile, User
from autodoctor.availability.plans import PLAN_MINUTES
from autodoctor.dates import date_in_range
from autodoctor.errors import Conflict, InvalidInput, NotAllowed, NotFound, SlotUnavailable
from autodoctor.ratelimit import READ, rate_limited

from . import attachments, diagnosis, lifecycle, page_selectors, room, selectors, services
from . import waitlist as waitlist_service
from .forms import (
    AttachmentsForm,
    CancelForm,
    ConcernForm,
    MechanicForm,
    PlanForm,
    RescheduleForm,
    VehicleForm,
    WaitlistJoinForm,
    WhenForm,
)
from .matching import match_criteria
from .models import (
    Plan,
    Reservation,
    ReservationStatus,
    ServiceType,
    Session,
    SessionStatus,
    SessionType,
    Urgency,
    status_in_words,
)
from .state import ALLOWED
from .templatetags.booking_tags import when as format_when
from .wizard import ANY_MECHANIC, STEP_TITLES, STEPS, WizardState, next_step, previous_step

View = Callable[..., HttpResponse]


# --------------------------------------------------------------------------- access


def customer_required(view: View) -> View:
    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if not request.user.is_customer:  # type: ignore[union-attr]
            raise NotAllowed(_("This page is for customers."))
        return view(request, *args, **kwargs)

    return wrapped


def mechanic_required(view: View) -> View:
    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if getattr(request.user, "mechanic_profile", None) is None:
            raise NotAllowed(_("This page is for mechanics."))
        return view(request, *args, **kwargs)

    return wrapped


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _mechanic(request: HttpRequest) -> MechanicProfile:
    return request.user.mechanic_profile  # type: ignore[union-attr]


def _zone(request: HttpRequest) -> ZoneInfo:
    return ZoneInfo(_user(request).time_zone)


def _back(request: HttpRequest, default: str) -> HttpResponseRedirect:
    """Redirect to the form's `next` (same site only) or `default`."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}):
        target = default
    return HttpResponseRedirect(target)


def _parse_day(raw: str | None, *, field: str = "date") -> date | None:
    """A date from the query string; None when absent or unreadable (the page then shows
    today), InvalidInput when it is outside the supported dates."""
    try:
        day = date.fromisoformat(raw) if raw else None
    except ValueError:
        return None
    return date_in_range(day, field=field) if day else None


def checkout_url(reservation: Reservation) -> str | None:
    """The payments checkout for a hold, once the payments app provides it."""
    try:
        return reverse("payments:checkout", args=[reservation.pk])
    except NoReverseMatch:
        return None


def start_checkout_url(session: Session) -> str | None:
    """The payments checkout for a start-now session (paid before it goes out)."""
    try:
        return reverse("payments:start_checkout", args=[session.pk])
    except NoReverseMatch:
        return None


# --------------------------------------------------------------------------- slot picker


def _picker_context(
    request: HttpRequest,
    mechanic_ids: list[int],
    minutes: int,
    *,
    url: str,
    chosen: datetime | None = None,
    ignore: Reservation | None = None,
) -> dict:
    """Month calendar with free-slot counts plus the chosen day's slots (viewer's zone)."""
    zone = _zone(request)
    now = timezone.now()
    duration = timedelta(minutes=minutes)
    ignore_busy = {("reservation", ignore.pk)} if ignore else set()
    return slot_picker_context(
        request,
        lambda month: page_selectors.month_of_slots(
            mechanic_ids,
            month=month,
            duration=duration,
            zone=zone,
            now=now,
            ignore_busy=ignore_busy,
        ),
        zone=zone,
        url=url,
        chosen=chosen,
        now=now,
    )


def slot_picker_context(
    request: HttpRequest,
    grid_of: Callable[[date], page_selectors.MonthOfSlots],
    *,
    zone: ZoneInfo,
    url: str,
    now: datetime,
    chosen: datetime | None = None,
) -> dict:
    """The context of booking/_slot_picker.html#picker: the month (?month=YYYY-MM) and
    day (?day=YYYY-MM-DD) asked for, or the chosen time's, or the first with free times;
    `grid_of(first of month)` gives that month's free times in `zone`."""
    day = _parse_day(request.GET.get("day"), field="day") or (
        chosen.astimezone(zone).date() if chosen else None
    )
    month = (
        _parse_day((request.GET.get("month") or "") + "-01", field="month")
        if request.GET.get("month")
        else None
    )
    month = month or (day or page_selectors.local_today(zone, now=now)).replace(day=1)
    grid = grid_of(month)
    if day is None or (day.year, day.month) != (month.year, month.month):
        day = grid.first_day_with_slots
    slots = grid.slots_on(day) if day else []
    prev_day, next_day = page_selectors.neighbour_days(grid, day) if day else (None, None)
    periods = page_selectors.slot_periods(slots, zone)
    open_period = next(
        (p.name for p in periods if chosen in p.starts), periods[0].name if periods else ""
    )
    return {
        "grid": grid,
        "day": day,
        "slots": slots,
        "periods": periods,
        "open_period": open_period,
        "prev_day": prev_day,
        "next_day": next_day,
        "chosen": chosen,
        "picker_url": url,
        "zone_name": zone.key,
    }


# --------------------------------------------------------------------------- wizard


@customer_required
@email_verified_required
def wizard(request: HttpRequest) -> HttpResponse:
    """Continue the booking where the customer left it (or start it). `?mechanic=<id>`
    (from a mechanic's profile page) shows that mechanic's free times and picks them."""
    state = WizardState.load(request)
    preferred = request.GET.get("mechanic", "")
    if preferred.isdigit():
        state.preferred_mechanic = int(preferred)
        state.save(request)
    return redirect("booking:wizard_step", state.first_open_step())


@customer_required
@require_POST
def wizard_restart(request: HttpRequest) -> HttpResponse:
    WizardState.clear(request)
    return redirect("booking:wizard_step", STEPS[0])


@customer_required
@email_verified_required
def wizard_step(request: HttpRequest, step: str) -> HttpResponse:
    if step not in STEPS:
        raise Http404
    state = WizardState.load(request)
    if not state.may_open(step):
        return redirect("booking:wizard_step", state.first_open_step())
    return _STEP_VIEWS[step](request, state)


def _render_step(
    request: HttpRequest, state: WizardState, step: str, context: dict, *, status: int = 200
) -> HttpResponse:
    previous = previous_step(step)
    return render(
        request,
        f"booking/wizard_{step}.html",
        {
            "state": state,
            "step": step,
            "steps": [
                {"name": s, "title": STEP_TITLES[s], "done": s in state.done, "current": s == step}
                for s in STEPS
            ],
            "back_url": reverse("booking:wizard_step", args=[previous]) if previous else None,
            "plan": Plan.objects.filter(code=state.plan).first() if state.plan else None,
            **context,
        },
        status=status,
    )


def _advance(
    request: HttpRequest, state: WizardState, step: str, **answers: object
) -> HttpResponse:
    state.complete(step, **answers)
    state.save(request)
    return redirect("booking:wizard_step", next_step(step))


def _step_vehicle(request: HttpRequest, state: WizardState) -> HttpResponse:
    profile = getattr(request.user, "customer_profile", None)
    vehicles = list(profile.vehicles.all()) if profile else []
    initial = {"vehicle": str(state.vehicle_id) if state.vehicle_id else "new"}
    if not state.vehicle_id and not state.vehicle_label and vehicles:
        initial["vehicle"] = str(vehicles[0].pk)
    if state.vehicle_label and not state.vehicle_id:
        year, _sep, rest = state.vehicle_label.partition(" ")
        make, _sep, model = rest.partition(" ")
        initial.update(year=year, make=make, model=model)
    form = VehicleForm(request.POST or None, vehicles=vehicles, initial=initial)
    if request.method == "POST":
        if form.is_valid():
            return _advance(request, state, "vehicle", **form.answers())
        return _render_step(request, state, "vehicle", {"form": form}, status=422)
    return _render_step(request, state, "vehicle", {"form": form})


def _plans() -> list[Plan]:
    return [p for p in Plan.objects.filter(is_active=True) if p.code in PLAN_MINUTES]


def _step_plan(request: HttpRequest, state: WizardState) -> HttpResponse:
    plans = _plans()
    form = PlanForm(
        request.POST or None,
        plans=plans,
        initial={"plan": state.plan, "session_type": state.session_type},
    )
    if request.method == "POST":
        if form.is_valid():
            return _advance(
                request,
                state,
                "plan",
                plan=form.cleaned_data["plan"],
                session_type=form.cleaned_data["session_type"],
            )
        return _render_step(request, state, "plan", {"form": form, "plans": plans}, status=422)
    return _render_step(request, state, "plan", {"form": form, "plans": plans})


def _wizard_criteria(request: HttpRequest, state: WizardState, *, at: datetime | None):
    return match_criteria(
        _user(request),
        concern=state.concern,
        brand=state.brand,
        at=at,
        minutes=PLAN_MINUTES[state.plan],
    )


def _wizard_picker(request: HttpRequest, state: WizardState) -> dict:
    candidates = (
        [state.preferred_mechanic]
        if state.preferred_mechanic
        else page_selectors.calendar_candidates(_wizard_criteria(request, state, at=None))
    )
    context = _picker_context(
        request,
        candidates,
        PLAN_MINUTES[state.plan],
        url=reverse("booking:wizard_slots"),
        chosen=state.start_at,
    )
    # No time that day (or month) suits: the picker offers the waitlist for it.
    context["waitlist_url"] = reverse("booking:waitlist_join")
    return context


def _step_when(request: HttpRequest, state: WizardState) -> HttpResponse:
    form = WhenForm(
        request.POST or None,
        initial={"mode": request.GET.get("mode") or state.mode, "start": state.start},
    )
    if request.method == "POST":
        if form.is_valid():
            start = form.cleaned_data["start"]
            scheduled = form.cleaned_data["mode"] == "scheduled"
            return _advance(
                request,
                state,
                "when",
                mode=form.cleaned_data["mode"],
                start=start.isoformat() if scheduled and start else "",
            )
        mode = request.POST.get("mode")
    else:
        mode = form.initial["mode"]
    context = {"form": form, "mode": mode}
    if mode == "scheduled":
        context.update(_wizard_picker(request, state))
    return _render_step(
        request, state, "when", context, status=422 if request.method == "POST" else 200
    )


@customer_required
@rate_limited(READ)
def wizard_slots(request: HttpRequest) -> HttpResponse:
    """htmx: the wizard's schedule panel (month calendar + a day's free times), or
    nothing when the customer switches back to "Start now"."""
    state = WizardState.load(request)
    if not state.may_open("when"):
        raise InvalidInput(_("Choose a vehicle and a plan first."), field="plan")
    if request.GET.get("mode") == "now":
        return HttpResponse("")
    return render(request, "booking/_slot_picker.html#picker", _wizard_picker(request, state))


def _any_mechanic_pick(
    request: HttpRequest, state: WizardState, *, now: datetime
) -> tuple[MechanicProfile | None, datetime | None, str]:
    """What "Any mechanic" means for a chosen time, said and done the same way on the
    mechanic step and at review: the best match who is free at that time; if nobody is,
    the earliest free time after it with any mechanic. Returns (mechanic, start, how)."""
    at = state.start_at
    best = page_selectors.mechanic_choices(
        _wizard_criteria(request, state, at=at), limit=1, now=now
    )
    if best:
        return best[0].mechanic, at, "best_match"
    found = page_selectors.earliest_with_anyone(PLAN_MINUTES[state.plan], after=at, now=now)
    return (found[0], found[1], "earliest") if found else (None, None, "none")


def _step_mechanic(request: HttpRequest, state: WizardState) -> HttpResponse:
    now = timezone.now()
    at = state.start_at if state.scheduled else None
    criteria = _wizard_criteria(request, state, at=at)
    choices = page_selectors.mechanic_choices(
        criteria, limit=page_selectors.MECHANIC_CHOICES if at else 3, now=now
    )
    if not state.scheduled:
        # "Start now": the request goes to the best matches first (plan §1.2); the
        # customer only sees who they are. Nothing to choose.
        if request.method == "POST":
            return _advance(request, state, "mechanic", mechanic="")
        return _render_step(
            request,
            state,
            "mechanic",
            {"choices": choices, "targeted_minutes": settings.TARGETED_OFFER_SECONDS // 60},
        )
    options = [(str(c.mechanic.pk), str(c.mechanic)) for c in choices] + [
        (ANY_MECHANIC, _("Any mechanic"))
    ]
    preferred = str(state.preferred_mechanic or "")
    default = preferred if any(value == preferred for value, _ in options) else ANY_MECHANIC
    form = MechanicForm(
        request.POST or None, choices=options, initial={"mechanic": state.mechanic or default}
    )
    if request.method == "POST" and form.is_valid():
        return _advance(request, state, "mechanic", mechanic=form.cleaned_data["mechanic"])
    if choices:
        anyone = (choices[0].mechanic, at, "best_match")
    else:
        anyone = _any_mechanic_pick(request, state, now=now)
    return _render_step(
        request,
        state,
        "mechanic",
        {"choices": choices, "form": form, "anyone": anyone},
        status=422 if request.method == "POST" else 200,
    )


def _intake(
    request: HttpRequest,
    state: WizardState,
    concern: str | None = None,
    *,
    with_attachments: bool = False,
):
    return services.intake_validate(
        customer=_user(request),
        plan=state.plan,
        concern=state.concern if concern is None else concern,
        session_type=state.session_type,
        vehicle_id=state.vehicle_id,
        vehicle_label=state.vehicle_label,
        brand=state.brand,
        attachment_ids=_pending_uploads(request, state) if with_attachments else (),
    )


def _pending_uploads(request: HttpRequest, state: WizardState) -> list[int]:
    """The wizard's uploads that are still there (a sweep may have removed old ones)."""
    found = set(
        attachments.pending_for(_user(request), state.attachments).values_list("pk", flat=True)
    )
    return [pk for pk in state.attachments if pk in found]


def _step_concern(request: HttpRequest, state: WizardState) -> HttpResponse:
    form = ConcernForm(
        request.POST or None, request.FILES or None, initial={"concern": state.concern}
    )
    # Only the hint; the rule itself is enforced by services.intake_validate (plan §1.2).
    minimum = services.concern_minimum(state.plan)
    status = 422
    if request.method == "POST" and form.is_valid():
        concern = form.cleaned_data["concern"].strip()
        files = form.cleaned_data["attachments"]
        try:
            _intake(request, state, concern)  # the rules live in the service
            state.attachments = _pending_uploads(request, state)
            if files:  # all or nothing: one bad file stores none of them
                added = attachments.attachments_add_pending(
                    customer=_user(request), files=files, pending_ids=state.attachments
                )
                state.attachments += [row.pk for row in added]
        except attachments.AttachmentRefused as error:
            form.add_error("attachments", error.message)
            status = error.status
        except InvalidInput as error:
            field = error.data.get("field")
            form.add_error("concern" if field == "concern" else None, error.message)
        else:
            if request.POST.get("upload") == "more":  # "Upload" stays on this step
                state.concern = concern
                state.save(request)
                return redirect("booking:wizard_step", "concern")
            return _advance(request, state, "concern", concern=concern)
    return _render_step(
        request,
        state,
        "concern",
        {
            "form": form,
            "minimum": minimum,
            "uploads": attachments.pending_for(_user(request), state.attachments),
            "attachments_max": settings.INTAKE_ATTACHMENTS_MAX,
            "photo_max_mb": settings.INTAKE_PHOTO_MAX_MB,
            "video_max_mb": settings.INTAKE_VIDEO_MAX_MB,
        },
        status=status if request.method == "POST" else 200,
    )


@customer_required
@require_POST
def intake_attachment_remove(request: HttpRequest, attachment_id: int) -> HttpResponse:
    """The wizard: take back an upload before the session is created."""
    attachments.attachment_remove_pending(customer=_user(request), attachment_id=attachment_id)
    state = WizardState.load(request)
    state.attachments = [pk for pk in state.attachments if pk != attachment_id]
    state.save(request)
    return redirect("booking:wizard_step", "concern")


@login_required
def attachment_file(request: HttpRequest, attachment_id: int) -> HttpResponse:
    """A photo or video of the problem, streamed after the check (booking/attachments.py:
    its customer and the session's assigned mechanic only; 404 for anyone else)."""
    row = attachments.attachment_for_viewer(attachment_id, _user(request))
    return attachments.attachment_response(row)


@login_required
@require_POST
def session_attachments_add(request: HttpRequest, session_id: int) -> HttpResponse:
    """The customer adds photos or video to their open session."""
    form = AttachmentsForm(request.POST, request.FILES)
    files = form.cleaned_data["attachments"] if form.is_valid() else []
    rows = attachments.attachments_add(session_id=session_id, user=_user(request), files=files)
    messages.success(
        request,
        ngettext("Added %(n)s file.", "Added %(n)s files.", len(rows)) % {"n": len(rows)},
    )
    return redirect("booking:session_detail", session_id)


def _step_review(request: HttpRequest, state: WizardState) -> HttpResponse:
    now = timezone.now()
    mechanic = None
    start = state.start_at
    if state.scheduled and state.any_mechanic:
        mechanic, start, _how = _any_mechanic_pick(request, state, now=now)
    elif state.scheduled and state.mechanic_id:
        mechanic = (
            MechanicProfile.objects.select_related("user").filter(pk=state.mechanic_id).first()
        )
    if request.method != "POST":
        session_type_label = dict(SessionType.choices).get(state.session_type, state.session_type)
        uploads = attachments.pending_for(_user(request), state.attachments)
        return _render_step(
            request,
            state,
            "review",
            {
                "mechanic": mechanic,
                "start": start,
                "session_type_label": session_type_label,
                "uploads": uploads,
            },
        )
    intake = _intake(request, state, with_attachments=True)
    customer = _user(request)
    if not state.scheduled:
        session = services.session_create_immediate(customer=customer, intake=intake)
        WizardState.clear(request)
        return redirect(
            start_checkout_url(session) or reverse("booking:waiting", args=[session.pk])
        )
    try:
        reservation = services.reservation_hold_for_request(
            customer=customer,
            intake=intake,
            mechanic_id=mechanic.pk if mechanic else None,
            starts_at=start,
        )
    except SlotUnavailable as error:
        # Someone was faster: send the customer back to the calendar with the news.
        others = error.data.get("next_free_slots") or []
        hint = ", ".join(format_when(datetime.fromisoformat(s), customer) for s in others[:3])
        next_free = " " + _("Next free: %(times)s.") % {"times": hint} if hint else ""
        messages.error(request, error.message + next_free)
        state.done = [s for s in state.done if s in ("vehicle", "plan")]
        state.save(request)
        return redirect("booking:wizard_step", "when")
    WizardState.clear(request)
    return redirect(checkout_url(reservation) or reverse("booking:hold", args=[reservation.pk]))


_STEP_VIEWS: dict[str, Callable[[HttpRequest, WizardState], HttpResponse]] = {
    "vehicle": _step_vehicle,
    "plan": _step_plan,
    "when": _step_when,
    "mechanic": _step_mechanic,
    "concern": _step_concern,
    "review": _step_review,
}


# --------------------------------------------------------------------------- hold, confirm


@customer_required
def hold(request: HttpRequest, reservation_id: int) -> HttpResponse:
    """An open hold: sent on to the payments checkout when that exists; otherwise (the
    fallback) shown here with its countdown and a confirm button for free plans."""
    reservation = page_selectors.hold_for_customer(reservation_id, _user(request))
    if reservation.status == ReservationStatus.CONFIRMED:
        return redirect("booking:confirmation", reservation.session_id)
    checkout = checkout_url(reservation)
    if checkout and reservation.status == ReservationStatus.RESERVED:
        return redirect(checkout)  # the payments app's checkout shows the same and pays
    expired = reservation.status != ReservationStatus.RESERVED or (
        reservation.expires_at is not None and reservation.expires_at <= timezone.now()
    )
    return render(
        request,
        "booking/hold.html",
        {
            "reservation": reservation,
            "session": reservation.session,
            "expired": expired,
        },
    )


@customer_required
@require_POST
def hold_confirm(request: HttpRequest, reservation_id: int) -> HttpResponse:
    reservation = services.reservation_confirm_checked(
        reservation_id=reservation_id,
        customer=_user(request),
        waiver_accepted=request.POST.get("waiver_accepted") == "yes",
    )
    return redirect("booking:confirmation", reservation.session_id)


@customer_required
@require_POST
def hold_release(request: HttpRequest, reservation_id: int) -> HttpResponse:
    services.reservation_release(reservation_id=reservation_id, customer=_user(request))
    messages.success(request, _("The time is released. Nothing was charged."))
    return _back(request, reverse("booking:my_sessions"))


# --------------------------------------------------------------------------- waitlist


@customer_required
def waitlist(request: HttpRequest) -> HttpResponse:
    """My waitlist: what the customer waits for, a time held for them, leave."""
    return render(
        request,
        "booking/waitlist.html",
        {"entries": waitlist_service.waitlist_for_customer(_user(request)), "now": timezone.now()},
    )


def _waitlist_mechanics(request: HttpRequest, state: WizardState) -> list[tuple[str, str]]:
    """ "Any mechanic", the mechanic the customer came from (or asked for by ?mechanic=),
    and the wizard calendar's best matches."""
    ids = page_selectors.calendar_candidates(_wizard_criteria(request, state, at=None))
    wanted = request.GET.get("mechanic") or request.POST.get("mechanic") or ""
    extra = [state.preferred_mechanic] + ([int(wanted)] if wanted.isdigit() else [])
    ids = [i for i in extra if i] + [i for i in ids if i not in extra]
    profiles = MechanicProfile.objects.approved().select_related("user").in_bulk(ids)
    return [(ANY_MECHANIC, _("Any mechanic"))] + [
        (str(i), str(profiles[i])) for i in ids if i in profiles
    ]


@customer_required
@email_verified_required
def waitlist_join(request: HttpRequest) -> HttpResponse:
    """Join the waitlist from the wizard's "When" step, with its vehicle and plan."""
    state = WizardState.load(request)
    if not state.may_open("when"):
        messages.info(request, _("Choose a vehicle and a plan first."))
        return redirect("booking:wizard")
    today = page_selectors.local_today(_zone(request), now=timezone.now())
    first = _parse_day(request.GET.get("day"), field="day") or today
    mechanics = _waitlist_mechanics(request, state)
    wanted = request.GET.get("mechanic") or str(state.preferred_mechanic or ANY_MECHANIC)
    form = WaitlistJoinForm(
        request.POST or None,
        mechanics=mechanics,
        initial={
            "mechanic": wanted if any(v == wanted for v, _ in mechanics) else ANY_MECHANIC,
            "first_day": max(first, today),
            "last_day": max(first, today) + timedelta(days=6),
            "concern": state.concern,
        },
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            waitlist_service.waitlist_join(
                customer=_user(request),
                intake=_intake(request, state, data["concern"]),
                mechanic_id=None if data["mechanic"] == ANY_MECHANIC else int(data["mechanic"]),
                first_day=data["first_day"],
                last_day=data["last_day"],
            )
        except InvalidInput as error:
            field = error.data.get("field")
            form.add_error(field if field in form.fields else None, error.message)
        else:
            messages.success(
                request,
                _(
                    "You are on the waitlist. When a time frees up we hold it for you and email you."
                ),
            )
            return redirect("booking:waitlist")
    return render(
        request,
        "booking/waitlist_join.html",
        {
            "form": form,
            "plan": Plan.objects.filter(code=state.plan).first(),
            "claim_minutes": settings.WAITLIST_CLAIM_MINUTES,
            "max_days": settings.WAITLIST_MAX_DAYS,
        },
        status=422 if request.method == "POST" else 200,
    )


@customer_required
@require_POST
def waitlist_leave(request: HttpRequest, entry_id: int) -> HttpResponse:
    waitlist_service.waitlist_leave(entry_id=entry_id, customer=_user(request))
    messages.success(request, _("You left the waitlist."))
    return _back(request, reverse("booking:waitlist"))


@customer_required
def waitlist_claim(request: HttpRequest, session_id: int) -> HttpResponse:
    """The emailed claim link: the time held for the customer, on to checkout."""
    entry, hold = waitlist_service.claim_for_customer(session_id, _user(request))
    if hold.status == ReservationStatus.CONFIRMED:
        return redirect("booking:confirmation", hold.session_id)
    held = hold.status == ReservationStatus.RESERVED and (
        hold.expires_at is not None and hold.expires_at > timezone.now()
    )
    return render(
        request,
        "booking/waitlist_claim.html",
        {
            "entry": entry,
            "reservation": hold,
            "session": hold.session,
            "held": held,
            "checkout": (checkout_url(hold) if held else None)
            or reverse("booking:hold", args=[hold.pk]),
        },
    )


@login_required
def confirmation(request: HttpRequest, session_id: int) -> HttpResponse:
    """ "You're booked": the time in both parties' zones, add-to-calendar, reschedule or
    cancel, what happens next, and the receipt one click away."""
    from autodoctor.payments.models import Payment

    user = _user(request)
    session = selectors.session_for_user(session_id, user)
    payment = Payment.objects.filter(session=session).order_by("-created_at").first()
    now = timezone.now()
    return render(
        request,
        "booking/confirmation.html",
        {
            "session": session,
            "reservation": page_selectors.session_reservation(session),
            "receipt_url": reverse("payments:receipt", args=[payment.pk]) if payment else None,
            "calendar": page_selectors.add_to_calendar(session) if session.scheduled_for else None,
            "mechanic_zone": session.mechanic.user.time_zone if session.mechanic else None,
            **_session_actions(session, user, now=now),
        },
    )


# --------------------------------------------------------------------------- start now


@login_required
def waiting(request: HttpRequest, session_id: int) -> HttpResponse:
    """ "Start now": the customer waits here while mechanics see the offers; the status
    block polls every 5 s until one accepts. Before the session is paid for it links to
    the checkout instead (nothing to wait for yet)."""
    session = selectors.session_for_user(session_id, _user(request))
    template = "booking/waiting.html#status" if request.htmx else "booking/waiting.html"  # type: ignore[attr-defined]
    return render(
        request,
        template,
        {
            "session": session,
            "awaiting_payment": session.awaiting_payment,
            "pay_url": start_checkout_url(session) if session.awaiting_payment else None,
            "wait_minutes": settings.START_NOW_WAIT_MINUTES,
            "is_customer": session.customer_id == request.user.pk,
        },
    )


# --------------------------------------------------------------------------- my sessions


@login_required
def my_sessions(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    upcoming, past = page_selectors.my_sessions(user)
    now = timezone.now()
    for session in [*upcoming, *past]:  # the same rules as the detail page, per row
        session.actions = _session_actions(session, user, now=now)
    return render(
        request, "booking/my_sessions.html", {"upcoming": upcoming, "past": past, "now": now}
    )


def _session_actions(session: Session, user: User, *, now: datetime) -> dict:
    cutoff = timedelta(minutes=settings.RESCHEDULE_CUTOFF_MINUTES)
    scheduled = session.status == SessionStatus.SCHEDULED and session.scheduled_for is not None
    opens_at = session.scheduled_for - services.EARLY_START if scheduled else None
    return {
        "can_start": session.status == SessionStatus.WAITING
        or (scheduled and opens_at is not None and now >= opens_at),
        "opens_at": opens_at if scheduled and opens_at and now < opens_at else None,
        "can_end": session.status == SessionStatus.LIVE,
        "can_cancel": SessionStatus.CANCELLED in ALLOWED[session.status],
        "can_reschedule": scheduled and session.scheduled_for - now >= cutoff,
        "reason_required": session.mechanic_id is not None
        and session.mechanic_id == getattr(getattr(user, "mechanic_profile", None), "pk", None),
        "pay_url": start_checkout_url(session)
        if session.awaiting_payment and user.pk == session.customer_id
        else None,
    }


@login_required
def session_detail(request: HttpRequest, session_id: int) -> HttpResponse:
    user = _user(request)
    session = selectors.session_for_user(session_id, user)
    now = timezone.now()
    context = {
        "session": session,
        "attachments": attachments.session_attachments(session, user),
        "may_attach": user.pk == session.customer_id
        and session.status in attachments.OPEN_STATUSES,
        "attachments_form": AttachmentsForm(),
        "diagnosis": diagnosis.diagnosis_of(session),
        "hold": selectors.current_hold(session),
        "answer_by": selectors.session_request_deadline(session),
        "history": page_selectors.session_history(session),
        "now": now,
        "next": request.GET.get("next", ""),
        **_session_actions(session, user, now=now),
    }
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "booking/session_detail.html#summary", context)
    return render(request, "booking/session_detail.html", context)


@login_required
@require_POST
def session_start(request: HttpRequest, session_id: int) -> HttpResponse:
    services.session_start(session_id=session_id, user=_user(request))
    messages.success(request, _("The session is live."))
    return _back(request, reverse("booking:session_detail", args=[session_id]))


@login_required
@require_POST
def session_end(request: HttpRequest, session_id: int) -> HttpResponse:
    services.session_end(session_id=session_id, user=_user(request))
    messages.success(request, _("The session is completed."))
    return _back(request, reverse("booking:session_detail", args=[session_id]))


@login_required
@require_POST
def session_extend(request: HttpRequest, session_id: int) -> HttpResponse:
    session = lifecycle.session_extend(session_id=session_id, user=_user(request))
    ends_at = lifecycle.session_ends_at(session)
    messages.success(
        request,
        _("Extended by 15 minutes: it now ends at %(time)s.")
        % {"time": format_when(ends_at, _user(request))},
    )
    return _back(request, reverse("booking:room", args=[session_id]))


@login_required
@require_POST
def session_diagnosis(request: HttpRequest, session_id: int) -> HttpResponse:
    """The mechanic's diagnosis form in the room; "Write diagnosis and complete" also
    completes the live session. Refusals come back next to their field (web.middleware)."""
    raw_minutes = request.POST.get("estimated_labour_minutes", "").strip()
    if not raw_minutes.isdigit():
        raise InvalidInput(
            _("Estimated labour time is a whole number of minutes."),
            field="estimated_labour_minutes",
        )
    complete = request.POST.get("complete") == "1"
    diagnosis.diagnosis_save(
        session_id=session_id,
        user=_user(request),
        findings=request.POST.get("findings", ""),
        service_type=request.POST.get("service_type", ""),
        estimated_labour_minutes=int(raw_minutes),
        parts=request.POST.get("parts", ""),
        urgency=request.POST.get("urgency", ""),
        complete=complete,
    )
    if complete:
        messages.success(request, _("Diagnosis saved and the session is completed."))
    else:
        messages.success(request, _("Diagnosis saved. The customer sees it on the session page."))
    return redirect("booking:room", session_id)


@login_required
def session_cancel(request: HttpRequest, session_id: int) -> HttpResponse:
    """GET: what cancelling now would mean, the refund first (the payments policy's own
    answer for these facts); POST: cancel."""
    user = _user(request)
    if request.method == "POST":
        form = CancelForm(request.POST)
        reason = form.cleaned_data["reason"] if form.is_valid() else ""
        services.session_cancel(session_id=session_id, user=user, reason=reason)
        messages.success(request, _("The session is cancelled and its time is free again."))
        return _back(request, reverse("booking:my_sessions"))
    from autodoctor.payments.selectors import refund_preview

    session = selectors.session_for_user(session_id, user)
    now = timezone.now()
    actions = _session_actions(session, user, now=now)
    if not actions["can_cancel"]:
        raise Conflict(
            _("This session is %(status)s; it can no longer be cancelled.")
            % {"status": status_in_words(session.status)},
            code="invalid_transition",
        )
    hours_before, no_show = services.cancellation_terms(session, now=now)
    party = services.session_party(session, user)
    return render(
        request,
        "booking/cancel.html",
        {
            "session": session,
            "refund": refund_preview(
                session,
                cancelled_by=party,
                hours_before_start=hours_before,
                mechanic_no_show=no_show,
            ),
            "hours_before": hours_before,
            "party": party,
            "next": request.GET.get("next", ""),
            **actions,
        },
    )


@login_required
def session_reschedule(request: HttpRequest, session_id: int) -> HttpResponse:
    """Pick a new time among the same mechanic's free slots."""
    user = _user(request)
    session = selectors.session_for_user(session_id, user)
    if request.method == "POST":
        form = RescheduleForm(request.POST)
        if form.is_valid():
            services.session_reschedule(
                session_id=session.pk, user=user, new_start=form.cleaned_data["start"]
            )
            messages.success(
                request,
                _("Moved to %(time)s.") % {"time": format_when(form.cleaned_data["start"], user)},
            )
            return _back(request, reverse("booking:my_sessions"))
        messages.error(request, _("Pick one of the free times."))
    if session.status != SessionStatus.SCHEDULED or session.mechanic_id is None:
        raise Conflict(
            _("Only a scheduled session can be rescheduled; this one is %(status)s.")
            % {"status": status_in_words(session.status)},
            code="invalid_transition",
        )
    current = page_selectors.session_reservation(session)
    context = _picker_context(
        request,
        [session.mechanic_id],
        session.duration_minutes,
        url=reverse("booking:session_reschedule", args=[session.pk]),
        chosen=session.scheduled_for,
        ignore=current,
    )
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "booking/_slot_picker.html#picker", context)
    return render(request, "booking/reschedule.html", {"session": session, **context})


# --------------------------------------------------------------------------- session room


def _room_context(session: Session, user: User, *, now: datetime) -> dict:
    joined = room.joined_parties(session)
    party = services.session_party(session, user)
    return {
        "session": session,
        "party": party,
        "joined": joined,
        "me_joined": party in joined,
        "other_joined": ({"customer", "mechanic"} - {party}) <= joined,
        "other": session.mechanic if party == "customer" else session.customer,
        "can_join": room.can_join(session, now=now) and party in ("customer", "mechanic"),
        "opens_at": room.join_opens_at(session),
        "call_url": room.call_url(session),
        "is_mechanic": party == "mechanic",
        "ends_at": lifecycle.session_ends_at(session) if session.status == "live" else None,
        **_session_actions(session, user, now=now),
    }


@login_required
def session_room(request: HttpRequest, session_id: int) -> HttpResponse:
    """Both parties' room: Join from 15 minutes before; live once both joined or either
    started it; the mechanic ends it here. The status block polls every 5 s."""
    user = _user(request)
    session = selectors.session_for_user(session_id, user)
    now = timezone.now()
    context = _room_context(session, user, now=now)
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "booking/room.html#status", context)
    # The diagnosis form sits outside the polled status block, so typing is never lost.
    if context["is_mechanic"] and diagnosis.diagnosis_writable(session, now=now):
        context.update(
            diagnosis=diagnosis.diagnosis_of(session),
            diagnosis_until=diagnosis.diagnosis_editable_until(session),
            service_types=ServiceType.choices,
            urgencies=Urgency.choices,
            can_diagnose=True,
        )
    return render(request, "booking/room.html", context)


@login_required
@require_POST
def session_room_join(request: HttpRequest, session_id: int) -> HttpResponse:
    session = room.session_join(session_id=session_id, user=_user(request))
    if session.status == SessionStatus.LIVE:
        messages.success(request, _("You're in. The session is live."))
    else:
        messages.success(request, _("You're in. The session goes live when the other side joins."))
    return redirect("booking:room", session_id)


@login_required
def session_room_call(request: HttpRequest, session_id: int) -> HttpResponse:
    """The built-in placeholder for the video/chat (SESSION_ROOM_URL_TEMPLATE empty)."""
    session = selectors.session_for_user(session_id, _user(request))
    return render(request, "booking/room_call.html", {"session": session})


# --------------------------------------------------------------------------- offers inbox


GONE = gettext_lazy(
    "This session is no longer available: another mechanic took it, or the customer cancelled."
)


def _offers_context(request: HttpRequest) -> dict:
    mechanic = _mechanic(request)
    return {
        "offers": page_selectors.offers_with_earnings(mechanic),
        "targeted_minutes": settings.TARGETED_OFFER_SECONDS // 60,
        "online": mechanic.is_online,
    }


@mechanic_required
def offers(request: HttpRequest) -> HttpResponse:
    template = "booking/offers.html#list" if request.htmx else "booking/offers.html"  # type: ignore[attr-defined]
    return render(request, template, _offers_context(request))


def _offer_card(
    request: HttpRequest, offer_id: int, outcome: str, **context: object
) -> HttpResponse:
    if not request.htmx:  # type: ignore[attr-defined]
        return redirect("booking:offers")
    return render(
        request,
        "booking/offers.html#outcome",
        {"offer_id": offer_id, "outcome": outcome, **context},
    )


@mechanic_required
@require_POST
def offer_accept(request: HttpRequest, offer_id: int) -> HttpResponse:
    try:
        session = services.offer_accept(offer_id=offer_id, mechanic=_mechanic(request))
    except (Conflict, NotFound) as error:
        # The usual race: another mechanic was first (a taken offer leaves the inbox,
        # so it may also answer "not found"). Say so in place of the card.
        message = error.message if isinstance(error, Conflict) else str(GONE)
        if not request.htmx:  # type: ignore[attr-defined]
            messages.info(request, message)
        return _offer_card(request, offer_id, "taken", message=message)
    if not request.htmx:  # type: ignore[attr-defined]
        messages.success(request, _("Accepted. The session is yours."))
        return redirect("booking:session_detail", session.pk)
    return _offer_card(
        request, offer_id, "accepted", session=session, message=_("Accepted. The session is yours.")
    )


@mechanic_required
@require_POST
def offer_decline(request: HttpRequest, offer_id: int) -> HttpResponse:
    try:
        services.offer_decline(offer_id=offer_id, mechanic=_mechanic(request))
    except (Conflict, NotFound):
        if not request.htmx:  # type: ignore[attr-defined]
            messages.info(request, str(GONE))
        return _offer_card(request, offer_id, "taken", message=str(GONE))
    declined = _("Declined. Declining carries no penalty and is not counted.")
    if not request.htmx:  # type: ignore[attr-defined]
        messages.success(request, declined)
    return _offer_card(request, offer_id, "declined", message=declined)


# --------------------------------------------------------------------------- calendar

CALENDAR_VIEWS = ("day", "week", "month")


def _calendar_days(view: str, anchor: date) -> tuple[list[date], set[date], date, date]:
    """(days shown, days in range, previous anchor, next anchor) for a view."""
    if view == "day":
        return [anchor], {anchor}, anchor - timedelta(days=1), anchor + timedelta(days=1)
    if view == "week":
        sunday = anchor - timedelta(days=(anchor.weekday() + 1) % 7)
        days = [sunday + timedelta(days=i) for i in range(7)]
        return days, set(days), anchor - timedelta(days=7), anchor + timedelta(days=7)
    first = anchor.replace(day=1)
    weeks = calendar.Calendar(calendar.SUNDAY).monthdatescalendar(first.year, first.month)
    days = [d for week in weeks for d in week]
    in_month = {d for d in days if d.month == first.month}
    prev_month = (first - timedelta(days=1)).replace(day=1)
    next_month = (first + timedelta(days=32)).replace(day=1)
    return days, in_month, prev_month, next_month


def _calendar_context(request: HttpRequest, mechanic: MechanicProfile) -> dict:
    """The unified calendar of one mechanic in the viewer's zone: day and week as an hour
    grid, month as an overview with the chosen day's list below."""
    zone = _zone(request)
    view = request.GET.get("view") if request.GET.get("view") in CALENDAR_VIEWS else "week"
    now = timezone.now()
    today = page_selectors.local_today(zone, now=now)
    anchor = _parse_day(request.GET.get("date")) or today
    days, in_range, prev_anchor, next_anchor = _calendar_days(view, anchor)
    columns = page_selectors.mechanic_calendar(
        mechanic, days, zone=zone, in_range=in_range, now=now
    )
    local_now = now.astimezone(zone)
    return {
        "view": view,
        "views": CALENDAR_VIEWS,
        "anchor": anchor,
        "today": today,
        "columns": columns,
        "weeks": [columns[i : i + 7] for i in range(0, len(columns), 7)],
        "chosen": next((c for c in columns if c.day == anchor), None),
        "prev_anchor": prev_anchor,
        "next_anchor": next_anchor,
        "zone_name": zone.key,
        "hours": range(24),
        "now_minute": local_now.hour * 60 + local_now.minute,
    }


@mechanic_required
def mechanic_calendar(request: HttpRequest) -> HttpResponse:
    """Sessions, holds, free time and time off in one calendar (plan §10.2)."""
    return render(request, "booking/calendar.html", _calendar_context(request, _mechanic(request)))


def admin_required(view: View) -> View:
    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if not _user(request).is_platform_admin:
            raise NotFound(_("No such page."))
        return view(request, *args, **kwargs)

    return wrapped


@admin_required
def admin_schedule(request: HttpRequest) -> HttpResponse:
    """Admins: any mechanic's calendar, where a session is moved by dragging it to a
    new time (plan §10.2), or with its "Move…" link (keyboard, no JavaScript)."""
    mechanics = list(MechanicProfile.objects.select_related("user").order_by("user__full_name"))
    raw = request.GET.get("mechanic", "")
    mechanic = next((m for m in mechanics if str(m.pk) == raw), mechanics[0] if mechanics else None)
    context = {"mechanics": mechanics, "mechanic": mechanic, "admin_mode": True}
    if mechanic is not None:
        context.update(_calendar_context(request, mechanic))
    return render(request, "booking/calendar.html", context)


@admin_required
@require_POST
def admin_schedule_move(request: HttpRequest) -> HttpResponse:
    """The drop of a drag-and-drop: session, local day and minute in the admin's zone,
    through the same reschedule service (and its checks) as every other reschedule."""
    from autodoctor.availability.service import local_instant

    user = _user(request)
    try:
        session_id = int(request.POST.get("session", ""))
        day = date.fromisoformat(request.POST.get("day", ""))
        minute = int(request.POST.get("minute", ""))
    except ValueError:
        raise InvalidInput(_("Drop the session on a day and time."), field="minute") from None
    if not 0 <= minute < 24 * 60:
        raise InvalidInput(_("Drop the session on a time of that day."), field="minute")
    new_start = local_instant(day, minute, user.time_zone)
    services.session_reschedule(session_id=session_id, user=user, new_start=new_start)
    messages.success(
        request,
        _("Session #%(session_id)s moved to %(time)s.")
        % {"session_id": session_id, "time": format_when(new_start, user)},
    )
    return _back(request, reverse("booking:admin_schedule"))
