"""Shell pages: login, the role-aware home, profile (API tokens), error pages."""

import sys

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views import i18n as i18n_views
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from autodoctor.accounts import services as account_services
from autodoctor.accounts.selectors import home_section_for
from autodoctor.errors import database_busy

from .forms import EmailLoginForm, TokenForm


@never_cache
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """The readiness probe of a load balancer (and of `./dev prod`): 200 once this process
    answers and reaches its database; a database it cannot reach answers 503 `busy`
    (DomainErrorMiddleware renders the OperationalError, as for any request)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok\n", content_type="text/plain")


class LoginView(auth_views.LoginView):
    form_class = EmailLoginForm
    template_name = "registration/login.html"
    redirect_authenticated_user = True


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """The header's language switch: remembered in the language cookie for everyone and on
    the account of a signed-in person (so emails and SMS follow it too)."""
    chosen = request.POST.get("language", "")
    if request.user.is_authenticated and chosen in dict(settings.LANGUAGES):
        request.user.language = chosen
        request.user.save(update_fields=["language"])
    return i18n_views.set_language(request)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    from autodoctor.web.home import home_context

    user = request.user
    return render(
        request,
        "web/home.html",
        {"section": home_section_for(user), **home_context(user)},  # type: ignore[arg-type]
    )


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    from autodoctor.accounts.views import profile_context

    issued = request.session.pop("issued_token", None)
    return render(
        request,
        "web/profile.html",
        {
            "tokens": request.user.api_tokens.all(),  # type: ignore[union-attr]
            "form": TokenForm(),
            "issued": issued,
            **profile_context(request),
        },
    )


@login_required
@require_POST
def token_create(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the token a name (up to 100 characters)."))
        return redirect("profile")
    issued = account_services.api_token_create(user=request.user, name=form.cleaned_data["name"])  # type: ignore[arg-type]
    request.session["issued_token"] = issued.raw
    messages.success(
        request,
        _("Token “%(name)s” created. Copy it now: it is shown only once.")
        % {"name": issued.token.name},
    )
    return redirect("profile")


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = account_services.api_token_revoke(user=request.user, token_id=token_id)  # type: ignore[arg-type]
    messages.success(request, _("Token “%(name)s” revoked.") % {"name": token.name})
    return redirect("profile")


def error_403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(
        request,
        "web/status.html",
        {"status": 403, "title": "Not allowed", "text": "You do not have access to this page."},
        status=403,
    )


def error_404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(
        request,
        "web/status.html",
        {
            "status": 404,
            "title": "Page not found",
            "text": "We could not find that page. It may have moved, or it is not yours to see.",
        },
        status=404,
    )


def error_500(request: HttpRequest) -> HttpResponse:
    """Django's last resort for an exception nothing else handled (called inside the
    `except`, so sys.exc_info() is that exception). A database that is unreachable,
    restarting, full or locked is not a bug: 503 "busy, try again" (the transaction was
    rolled back), rendered without touching the database; under /api/ in the API's
    {detail, code} shape."""
    exc = sys.exc_info()[1]
    if exc is not None and database_busy(exc):
        message = "The system is busy right now; nothing was saved. Please try again in a moment."
        if request.path.startswith("/api/"):
            response = JsonResponse({"detail": message, "code": "busy"}, status=503)
        else:
            context = {"status": 503, "title": "Please try again", "text": message}
            response = HttpResponse(render_to_string("web/status.html", context), status=503)
        response["Retry-After"] = "5"
        return response
    if request.path.startswith("/api/"):
        detail = "Something went wrong on our side; please retry."
        return JsonResponse({"detail": detail, "code": "server_error"}, status=500)
    return render(
        request,
        "web/status.html",
        {
            "status": 500,
            "title": "Something went wrong",
            "text": "The error was logged. Please try again in a moment.",
        },
        status=500,
    )
