"""Pages of the directory: the search (a GET form, results as cards) and a mechanic's
public profile with "Book this mechanic". Signed-in people only; neither page shows a
mechanic's email or phone (the selectors never read them).

A refused search (a bad date, a rating out of range) is shown on the page with the
field named, status 422, and no results."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from autodoctor.errors import InvalidInput
from autodoctor.ratelimit import READ, rate_limited

from . import selectors
from .forms import SearchForm


@login_required
@rate_limited(READ)
def search(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET or None)
    results, error = None, None
    try:
        query = form.query(request.user) if request.GET else selectors.MechanicQuery()  # type: ignore[arg-type]
        results = selectors.mechanic_search(query, now=timezone.now())
    except InvalidInput as refused:
        error = refused
    pages = {}
    if results is not None:
        kept = {k: v for k, v in request.GET.items() if k != "page" and v}
        for name, number in (("previous", results.page - 1), ("next", results.page + 1)):
            if 1 <= number <= results.pages:
                pages[name] = "?" + urlencode({**kept, "page": number})
    return render(
        request,
        "directory/search.html",
        {"form": form, "results": results, "error": error, "pages": pages},
        status=422 if error else 200,
    )


@login_required
@rate_limited(READ)
def profile(request: HttpRequest, mechanic_id: int) -> HttpResponse:
    found = selectors.public_profile(mechanic_id, now=timezone.now())
    book_url = None
    if request.user.is_customer:  # type: ignore[union-attr]
        # The wizard's own door for "this mechanic" (booking.views.wizard ?mechanic=).
        book_url = reverse("booking:wizard") + "?" + urlencode({"mechanic": mechanic_id})
    return render(
        request,
        "directory/profile.html",
        {
            "profile": found,
            "m": found.card,
            "book_url": book_url,
            "minutes": selectors.DEFAULT_MINUTES,
        },
    )
