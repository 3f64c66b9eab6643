"""Notification reads: preferences and who may receive what, the centre, feeds."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core import signing
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from autodoctor.accounts.models import User
from autodoctor.availability.models import TimeOff, TimeOffStatus
from autodoctor.booking.models import Session, SessionStatus
from autodoctor.errors import NotFound

from .catalog import EMAIL, KINDS, SMS, MessageKind
from .models import Notification, NotificationPreference

log = logging.getLogger("autodoctor.notifications")

FEED_SIGNER_SALT = "autodoctor.notifications.feed"
FEED_PAST = timedelta(days=30)  # feeds keep a month of history so events don't vanish at once
FEED_STATUSES = (SessionStatus.SCHEDULED, SessionStatus.LIVE, SessionStatus.COMPLETED)


def preference_for(user: User) -> NotificationPreference:
    """The user's preferences, or an unsaved row holding the defaults."""
    return NotificationPreference.objects.filter(user=user).first() or NotificationPreference(
        user=user
    )


def phone_of(user: User) -> str:
    profile = getattr(user, "customer_profile", None)
    return (profile.phone or "").strip() if profile else ""


def channel_refusal(
    user: User | None, kind: MessageKind, channel: str, prefs: NotificationPreference | None
) -> str | None:
    """Why `user` must not get `kind` over `channel` now, or None if they may.

    Asked when the outbox row is written and again just before sending (the person may
    have changed their mind in between). SMS is opt-in and needs a phone number, which
    only customers have. Essential (account) mail ignores the preferences; a message to an
    address without an account (`user` None) is email only.
    """
    if channel not in kind.channels:
        return f"{kind.code} is not sent by {channel}"
    if user is None:
        return None if channel == EMAIL else f"{channel} needs an account"
    if not user.is_active:
        return "recipient is inactive"
    if kind.essential and channel == EMAIL:
        return None if user.email else "no email address"
    assert prefs is not None
    if kind.reminder and not getattr(prefs, kind.reminder.preference):
        return f"{kind.label.lower()} turned off in preferences"
    if channel == EMAIL:
        if not prefs.email_enabled:
            return "email turned off in preferences"
        if not user.email:
            return "no email address"
    if channel == SMS:
        if not prefs.sms_enabled:
            return "SMS not opted in"
        if not phone_of(user):
            return "no phone number"
    return None


# --------------------------------------------------------------------------- centre


@dataclass(frozen=True)
class CentreEntry:
    notification: Notification
    subject: str
    body: str
    link: str | None


def notifications_for(user: User) -> QuerySet[Notification]:
    return Notification.objects.filter(recipient=user).select_related("recipient")


def centre_entries(user: User, *, limit: int = 50) -> list[CentreEntry]:
    """The user's recent messages, worded as they were (or would be) emailed."""
    return [centre_entry(n) for n in notifications_for(user)[:limit]]


def centre_entry(notification: Notification) -> CentreEntry:
    from .links import session_links, visit_links
    from .rendering import message_render

    try:
        rendered = message_render(notification, with_calendar=False)
        subject, body = rendered.subject, rendered.body
    except Exception:  # one broken message must not take the whole page down
        log.exception("cannot render notification #%s", notification.pk)
        subject, body = (KINDS[notification.kind].label if notification.kind in KINDS else ""), ""
    kind = KINDS.get(notification.kind)
    link = None
    if kind and kind.about == "visit" and (visit_id := notification.context.get("visit_id")):
        link = visit_links(visit_id)[kind.link]
    elif kind and notification.session_id:
        link = session_links(notification.session_id)[kind.link]
    return CentreEntry(notification, subject, body, link)


def unread_count(user: User) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


# --------------------------------------------------------------------------- calendars


def session_for_party(session_id: int, user: User) -> Session:
    """A session `user` is the customer or the mechanic of. Anyone else — admins
    included — gets NotFound, so ids cannot be probed."""
    session = (
        Session.objects.select_related("plan", "customer", "mechanic__user")
        .filter(Q(customer=user) | Q(mechanic__user=user), pk=session_id)
        .first()
    )
    if session is None:
        raise NotFound(_("No such session."))
    return session


def feed_user(token: str) -> User | None:
    """The active owner of a feed token, or None (bad signature, revoked, regenerated)."""
    try:
        key = signing.Signer(salt=FEED_SIGNER_SALT, sep=".").unsign(token)
    except signing.BadSignature:
        return None
    prefs = (
        NotificationPreference.objects.select_related("user")
        .filter(feed_key=key, user__is_active=True)
        .first()
    )
    return prefs.user if prefs else None


def feed_sessions(user: User, *, now: datetime) -> QuerySet[Session]:
    """Sessions with a time that the user is a party to, from a month ago on."""
    return (
        Session.objects.select_related("plan", "customer", "mechanic__user")
        .filter(Q(customer=user) | Q(mechanic__user=user))
        .filter(
            status__in=FEED_STATUSES,
            scheduled_for__isnull=False,
            scheduled_for__gte=now - FEED_PAST,
        )
        .order_by("scheduled_for")
    )


def feed_time_off(user: User, *, now: datetime) -> QuerySet[TimeOff]:
    """A mechanic's approved time off (nobody else has any)."""
    return (
        TimeOff.objects.select_related("mechanic__user")
        .filter(mechanic__user=user, status=TimeOffStatus.APPROVED, ends_at__gte=now - FEED_PAST)
        .order_by("starts_at")
    )
