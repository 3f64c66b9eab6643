"""Login throttling glue for django-axes (the one mechanism; settings in settings.py).

`LockoutBackend` is axes' backend, except that a call to `authenticate()` without a
request (a management command, the test client's `login()`) is not an HTTP login and is
not throttled: every login form — ours and the admin's — passes its request. `login_key`
makes "Casey@X" and "casey@x" count as one account, the way sign-up and login treat them.
"""

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.http import HttpRequest


class LockoutBackend(AxesStandaloneBackend):
    def authenticate(self, request: HttpRequest | None, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        if request is None:
            return None
        return super().authenticate(request, *args, **kwargs)


def login_key(request: HttpRequest | None, credentials: dict | None) -> str | None:
    """The email a login attempt is for, lower-cased (axes' per-account counter)."""
    raw = (credentials or {}).get("username")
    if raw is None and request is not None:
        raw = getattr(request, "POST", {}).get("username")
    return raw.strip().lower() if isinstance(raw, str) else raw
