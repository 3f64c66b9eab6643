"""Page guards other apps put on their views."""

from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect


def email_verified_required[V: Callable[..., HttpResponse]](view: V) -> V:
    """Send someone whose address is not confirmed yet to the "confirm your email" page
    (the booking service refuses them anyway: registration.require_verified_email)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        user = request.user
        if user.is_authenticated and not user.email_verified:  # type: ignore[union-attr]
            return redirect("accounts:verify_needed")
        return view(request, *args, **kwargs)

    return wrapped  # type: ignore[return-value]
