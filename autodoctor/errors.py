"""The one error family: every business rule failure is a DomainError.

Each carries a machine code, an HTTP status and optional data fields. The API's
exception handler and the page middleware render them once each, so a service
raises the same error whoever called it (page, API, admin action, task).
A database that stayed locked (`database_busy`) is answered like `Busy`: 503, never a 500.
"""

from typing import Any

from django.db import OperationalError

# PostgreSQL: deadlock_detected, serialization_failure.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(
        self, message: str, *, code: str | None = None, status: int | None = None, **data: Any
    ) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.data = data

    def as_body(self) -> dict[str, Any]:
        return {"detail": self.message, "code": self.code, **self.data}


class InvalidInput(DomainError):
    """Input that parses but breaks a rule; `field` names the culprit."""

    status = 422
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None, **data: Any) -> None:
        if field is not None:
            data["field"] = field
        super().__init__(message, **data)


class NotFound(DomainError):
    """Missing, or present but not yours: both answer 404 so ids cannot be probed."""

    status = 404
    code = "not_found"


class NotAllowed(DomainError):
    status = 403
    code = "forbidden"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class SlotUnavailable(Conflict):
    code = "slot_unavailable"


class InvalidTransition(Conflict):
    code = "invalid_transition"


class RateLimited(DomainError):
    """Over a rate limit (autodoctor/ratelimit.py); `retry_after` seconds also go out
    as the Retry-After header."""

    status = 429
    code = "rate_limited"


class Busy(DomainError):
    """The database stayed locked past our timeout: ask the client to retry."""

    status = 503
    code = "busy"


def database_busy(exc: BaseException) -> bool:
    """True for a database error worth retrying: a PostgreSQL deadlock or serialization
    failure, or SQLite still locked after its busy timeout. The one test for it: the API,
    the pages and the webhooks answer it 503 instead of a 500."""
    if not isinstance(exc, OperationalError):
        return False
    cause = exc.__cause__
    sqlstate = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    return sqlstate in RETRYABLE_SQLSTATES or "locked" in str(exc).lower()
