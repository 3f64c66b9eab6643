"""Rate limits on costly reads and on writes, answered 429 with `Retry-After`.

Fixed windows counted in the database: each counted request is one atomic upsert
(`INSERT … ON CONFLICT DO UPDATE … RETURNING`, on SQLite and PostgreSQL alike) on the
row of its (scope, caller, window), so every process and machine counts together and
two requests at the same instant can never both take the last allowance.

The caller is the logged-in user when there is one, else the client address
(`TRUSTED_PROXY_COUNT` decides which X-Forwarded-For hop that is, as for login lockout).
Scopes and their limits are the setting `RATE_LIMITS` ({scope: (requests, seconds)});
a scope set to None is not limited.
"""

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja.throttling import BaseThrottle

from autodoctor.web.models import RateCounter

READ = "read"  # slot listings and earliest-slot searches, which compute availability
WRITE = "write"  # every POST / PUT / PATCH / DELETE of the API and the pages
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Refusal:
    scope: str
    limit: int
    seconds: int
    retry_after: int  # whole seconds until the window ends

    @property
    def message(self) -> str:
        """In the active language (the caller's: read when the refusal is answered)."""
        values = {"limit": self.limit, "seconds": self.seconds, "retry_after": self.retry_after}
        if self.scope == READ:
            return (
                _(
                    "Too many searches for free times: at most %(limit)s every %(seconds)s "
                    "seconds. Try again in %(retry_after)s s."
                )
                % values
            )
        return (
            _(
                "Too many changes: at most %(limit)s every %(seconds)s seconds. "
                "Try again in %(retry_after)s s."
            )
            % values
        )


def caller(request: HttpRequest) -> str:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"ip:{client_address(request)}"


def client_address(request: HttpRequest) -> str:
    proxies = getattr(settings, "AXES_IPWARE_PROXY_COUNT", 0) or 0
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-min(proxies, len(hops))]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def rate_limit_hit(scope: str, who: str, *, now: datetime | None = None) -> Refusal | None:
    """Count one request of `who` against `scope`; a Refusal when it is over the limit."""
    configured = settings.RATE_LIMITS.get(scope)
    if configured is None:
        return None
    limit, seconds = configured
    now = now or timezone.now()
    window = math.floor(now.timestamp() / seconds)
    ends_at = datetime.fromtimestamp((window + 1) * seconds, tz=UTC)
    table = RateCounter._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (key, window_ends_at, hits) VALUES (%s, %s, 1) "
            f"ON CONFLICT (key) DO UPDATE SET hits = {table}.hits + 1 RETURNING hits",
            [f"{scope}:{who}:{window}"[:200], ends_at],
        )
        (hits,) = cursor.fetchone()
    if hits <= limit:
        return None
    return Refusal(scope, limit, seconds, max(1, math.ceil((ends_at - now).total_seconds())))


def rate_counters_prune(*, now: datetime) -> int:
    """Delete the counters of windows that have ended; returns how many."""
    deleted, _per_model = RateCounter.objects.filter(
        window_ends_at__lt=now - timedelta(seconds=1)
    ).delete()
    return deleted


class ApiRateLimit(BaseThrottle):
    """django-ninja's throttle hook over `rate_limit_hit`: WRITE counts every unsafe
    method (reads pass), READ counts every request of the route it is attached to.
    Runs after authentication, so a token caller is counted as their user. The refusal
    is kept on the request for the API's 429 handler (autodoctor/api.py)."""

    def __init__(self, scope: str) -> None:
        self.scope = scope

    def allow_request(self, request: HttpRequest) -> bool:
        if self.scope == WRITE and request.method in SAFE_METHODS:
            return True
        refusal = rate_limit_hit(self.scope, caller(request))
        request.rate_limit_refusal = refusal  # type: ignore[attr-defined]
        return refusal is None

    def wait(self) -> float | None:
        return None  # the handler sets Retry-After from the request's refusal


def rate_limited(scope: str):
    """Mark a page view as one more costly read (RateLimitMiddleware counts it);
    unsafe methods on every page are counted as WRITE without a mark."""

    def mark(view):
        view.rate_limit_scope = scope
        return view

    return mark
