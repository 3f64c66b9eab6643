"""Pages: your webhook endpoints (list, register, remove, turn on again) and each one's
delivery log with "Resend". Each view parses, calls one service or selector, renders;
refusals are DomainErrors rendered by web.middleware (flash + back to the form)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from autodoctor.errors import InvalidInput

from . import selectors, services
from .events import EVENT_TYPES
from .forms import EndpointForm

ISSUED_KEY = "issued_webhook_secret"


@login_required
@require_GET
def endpoints(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "integrations/endpoints.html",
        {
            "endpoints": selectors.endpoints_for(request.user),  # type: ignore[arg-type]
            "event_types": EVENT_TYPES,
            "issued": request.session.pop(ISSUED_KEY, None),
        },
    )


@login_required
@require_POST
def endpoint_create(request: HttpRequest) -> HttpResponse:
    form = EndpointForm(request.POST)
    if not form.is_valid():
        field, errors = next(iter(form.errors.items()))
        raise InvalidInput(f"{field}: {errors[0]}", field=field)
    issued = services.endpoint_create(owner=request.user, **form.cleaned_data)  # type: ignore[arg-type]
    request.session[ISSUED_KEY] = {"url": issued.endpoint.url, "secret": issued.secret}
    messages.success(request, _("Endpoint registered. Copy its secret now: it is shown only once."))
    return redirect("integrations:endpoints")


@login_required
@require_POST
def endpoint_delete(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    services.endpoint_delete(owner=request.user, endpoint_id=endpoint_id)  # type: ignore[arg-type]
    messages.success(request, _("Endpoint removed."))
    return redirect("integrations:endpoints")


@login_required
@require_POST
def endpoint_enable(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    services.endpoint_enable(owner=request.user, endpoint_id=endpoint_id)  # type: ignore[arg-type]
    messages.success(request, _("Endpoint turned on again; waiting events go out now."))
    return redirect("integrations:endpoint", endpoint_id=endpoint_id)


@login_required
@require_GET
def endpoint(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    row = selectors.endpoint_for_owner(request.user, endpoint_id)  # type: ignore[arg-type]
    return render(
        request,
        "integrations/endpoint.html",
        {"endpoint": row, "deliveries": selectors.deliveries_for(row)},
    )


@login_required
@require_POST
def delivery_resend(request: HttpRequest, delivery_id: int) -> HttpResponse:
    again = services.delivery_resend(owner=request.user, delivery_id=delivery_id)  # type: ignore[arg-type]
    messages.success(
        request,
        _("%(again_event_type)s queued to be sent again.") % {"again_event_type": again.event_type},
    )
    return redirect("integrations:endpoint", endpoint_id=again.endpoint_id)
