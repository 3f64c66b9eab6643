"""Pages of the analytics app: the rating form's post, the dashboards.

Views parse input, call one service or metric and render. DomainErrors are rendered by
web.middleware (POST: flash + redirect back)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from autodoctor.errors import InvalidInput

from . import services
from .forms import RatingForm


@login_required
@require_POST
def rating_save(request: HttpRequest, session_id: int) -> HttpResponse:
    form = RatingForm(request.POST)
    if not form.is_valid():
        field, errors = next(iter(form.errors.items()))
        raise InvalidInput(f"{field}: {errors[0]}", field=field)
    services.rating_save(
        session_id=session_id,
        user=request.user,  # type: ignore[arg-type]
        score=form.cleaned_data["score"],
        comment=form.cleaned_data["comment"],
    )
    messages.success(request, "Thank you: your rating is saved.")
    return redirect("booking:session_detail", session_id)
