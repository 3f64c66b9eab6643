"""Pages: the notification centre (+ the header badge), preferences and the calendar
feed settings, and the feed itself. Each view parses, calls one service or selector,
renders."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from . import calendars, selectors, services
from .forms import PreferenceForm
from .links import absolute

CENTRE = "notifications/centre.html"


@login_required
@require_GET
def centre(request: HttpRequest) -> HttpResponse:
    user = request.user
    return render(
        request,
        CENTRE,
        {
            "entries": selectors.centre_entries(user),  # type: ignore[arg-type]
            "unread": selectors.unread_count(user),  # type: ignore[arg-type]
        },
    )


@require_GET
def badge(request: HttpRequest) -> HttpResponse:
    """The unread count in the header (htmx polls it). Anonymous: 204, nothing to swap."""
    if not request.user.is_authenticated:
        return HttpResponse(status=204)
    return render(request, f"{CENTRE}#badge", {"unread": selectors.unread_count(request.user)})  # type: ignore[arg-type]


@login_required
@require_POST
def mark_read(request: HttpRequest, notification_id: int) -> HttpResponse:
    user = request.user
    services.notifications_mark_read(user=user, notification_ids=[notification_id])  # type: ignore[arg-type]
    if request.htmx:  # type: ignore[attr-defined]
        notification = selectors.notifications_for(user).get(pk=notification_id)  # type: ignore[arg-type]
        response = render(
            request, f"{CENTRE}#entry", {"entry": selectors.centre_entry(notification)}
        )
        response["HX-Trigger"] = "notifications-read"
        return response
    return redirect("notifications:centre")


@login_required
@require_POST
def mark_all_read(request: HttpRequest) -> HttpResponse:
    count = services.notifications_mark_read(user=request.user)  # type: ignore[arg-type]
    messages.success(
        request,
        _("%(count)d message(s) marked read.") % {"count": count},
    )
    return redirect("notifications:centre")


@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    user = request.user
    prefs = selectors.preference_for(user)  # type: ignore[arg-type]
    form = PreferenceForm(request.POST or None, instance=prefs)
    if request.method == "POST" and form.is_valid():
        services.preferences_update(user=user, **form.cleaned_data)  # type: ignore[arg-type]
        messages.success(request, _("Preferences saved."))
        return redirect("notifications:preferences")
    token = services.feed_token(prefs)
    feed_url = absolute(reverse("notifications:feed", args=[token])) if token else None
    return render(
        request,
        "notifications/preferences.html",
        {
            "form": form,
            "phone": selectors.phone_of(user),  # type: ignore[arg-type]
            "feed_url": feed_url,
            "webcal_url": feed_url.replace("https://", "webcal://").replace("http://", "webcal://")
            if feed_url
            else None,
        },
    )


@login_required
@require_POST
def feed_regenerate(request: HttpRequest) -> HttpResponse:
    services.feed_regenerate(user=request.user)  # type: ignore[arg-type]
    messages.success(request, _("New calendar feed address created; the old one no longer works."))
    return redirect("notifications:preferences")


@login_required
@require_POST
def feed_revoke(request: HttpRequest) -> HttpResponse:
    services.feed_revoke(user=request.user)  # type: ignore[arg-type]
    messages.success(request, _("Calendar feed turned off; its address no longer works."))
    return redirect("notifications:preferences")


@require_GET
def feed(request: HttpRequest, token: str) -> HttpResponse:
    """The private feed calendars subscribe to. No login: the unguessable token is the
    credential. Wrong, revoked or replaced token → 404 (nothing to tell apart)."""
    user = selectors.feed_user(token)
    if user is None:
        raise Http404(_("No such calendar feed."))
    body = calendars.feed_calendar(user, now=timezone.now())
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="autodoctor.ics"'
    response["Cache-Control"] = "private, max-age=300"
    return response
