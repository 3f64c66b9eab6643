"""The JSON API: one NinjaAPI, one router per app, one error shape.

Every error body is `{"detail": <message>, "code": <machine code>, ...}`.
Authentication: a personal API token (`Authorization: Bearer adt_...`) or the
browser session (which then needs the CSRF token on unsafe methods).
"""

from django.core.exceptions import PermissionDenied
from django.db import OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import HttpBearer, django_auth

from autodoctor.accounts.api import router as accounts_router
from autodoctor.accounts.services import api_token_authenticate
from autodoctor.analytics.api import router as analytics_router
from autodoctor.availability.api import router as availability_router
from autodoctor.booking.api import router as booking_router
from autodoctor.errors import DomainError, database_busy
from autodoctor.notifications.api import router as notifications_router
from autodoctor.payments.api import router as payments_router
from autodoctor.workshops.api import router as workshops_router


class ApiTokenAuth(HttpBearer):
    openapi_scheme = "bearer"

    def authenticate(self, request: HttpRequest, token: str):  # type: ignore[override]
        user = api_token_authenticate(token)
        if user is not None:
            request.user = user
        return user


api = NinjaAPI(
    title="Auto Doctor Scheduling API",
    version="1.0",
    description=(
        "Availability, booking, payments and notifications. Authenticate with a personal "
        "API token (`Authorization: Bearer adt_…`, create one on your profile page) or a "
        "browser session plus CSRF token. Every error is `{detail, code}`."
    ),
    auth=[ApiTokenAuth(), django_auth],
    urls_namespace="api",
)


def _error(
    request: HttpRequest, status: int, detail: object, code: str, **extra: object
) -> HttpResponse:
    return api.create_response(request, {"detail": detail, "code": code, **extra}, status=status)


@api.exception_handler(DomainError)
def on_domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return api.create_response(request, exc.as_body(), status=exc.status)


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
    first = errors[0] if errors else {"field": None, "message": "invalid input"}
    detail = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
    return _error(request, 422, detail, "validation_error", field=first["field"], errors=errors)


@api.exception_handler(AuthenticationError)
def on_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _error(
        request,
        401,
        "Authentication required: log in or send a valid API token.",
        "unauthenticated",
    )


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    code = "csrf_failed" if "CSRF" in str(exc) else f"http_{exc.status_code}"
    return _error(request, exc.status_code, str(exc), code)


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(request, 404, "Not found.", "not_found")


@api.exception_handler(PermissionDenied)
def on_permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return _error(request, 403, str(exc) or "Not allowed.", "forbidden")


@api.exception_handler(OperationalError)
def on_operational_error(request: HttpRequest, exc: OperationalError) -> HttpResponse:
    # A lock we waited too long for (SQLite busy timeout, PostgreSQL deadlock): retryable.
    if database_busy(exc):
        return _error(request, 503, "The system is busy, please retry.", "busy")
    raise exc


api.add_router("/", accounts_router)
api.add_router("/", availability_router)
api.add_router("/", booking_router)
api.add_router("/", payments_router)
api.add_router("/", notifications_router)
api.add_router("/", workshops_router)
api.add_router("/", analytics_router)
