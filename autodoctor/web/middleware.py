"""Render DomainError raised under a page view once, the same way everywhere. A
database that stayed locked (errors.database_busy) is rendered as `Busy`: "try again",
never a 500.

htmx requests get the message as a small fragment naming the field (status kept;
web/static/web/app.js puts it next to that field in the form that sent it, and the form
keeps what was typed). Full-page GETs get the error page; a refused plain form post gets
a flash message and a redirect back, with the error, its field and the typed values kept
in the session for the page it returns to (context_processors.form_error, app.js).
"""

from collections.abc import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib import messages
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from autodoctor.errors import Busy, DomainError, RateLimited, database_busy
from autodoctor.ratelimit import SAFE_METHODS, WRITE, caller, rate_limit_hit

from .context_processors import FORM_ERROR_KEY


def busy() -> Busy:
    """Built per request, so the message is in the viewer's language (and a plain string:
    it is stored in the session's messages)."""
    return Busy(_("The system is busy right now; nothing was saved. Please try again in a moment."))


# Posted fields never written back into a page.
UNSAFE_FIELDS = {"csrfmiddlewaretoken", "password", "password1", "password2", "old_password"}


class DomainErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if request.path.startswith("/api/"):
            return None
        if database_busy(exc):  # locked, unreachable or full: "try again", never a 500
            exc = busy()
        if not isinstance(exc, DomainError):
            return None
        return render_domain_error(request, exc)


def render_domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    """The page answer to a refused request: fragment (htmx), error page (GET), or
    flash + redirect back with what was typed (form post)."""
    if getattr(request, "htmx", False):
        response = render(request, "web/error_fragment.html", {"error": exc}, status=exc.status)
        # htmx does not swap 4xx/5xx; app.js places the message (next to its field, or
        # in the page's #flash slot, which these headers name for other clients).
        response["HX-Retarget"] = "#flash"
        response["HX-Reswap"] = "innerHTML"
        return response
    if request.method == "GET":
        return render(request, "web/error.html", {"error": exc}, status=exc.status)
    messages.error(request, exc.message)
    request.session[FORM_ERROR_KEY] = {
        "action": request.path,
        "message": exc.message,
        "field": exc.data.get("field") or "",
        "values": {
            name: request.POST.getlist(name) for name in request.POST if name not in UNSAFE_FIELDS
        },
    }
    back = request.headers.get("referer", "/")
    if not url_has_allowed_host_and_scheme(back, {request.get_host()}):
        back = "/"
    return HttpResponseRedirect(back)


class RateLimitMiddleware:
    """Rate limits on pages (autodoctor/ratelimit.py): every unsafe method counts as a
    write of its caller, and views marked `@rate_limited(READ)` (slot listings) as reads.
    A refused request is answered like any refused request (render_domain_error) with
    status 429 and `Retry-After`. The API counts its own, after token authentication."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view, args, kwargs) -> HttpResponse | None:
        if request.path.startswith("/api/"):
            return None
        scope = WRITE if request.method not in SAFE_METHODS else None
        scope = scope or getattr(view, "rate_limit_scope", None)
        if scope is None:
            return None
        try:
            refusal = rate_limit_hit(scope, caller(request))
        except (OperationalError, InterfaceError) as exc:
            if not database_busy(exc):
                raise
            return render_domain_error(request, busy())
        if refusal is None:
            return None
        response = render_domain_error(
            request, RateLimited(refusal.message, retry_after=refusal.retry_after)
        )
        response["Retry-After"] = str(refusal.retry_after)
        return response


class UserLanguageMiddleware:
    """A signed-in person sees the language they chose (User.language) whatever their
    browser says; visitors keep what LocaleMiddleware picked (the language cookie set by
    the header's switch, else Accept-Language)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        chosen = getattr(getattr(request, "user", None), "language", "")
        if chosen and chosen != translation.get_language():
            translation.activate(chosen)
            request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)


class ViewerTimeZoneMiddleware:
    """Show times in the viewer's own zone wherever Django formats them (the admin's
    lists, `|date`); every format names the zone (autodoctor/formats)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        name = getattr(user, "time_zone", "") if user is not None else ""
        try:
            zone = ZoneInfo(name) if name else None
        except (ZoneInfoNotFoundError, ValueError):
            zone = None
        if zone is None:
            return self.get_response(request)
        with timezone.override(zone):
            return self.get_response(request)


class PresenceMiddleware:
    """Every signed-in request of a mechanic records that they are here (accounts.presence:
    one conditional UPDATE, written at most once a minute). Presence is a ranking hint, so
    a database too busy to take the write never fails the page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and getattr(user, "is_mechanic", False):
            from autodoctor.accounts.presence import mechanic_seen

            try:
                mechanic_seen(user_id=user.pk)
            except OperationalError as exc:
                if not database_busy(exc):
                    raise
        return self.get_response(request)
