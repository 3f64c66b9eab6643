"""Render DomainError raised under a page view once, the same way everywhere. A
database that stayed locked (errors.database_busy) is rendered as `Busy`: "try again",
never a 500.

htmx requests get the message as a small fragment (status kept so htmx can
react); full-page requests get a flash message and a redirect back.
"""

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme

from autodoctor.errors import Busy, DomainError, database_busy


class DomainErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if request.path.startswith("/api/"):
            return None
        if database_busy(exc):  # the database stayed locked: "try again", never a 500
            exc = Busy("The system is busy right now; please try again in a moment.")
        if not isinstance(exc, DomainError):
            return None
        if getattr(request, "htmx", False):
            response = render(request, "web/error_fragment.html", {"error": exc}, status=exc.status)
            # htmx does not swap 4xx by default; retarget into the page's error slot.
            response["HX-Retarget"] = "#flash"
            response["HX-Reswap"] = "innerHTML"
            return response
        if request.method == "GET":
            return render(request, "web/error.html", {"error": exc}, status=exc.status)
        messages.error(request, exc.message)
        back = request.headers.get("referer", "/")
        if not url_has_allowed_host_and_scheme(back, {request.get_host()}):
            back = "/"
        return HttpResponseRedirect(back)
