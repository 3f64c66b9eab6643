"""The JSON API: one NinjaAPI, one router per app, one error shape.

Every error body is `{"detail": <message>, "code": <machine code>, ...}`.
Authentication: a personal API token (`Authorization: Bearer adt_...`) or the
browser session (which then needs the CSRF token on unsafe methods).
Error messages (`detail`) are in the caller's language: a token's owner gets their
account's language (User.language, activated by ApiTokenAuth), a browser session the
one web.middleware.UserLanguageMiddleware chose, an anonymous caller what its
Accept-Language asks for (LocaleMiddleware). `code` never changes with the language.
"""

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import translation
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.constants import NOT_SET
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError
from ninja.security import HttpBearer, SessionAuth

from autodoctor.accounts.api import router as accounts_router
from autodoctor.accounts.services import api_token_authenticate
from autodoctor.analytics.api import router as analytics_router
from autodoctor.api_input import TextCheckingParser
from autodoctor.availability.api import router as availability_router
from autodoctor.booking.api import router as booking_router
from autodoctor.directory.api import router as directory_router
from autodoctor.errors import DomainError, database_busy
from autodoctor.integrations.api import router as integrations_router
from autodoctor.notifications.api import router as notifications_router
from autodoctor.payments.api import router as payments_router
from autodoctor.ratelimit import WRITE, ApiRateLimit
from autodoctor.schemas import ErrorOut
from autodoctor.workshops.api import router as workshops_router

log = logging.getLogger("autodoctor.api")


class ApiTokenAuth(HttpBearer):
    openapi_scheme = "bearer"

    def authenticate(self, request: HttpRequest, token: str):  # type: ignore[override]
        user = api_token_authenticate(token)
        if user is not None:
            request.user = user
            # The token's owner reads messages in their own language, whatever the
            # client's Accept-Language says (like a signed-in browser session).
            if user.language:
                translation.activate(user.language)
                request.LANGUAGE_CODE = translation.get_language()
        return user


class BrowserSessionAuth(SessionAuth):
    """The browser session, with ninja's CSRF check on unsafe methods — but only for a
    logged-in session: a caller with no session (or a bad token) is simply not
    authenticated and gets 401, not a CSRF 403 that suggests a missing token."""

    def _get_key(self, request: HttpRequest) -> str | None:
        if not request.user.is_authenticated:
            return None
        return super()._get_key(request)


api = NinjaAPI(
    title="Auto Doctor Scheduling API",
    version="1.0",
    description=(
        "Availability, booking, payments and notifications. Authenticate with a personal "
        "API token (`Authorization: Bearer adt_…`, create one on your profile page) or a "
        "browser session plus CSRF token. Every error is `{detail, code}`."
    ),
    auth=[ApiTokenAuth(), BrowserSessionAuth()],
    parser=TextCheckingParser(),
    throttle=[ApiRateLimit(WRITE)],
    urls_namespace="api",
)


def _error(
    request: HttpRequest, status: int, detail: object, code: str, **extra: object
) -> HttpResponse:
    return api.create_response(request, {"detail": detail, "code": code, **extra}, status=status)


@api.exception_handler(DomainError)
def on_domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    response = api.create_response(request, exc.as_body(), status=exc.status)
    if exc.status == 503:
        response["Retry-After"] = "5"
    return response


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = []
    for err in exc.errors:
        loc = [
            str(part)
            for part in err.get("loc", ())
            if part not in ("body", "query", "path", "payload")
        ]
        errors.append({"field": ".".join(loc) or None, "message": err.get("msg", "invalid")})
    first = errors[0] if errors else {"field": None, "message": _("invalid input")}
    detail = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
    return _error(request, 422, detail, "validation_error", field=first["field"], errors=errors)


@api.exception_handler(AuthenticationError)
def on_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _error(
        request,
        401,
        _("Authentication required: log in or send a valid API token."),
        "unauthenticated",
    )


@api.exception_handler(Throttled)
def on_throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
    refusal = request.rate_limit_refusal  # type: ignore[attr-defined]
    response = _error(
        request, 429, refusal.message, "rate_limited", retry_after=refusal.retry_after
    )
    response["Retry-After"] = str(refusal.retry_after)
    return response


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc.__cause__, DomainError):
        # The body parser refused the input (api_input): answer its own message and field.
        return on_domain_error(request, exc.__cause__)
    code = "csrf_failed" if "CSRF" in str(exc) else f"http_{exc.status_code}"
    return _error(request, exc.status_code, str(exc), code)


@api.exception_handler(RequestDataTooBig)
def on_body_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return _error(
        request,
        413,
        _("The request body is larger than %(size)s bytes.")
        % {"size": f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,}"},
        "body_too_large",
    )


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(request, 404, _("Not found."), "not_found")


@api.exception_handler(PermissionDenied)
def on_permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return _error(request, 403, str(exc) or _("Not allowed."), "forbidden")


@api.exception_handler(OperationalError)
@api.exception_handler(InterfaceError)
def on_operational_error(request: HttpRequest, exc: OperationalError) -> HttpResponse:
    # Retryable, nothing written (errors.database_busy): a lock we waited too long for,
    # the database unreachable, restarting or full.
    if database_busy(exc):
        response = _error(request, 503, _("The system is busy, please retry."), "busy")
        response["Retry-After"] = "5"
        return response
    return on_unhandled(request, exc)


@api.exception_handler(Exception)
def on_unhandled(request: HttpRequest, exc: Exception) -> HttpResponse:
    """A bug: with DEBUG the traceback page, otherwise the API's own error shape (an
    integrator's client parses JSON, not an HTML error page). Reported like any 500."""
    if settings.DEBUG:
        raise exc
    log.error("Unhandled API error on %s %s", request.method, request.path, exc_info=exc)
    got_request_exception.send(sender=None, request=request)
    return _error(
        request, 500, _("Something went wrong on our side; please retry."), "server_error"
    )


api.add_router("/", accounts_router)
api.add_router("/", availability_router)
api.add_router("/", booking_router)
api.add_router("/", payments_router)
api.add_router("/", notifications_router)
api.add_router("/", workshops_router)
api.add_router("/", analytics_router)
api.add_router("/", directory_router)
api.add_router("/", integrations_router)


def _declare_error_responses() -> None:
    """Declare in the schema the errors every route can answer, besides the ones its
    author listed: 422 (validation), 503 (database busy); with auth 401 and 403 (a
    browser session without its CSRF token, or a role that may not); with path
    parameters 404; with a body 400 (unparseable) and 413 (too large); 429 (rate
    limited) on every write and on the rate-limited reads.
    Runs before the routers are bound, so the bound operations copy it."""
    for _prefix, router in api._routers:
        for path, path_view in router.path_operations.items():
            for operation in path_view.operations:
                codes = {422, 503}
                if operation.auth_param is not None:  # NOT_SET inherits the API's auth
                    codes |= {401, 403}
                if "{" in path:
                    codes.add(404)
                if set(operation.methods) & {"POST", "PUT", "PATCH", "DELETE"}:
                    codes |= {400, 413, 429}
                if operation.throttle_param is not NOT_SET:
                    codes.add(429)
                for code in codes - set(operation.response_models):
                    operation.response_models[code] = operation._create_response_model(ErrorOut)


_declare_error_responses()
