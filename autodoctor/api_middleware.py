"""Errors under /api/ that never reach the API's exception handlers still answer the API's
error shape `{detail, code}`: an unknown /api/ URL (Django's 404 page), a method the route
does not have (ninja's plain-text 405), Django's own 400 for a suspicious request.
An integrator's client parses JSON; it should never be handed an HTML error page."""

import json
from collections.abc import Callable
from http import HTTPStatus

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

_CODES = {404: "not_found", 405: "method_not_allowed", 400: "bad_request", 413: "body_too_large"}


class ApiErrorShapeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            not request.path.startswith("/api/")
            or response.status_code < 400
            or response.get("Content-Type", "").startswith("application/json")
        ):
            return response
        status = response.status_code
        if status == 404:
            detail = _("Not found.")
        elif status == 405:
            detail = _("%(method)s is not allowed here; allowed: %(allowed)s.") % {
                "method": request.method,
                "allowed": response.get("Allow", ""),
            }
        else:
            detail = HTTPStatus(status).phrase + "."
        shaped = HttpResponse(
            json.dumps({"detail": detail, "code": _CODES.get(status, f"http_{status}")}),
            status=status,
            content_type="application/json",
        )
        if "Allow" in response:
            shaped["Allow"] = response["Allow"]
        return shaped
