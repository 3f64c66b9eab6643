"""The one error family: every business rule failure is a DomainError.

Each carries a machine code, an HTTP status and optional data fields. The API's
exception handler and the page middleware render them once each, so a service
raises the same error whoever called it (page, API, admin action, task).
A database that stayed locked (`database_busy`) is answered like `Busy`: 503, never a 500.
"""

from typing import Any

from django.db import InterfaceError, OperationalError

# PostgreSQL: deadlock_detected, serialization_failure.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
# connection_exception, insufficient_resources (disk full, too many connections),
# admin/crash shutdown and cannot_connect_now (a restart in progress).
UNAVAILABLE_SQLSTATE_PREFIXES = ("08", "53", "57P")
UNAVAILABLE_MESSAGES = (
    "locked",  # SQLite: still locked after the busy timeout
    "disk is full",  # SQLite: SQLITE_FULL
    "connection failed",
    "connection refused",
    "connection already closed",
    "server closed the connection",
    "not currently accepting connections",
    "the database system is",  # … starting up / shutting down / in recovery mode
)


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
    """True for a database error worth retrying, where nothing was written: a PostgreSQL
    deadlock or serialization failure; the database unreachable, restarting, refusing
    connections or full (PostgreSQL classes 08/53/57P, SQLite "disk is full"); SQLite
    still locked after its busy timeout. The one test for it: the API, the pages and the
    webhooks answer it 503 instead of a 500 (the transaction was rolled back)."""
    if not isinstance(exc, OperationalError | InterfaceError):
        return False
    cause = exc.__cause__
    sqlstate = str(getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None) or "")
    if sqlstate in RETRYABLE_SQLSTATES or sqlstate.startswith(UNAVAILABLE_SQLSTATE_PREFIXES):
        return True
    message = str(exc).lower()
    return any(sign in message for sign in UNAVAILABLE_MESSAGES)
