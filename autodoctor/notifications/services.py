"""Notification writes: create a message (and its outbox rows), preferences, read marks,
the private calendar-feed key."""

import logging
import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.core import signing
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from autodoctor.accounts.models import User
from autodoctor.booking.models import Session
from autodoctor.errors import NotFound

from .catalog import KINDS
from .models import Notification, NotificationPreference, OutboxMessage
from .selectors import FEED_SIGNER_SALT, channel_refusal, preference_for

log = logging.getLogger("autodoctor.notifications")


def notification_create(
    *,
    recipient: User | None,
    kind: str,
    session: Session | None,
    context: dict[str, Any],
    dedupe_key: str,
    now: datetime,
    address: str = "",
) -> Notification | None:
    """Write one message and an outbox row per channel the recipient takes it by.

    Runs inside the caller's transaction (a booking change or the reminder job), so the
    rows commit or roll back with it. Returns None when `dedupe_key` exists already:
    the same fact never becomes two messages, however often we are called. `recipient`
    None with an `address`: an email to someone without an account (an invitation).
    """
    spec = KINDS[kind]
    try:
        with transaction.atomic():  # a savepoint: a duplicate must not spoil the caller
            notification = Notification.objects.create(
                recipient=recipient,
                address=address,
                kind=kind,
                session=session,
                context=context,
                dedupe_key=dedupe_key,
            )
    except IntegrityError:
        if Notification.objects.filter(dedupe_key=dedupe_key).exists():
            return None
        raise
    prefs = preference_for(recipient) if recipient else None
    OutboxMessage.objects.bulk_create(
        OutboxMessage(notification=notification, channel=channel, next_attempt_at=now)
        for channel in spec.channels
        if channel_refusal(recipient, spec, channel, prefs) is None
    )
    if spec.channels:
        _wake_sender_after_commit()
    return notification


def _wake_sender_after_commit() -> None:
    """Ask a worker to send soon after the transaction commits (the periodic run is the
    safety net). Once per transaction however many rows it wrote. Robust: a task
    backend hiccup must not turn a committed booking into an error for the caller."""
    connection = transaction.get_connection()
    # run_on_commit holds (savepoint ids, callable, robust) for the open transaction.
    if any(entry[1] is _enqueue_sender for entry in connection.run_on_commit):
        return
    transaction.on_commit(_enqueue_sender, robust=True)


def _enqueue_sender() -> None:
    from .tasks import outbox_send

    outbox_send.enqueue()


# --------------------------------------------------------------------------- centre


def notifications_mark_read(
    *, user: User, notification_ids: Iterable[int] | None = None, now: datetime | None = None
) -> int:
    """Mark the given notifications (or all) of `user` read. Someone else's ids: NotFound."""
    now = now or timezone.now()
    qs = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if notification_ids is not None:
        ids = set(notification_ids)
        if Notification.objects.filter(recipient=user, pk__in=ids).count() != len(ids):
            raise NotFound(_("No such notification."))
        qs = qs.filter(pk__in=ids)
    return qs.update(read_at=now)


# --------------------------------------------------------------------------- preferences


def preferences_update(
    *,
    user: User,
    email_enabled: bool,
    sms_enabled: bool,
    remind_24h: bool,
    remind_1h: bool,
    hours_review_weekly: bool | None = None,
) -> NotificationPreference:
    """Save the choices; `hours_review_weekly` None leaves that opt-in as it is."""
    defaults = {
        "email_enabled": email_enabled,
        "sms_enabled": sms_enabled,
        "remind_24h": remind_24h,
        "remind_1h": remind_1h,
    }
    if hours_review_weekly is not None:
        defaults["hours_review_weekly"] = hours_review_weekly
    prefs, _created = NotificationPreference.objects.update_or_create(user=user, defaults=defaults)
    return prefs


def feed_token(prefs: NotificationPreference) -> str | None:
    """The secret in the feed URL: the stored random key signed with SECRET_KEY (so the
    database alone does not reveal working URLs). None when the feed is off."""
    if not prefs.feed_key:
        return None
    return signing.Signer(salt=FEED_SIGNER_SALT, sep=".").sign(prefs.feed_key)


def feed_regenerate(*, user: User, now: datetime | None = None) -> str:
    """Issue a new feed URL; the previous one stops working at once."""
    prefs, _created = NotificationPreference.objects.update_or_create(
        user=user,
        defaults={"feed_key": secrets.token_urlsafe(24), "feed_created_at": now or timezone.now()},
    )
    token = feed_token(prefs)
    assert token is not None
    return token


def feed_revoke(*, user: User) -> None:
    NotificationPreference.objects.filter(user=user).update(feed_key=None, feed_created_at=None)
