"""Account pages: sign-up and verification, profile and vehicles, password pages,
"log out everywhere", privacy (export, delete), the mechanic application, the workshop
owner's pages and invitations. Each view parses, calls one service, renders."""

import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from autodoctor.errors import DomainError, InvalidInput, NotAllowed, NotFound

from . import mechanics, presence, privacy, profiles, registration, workshops
from .forms import (
    ApplicationForm,
    InvitationForm,
    InvitationSignupForm,
    PasswordConfirmForm,
    ProfileForm,
    ResetForm,
    SignupForm,
    VehicleForm,
    WorkshopForm,
    add_domain_error,
)
from .mechanic_types import mechanic_type
from .models import Invitation, InvitationStatus, MechanicProfile, User
from .selectors import profile_summary


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def safe_next(request: HttpRequest, default: str) -> str:
    """`?next=` only ever leads to a page of this site."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


# --------------------------------------------------------------------------- login


def locked_out(request: HttpRequest, response: HttpResponse | None, credentials: dict | None):
    """django-axes' answer once an address or an account is locked (AXES_LOCKOUT_CALLABLE):
    the login page again, 429, the same words whether or not the email has an account."""
    from django.conf import settings

    from autodoctor.web.forms import EmailLoginForm

    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    form = EmailLoginForm(request, initial={"username": request.POST.get("username", "")})
    locked = (
        f"Too many failed attempts. For your security, logging in is paused for {minutes} "
        "minutes. You can reset your password meanwhile."
    )
    return render(request, "registration/login.html", {"form": form, "locked": locked}, status=429)


# --------------------------------------------------------------------------- sign-up


def _browser_language(request: HttpRequest) -> str:
    """The language LocaleMiddleware picked for this visitor (the switch's cookie, else
    Accept-Language), as one of settings.LANGUAGES."""
    picked = translation.get_supported_language_variant(
        getattr(request, "LANGUAGE_CODE", "") or settings.LANGUAGE_CODE
    )
    return picked if picked in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None, initial={"language": _browser_language(request)})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            registration.account_signup(
                email=data["email"],
                password=data["password"],
                full_name=data["full_name"],
                role=data["role"],
                time_zone=data["time_zone"],
                language=data["language"] or _browser_language(request),
            )
        except InvalidInput as exc:
            add_domain_error(form, exc)
        else:
            # The same page whether the address was new or not (no enumeration).
            request.session["signup_email"] = data["email"].strip().lower()
            response = redirect("accounts:signup_done")
            # The next pages (and the login page) follow the chosen language too.
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                data["language"] or _browser_language(request),
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,
            )
            return response
    status = 422 if request.method == "POST" else 200
    return render(request, "accounts/signup.html", {"form": form}, status=status)


def signup_done(request: HttpRequest) -> HttpResponse:
    return render(
        request, "accounts/signup_done.html", {"email": request.session.get("signup_email", "")}
    )


def verify(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button; POST confirms. Mail scanners that open links must not use up
    the single-use link."""
    if request.method != "POST":
        return render(request, "accounts/verify.html", {"token": token})
    try:
        user = registration.email_verify(token=token)
    except DomainError as exc:
        return render(request, "accounts/verify.html", {"error": exc}, status=exc.status)
    if request.user.is_authenticated and request.user.pk == user.pk:
        messages.success(request, _("Your email address is confirmed. You can book now."))
        return redirect("home")
    messages.success(request, _("Your email address is confirmed. Log in to continue."))
    return redirect(f"{reverse('login')}?next={reverse('home')}")


@login_required
def verify_needed(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/verify_needed.html", {})


@login_required
@require_POST
def verify_resend(request: HttpRequest) -> HttpResponse:
    registration.verification_resend(user=_user(request))
    messages.success(request, _("We sent a new link to %(email)s.") % {"email": request.user.email})  # type: ignore[union-attr]
    return redirect(safe_next(request, reverse("accounts:verify_needed")))


# --------------------------------------------------------------------------- profile


def profile_context(request: HttpRequest) -> dict:
    """What the profile page (web.views.profile) shows beside the API tokens."""
    user = _user(request)
    summary = profile_summary(user)
    form = ProfileForm(
        initial={
            "full_name": user.full_name,
            "time_zone": user.time_zone,
            "language": user.language,
            "city": summary.city,
            "postal_code": summary.postal_code,
            "phone": summary.phone,
            "sms_opt_in": summary.sms_opt_in,
        }
    )
    return {"summary": summary, "profile_form": form, "vehicle_form": VehicleForm()}


@login_required
@require_POST
def profile_update(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        user = _user(request)
        try:
            profiles.profile_update(
                user=user,
                changes=profiles.ProfileChanges(
                    full_name=data["full_name"],
                    time_zone=data["time_zone"],
                    language=data["language"] or None,
                    city=data["city"],
                    postal_code=data["postal_code"],
                    phone=data["phone"] if user.is_customer else None,
                    sms_opt_in=data["sms_opt_in"] if user.is_customer else None,
                ),
            )
        except InvalidInput as exc:
            add_domain_error(form, exc)
        else:
            if data["language"]:
                translation.activate(data["language"])  # the confirmation in the new language
            messages.success(request, _("Profile saved."))
            return redirect("profile")
    return _profile_again(request, profile_form=form)


def _profile_again(request: HttpRequest, **forms: object) -> HttpResponse:
    from autodoctor.web.forms import TokenForm

    context = {
        "tokens": request.user.api_tokens.all(),  # type: ignore[union-attr]
        "form": TokenForm(),
        "issued": None,
        **profile_context(request),
        **forms,
    }
    return render(request, "web/profile.html", context, status=422)


def _vehicle_facts(form: VehicleForm) -> profiles.VehicleFacts:
    data = form.cleaned_data
    return profiles.VehicleFacts(
        year=data["year"], make=data["make"], model=data["model"], vin=data["vin"]
    )


@login_required
@require_POST
def vehicle_add(request: HttpRequest) -> HttpResponse:
    form = VehicleForm(request.POST)
    if form.is_valid():
        try:
            vehicle = profiles.vehicle_add(user=_user(request), facts=_vehicle_facts(form))
        except InvalidInput as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, _("Added %(vehicle)s to your garage.") % {"vehicle": vehicle})
            return redirect(safe_next(request, reverse("profile")))
    return _profile_again(request, vehicle_form=form)


@login_required
def vehicle_edit(request: HttpRequest, vehicle_id: int) -> HttpResponse:
    vehicle = profiles.access_vehicle(_user(request), vehicle_id)
    form = VehicleForm(
        request.POST or None,
        initial={
            "year": vehicle.year,
            "make": vehicle.make,
            "model": vehicle.model,
            "vin": vehicle.vin,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            profiles.vehicle_update(
                user=_user(request), vehicle_id=vehicle.pk, facts=_vehicle_facts(form)
            )
        except InvalidInput as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, _("Vehicle saved."))
            return redirect("profile")
    status = 422 if request.method == "POST" else 200
    return render(
        request, "accounts/vehicle_edit.html", {"form": form, "vehicle": vehicle}, status=status
    )


@login_required
@require_POST
def vehicle_remove(request: HttpRequest, vehicle_id: int) -> HttpResponse:
    profiles.vehicle_remove(user=_user(request), vehicle_id=vehicle_id)
    messages.success(request, _("Vehicle removed. Past sessions keep its name."))
    return redirect("profile")


# --------------------------------------------------------------------------- passwords


class PasswordResetView(auth_views.PasswordResetView):
    form_class = ResetForm
    template_name = "registration/reset_form.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "registration/reset_confirm.html"

    def form_valid(self, form):  # type: ignore[no-untyped-def]
        response = super().form_valid(form)
        registration.password_changed(user=form.user, via_reset=True)
        return response


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "registration/change_form.html"
    success_url = reverse_lazy("password_change_done")

    def form_valid(self, form):  # type: ignore[no-untyped-def]
        response = super().form_valid(form)  # keeps this session, ends the others
        registration.password_changed(user=form.user)
        return response


@login_required
@require_POST
def logout_everywhere(request: HttpRequest) -> HttpResponse:
    registration.sessions_end_everywhere(user=_user(request))
    logout(request)
    messages.success(request, _("You are logged out on every device, this one included."))
    return redirect("login")


# --------------------------------------------------------------------------- privacy


@login_required
def data_export(request: HttpRequest) -> HttpResponse:
    """The JSON document; `?format=zip` the ZIP with it and the intake photos and video."""
    if request.GET.get("format") == "zip":
        return privacy.personal_data_archive_response(_user(request))
    data = privacy.personal_data_export(_user(request))
    response = HttpResponse(
        json.dumps(data, indent=2, ensure_ascii=False), content_type="application/json"
    )
    stamp = timezone.now().strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="autodoctor-my-data-{stamp}.json"'
    return response


@login_required
def account_delete(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = PasswordConfirmForm(request.POST or None)
    refusal = privacy.deletion_refusal(user)
    upcoming = list(
        privacy._sessions_of(user)
        .filter(status__in=privacy.FUTURE_STATUSES)
        .select_related("plan")
        .order_by("scheduled_for")
    )
    if request.method == "POST" and form.is_valid() and not refusal:
        try:
            privacy.account_delete(user=user, password=form.cleaned_data["password"])
        except InvalidInput as exc:
            add_domain_error(form, exc)
        except DomainError as exc:
            refusal = exc.message
        else:
            logout(request)
            return render(request, "accounts/deleted.html", {"cancelled": len(upcoming)})
    status = 422 if request.method == "POST" else (409 if refusal else 200)
    return render(
        request,
        "accounts/delete.html",
        {"form": form, "refusal": refusal, "upcoming": upcoming},
        status=status,
    )


# --------------------------------------------------------------------------- mechanics


def _application_initial(profile: MechanicProfile, user: User) -> dict:
    kind = mechanic_type(profile)
    shop = profile.workshop if kind.value == "independent_workshop" else None
    return {
        "years_experience": profile.years_experience,
        "brands": ", ".join(profile.brands or []),
        "specialties": ", ".join(profile.specialty_keywords or []),
        "languages": ", ".join(profile.languages or []),
        "bio": profile.bio,
        "city": profile.city,
        "postal_code": profile.postal_code,
        "time_zone": user.time_zone,
        "work_mode": {
            "virtual_only": "virtual",
            "independent_workshop": "independent",
            "workshop_affiliated": "affiliated",
        }[kind.value],
        "shop_name": shop.name if shop else "",
        "shop_address": shop.address if shop else "",
        "shop_city": shop.city if shop else "",
        "shop_postal_code": shop.postal_code if shop else "",
    }


@login_required
def mechanic_application(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    profile = mechanics.access_own_profile(user)
    form = ApplicationForm(
        request.POST or None,
        request.FILES or None,
        initial=_application_initial(profile, user),
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            mechanics.mechanic_application_submit(
                user=user,
                application=mechanics.Application(
                    years_experience=data["years_experience"],
                    brands=form.split(data["brands"]),
                    specialties=form.split(data["specialties"]),
                    languages=form.split(data["languages"]),
                    bio=data["bio"],
                    city=data["city"],
                    postal_code=data["postal_code"],
                    time_zone=data["time_zone"],
                    work_mode=data["work_mode"],
                    shop=mechanics.ShopFacts(
                        name=data["shop_name"],
                        address=data["shop_address"],
                        city=data["shop_city"],
                        postal_code=data["shop_postal_code"],
                    ),
                    invitation_token=data["invitation_token"],
                ),
                photo=data["photo"],
            )
        except DomainError as exc:
            if isinstance(exc, InvalidInput) or exc.status < 500:
                add_domain_error(form, exc)
            else:
                raise
        else:
            messages.success(
                request,
                _("Application sent. An admin reviews it; we email you the answer.")
                if not profile.is_approved
                else _("Profile saved."),
            )
            return redirect("accounts:mechanic_application")
    profile.refresh_from_db()
    status = 422 if request.method == "POST" else 200
    return render(
        request,
        "accounts/mechanic_application.html",
        {
            "form": form,
            "profile": profile,
            "mechanic_type": mechanic_type(profile).label,
            "invitations": Invitation.objects.filter(
                email__iexact=user.email,
                status=InvitationStatus.PENDING,
                expires_at__gt=timezone.now(),
            ).select_related("workshop"),
        },
        status=status,
    )


@login_required
def presence_heartbeat(request: HttpRequest) -> HttpResponse:
    """The mechanic's open pages ping this every 45 s (htmx). It writes nothing itself:
    PresenceMiddleware already recorded the request; 204 so the page changes nothing."""
    _presence_owner(request)
    return HttpResponse(status=204)


def _presence_owner(request: HttpRequest) -> User:
    user = _user(request)
    if not user.is_mechanic:
        raise NotAllowed(_("Presence is for mechanic accounts."), code="not_a_mechanic")
    return user


@login_required
@require_POST
def presence_set(request: HttpRequest) -> HttpResponse:
    """The mechanic's "available for start-now / away" switch (plan §5.3: their choice)."""
    profile = mechanics.access_own_profile(_presence_owner(request))
    available = request.POST.get("available") == "1"
    presence.mechanic_availability_set(mechanic=profile, available=available)
    messages.success(
        request,
        _("You are available for start-now requests.")
        if available
        else _("You are away: start-now requests no longer count you as online."),
    )
    return redirect(safe_next(request, reverse("home")))


@login_required
def affiliation_leave(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    profile = mechanics.access_own_profile(user)
    if request.method == "POST":
        outcome = mechanics.mechanic_affiliation_leave(user=user)
        messages.success(
            request,
            _(
                "You no longer work with %(workshop)s. %(count)s booked session(s) stay as "
                "booked; new bookings follow your own hours."
            )
            % {"workshop": outcome.workshop.name, "count": len(outcome.kept_session_ids)},
        )
        return redirect("accounts:mechanic_application")
    kept = list(
        profile.sessions.filter(
            status__in=["scheduled", "pending"], scheduled_for__gte=timezone.now()
        )
        .select_related("plan", "customer")
        .order_by("scheduled_for")
    )
    return render(request, "accounts/affiliation_leave.html", {"profile": profile, "kept": kept})


@login_required
def mechanic_photo(request: HttpRequest, mechanic_id: int) -> HttpResponse:
    """A mechanic's photo: for anyone signed in once approved (they are listed), for the
    mechanic and admins before."""
    user = _user(request)
    qs = MechanicProfile.objects.filter(pk=mechanic_id)
    if not user.is_platform_admin:
        qs = qs.filter(pk__in=MechanicProfile.objects.approved()) | qs.filter(user=user)
    profile = qs.first()
    if profile is None or not profile.photo or not default_storage.exists(profile.photo.name):
        raise Http404
    with default_storage.open(profile.photo.name, "rb") as photo:  # small: at most 512 px
        response = HttpResponse(photo.read(), content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=3600"
    return response


# --------------------------------------------------------------------------- workshops


@login_required
def workshop_list(request: HttpRequest) -> HttpResponse:
    shops = list(workshops.workshops_visible_to(_user(request)).order_by("name")[:200])
    if len(shops) == 1:
        return redirect("accounts:workshop_detail", shops[0].pk)
    return render(request, "accounts/workshop_list.html", {"workshops": shops})


def _workshop_context(request: HttpRequest, workshop_id: int, **forms: object) -> dict:
    from .selectors import workshop_facts, workshop_people

    user = _user(request)
    workshop = workshops.access_workshop(user, workshop_id)
    manage = workshop.owner_id == user.pk or user.is_platform_admin
    context = {
        "workshop": workshop,
        "manage": manage,
        "people": workshop_people(workshop, now=timezone.now()),
        "workshop_form": WorkshopForm(initial=workshop_facts(workshop)),
        "invitation_form": InvitationForm(),
    }
    context.update(forms)
    return context


@login_required
def workshop_detail(request: HttpRequest, workshop_id: int) -> HttpResponse:
    return render(request, "accounts/workshop_detail.html", _workshop_context(request, workshop_id))


@login_required
@require_POST
def workshop_edit(request: HttpRequest, workshop_id: int) -> HttpResponse:
    form = WorkshopForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            workshops.workshop_update(
                user=_user(request),
                workshop_id=workshop_id,
                changes=workshops.WorkshopChanges(**data),  # the form's fields are its fields
            )
        except InvalidInput as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, _("Workshop saved."))
            return redirect("accounts:workshop_detail", workshop_id)
    context = _workshop_context(request, workshop_id, workshop_form=form)
    return render(request, "accounts/workshop_detail.html", context, status=422)


@login_required
@require_POST
def workshop_invite(request: HttpRequest, workshop_id: int) -> HttpResponse:
    form = InvitationForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            invitation = workshops.invitation_send(
                user=_user(request),
                workshop_id=workshop_id,
                kind=data["kind"],
                email=data["email"],
                partnership_type=data["partnership_type"],
            )
        except (InvalidInput, DomainError) as exc:
            if isinstance(exc, NotFound) or exc.status == 403:
                raise
            add_domain_error(form, exc)
        else:
            messages.success(
                request, _("Invitation sent to %(email)s.") % {"email": invitation.email}
            )
            return redirect("accounts:workshop_detail", workshop_id)
    context = _workshop_context(request, workshop_id, invitation_form=form)
    return render(request, "accounts/workshop_detail.html", context, status=422)


@login_required
@require_POST
def invitation_revoke(request: HttpRequest, workshop_id: int, invitation_id: int) -> HttpResponse:
    invitation = workshops.invitation_revoke(
        user=_user(request), workshop_id=workshop_id, invitation_id=invitation_id
    )
    messages.success(request, _("Invitation to %(email)s withdrawn.") % {"email": invitation.email})
    return redirect("accounts:workshop_detail", workshop_id)


@login_required
@require_POST
def staff_remove(request: HttpRequest, workshop_id: int, staff_id: int) -> HttpResponse:
    workshops.staff_remove(user=_user(request), workshop_id=workshop_id, staff_id=staff_id)
    messages.success(request, _("Removed from the staff."))
    return redirect("accounts:workshop_detail", workshop_id)


def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """The invitation link: shows the invitation, then accept (signed in with the invited
    address), create an account (no account yet), or decline."""
    try:
        found = workshops.invitation_lookup(token=token)
    except DomainError as exc:
        return render(request, "accounts/invitation.html", {"error": exc}, status=exc.status)
    has_account = User.objects.filter(email__iexact=found.email).exists()
    signup_form = InvitationSignupForm(
        request.POST if request.POST.get("answer") == "signup" else None
    )
    if request.method == "POST":
        answer = request.POST.get("answer")
        try:
            if answer == "decline":
                workshops.invitation_decline(token=token)
                messages.success(
                    request,
                    _("You declined the invitation from %(workshop)s.")
                    % {"workshop": found.workshop},
                )
                return redirect("home" if request.user.is_authenticated else "login")
            if answer == "accept" and request.user.is_authenticated:
                workshops.invitation_accept(token=token, user=_user(request))
                messages.success(
                    request, _("Welcome to %(workshop)s.") % {"workshop": found.workshop}
                )
                return redirect(
                    "accounts:mechanic_application"
                    if found.kind == "mechanic"
                    else "accounts:workshop_list"
                )
            if answer == "signup" and not has_account and signup_form.is_valid():
                data = signup_form.cleaned_data
                user = workshops.invitation_signup(
                    token=token,
                    full_name=data["full_name"],
                    password=data["password"],
                    time_zone=data["time_zone"],
                )
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                messages.success(
                    request, _("Welcome to %(workshop)s.") % {"workshop": found.workshop}
                )
                return redirect(
                    "accounts:mechanic_application"
                    if found.kind == "mechanic"
                    else "accounts:workshop_list"
                )
        except InvalidInput as exc:
            add_domain_error(signup_form, exc)
        except DomainError as exc:
            return render(
                request,
                "accounts/invitation.html",
                {"invitation": found, "error": exc, "has_account": has_account},
                status=exc.status,
            )
    return render(
        request,
        "accounts/invitation.html",
        {
            "invitation": found,
            "has_account": has_account,
            "signup_form": signup_form,
            "token": token,
            "login_url": f"{reverse('login')}?next={request.path}",
        },
        status=422 if request.method == "POST" else 200,
    )


# --------------------------------------------------------------------------- review queue


def _admin(request: HttpRequest) -> User:
    user = _user(request)
    if not user.is_platform_admin:
        raise Http404  # the queue's existence is nobody else's business
    return user


@login_required
def review_queue(request: HttpRequest) -> HttpResponse:
    from .selectors import mechanic_applications_pending

    _admin(request)
    return render(
        request, "accounts/review_queue.html", {"pending": mechanic_applications_pending()}
    )


@login_required
@require_POST
def review_decide(request: HttpRequest, mechanic_id: int) -> HttpResponse:
    admin = _admin(request)
    approve = request.POST.get("decision") == "approve"
    profile = mechanics.mechanic_review(
        mechanic_id=mechanic_id,
        reviewer=admin,
        approve=approve,
        note=request.POST.get("note", ""),
    )
    messages.success(
        request,
        (
            _("%(name)s approved; they were emailed.")
            if approve
            else _("%(name)s turned down; they were emailed.")
        )
        % {"name": profile.user},
    )
    return redirect("accounts:review_queue")
