"""The outbox worker: claim a due row, send it, mark it. Any number of workers may run.

Claim protocol
    A row is claimable when it is `pending` and due, or `sending` with a claim older than
    CLAIM_TIMEOUT (its worker died). A worker claims ONE row at a time with a conditional
    UPDATE (`... WHERE pk = ? AND <claimable>`), in its own short transaction (on
    PostgreSQL the candidate is picked with SELECT ... FOR UPDATE SKIP LOCKED; on SQLite
    every write transaction is BEGIN IMMEDIATE, so claims are serialised). Each claim
    gets a fresh token and counts as an attempt; the row is then sent outside any
    transaction and marked `sent` by an UPDATE that matches the token, so a worker that
    lost its claim (re-claimed after the timeout) cannot overwrite the newer outcome.

Delivery guarantee: AT-LEAST-ONCE
    Killing a worker mid-batch loses nothing: unclaimed rows stay `pending`; the one row
    in flight stays `sending` and is re-claimed after CLAIM_TIMEOUT. Rows already marked
    `sent` are never sent again. The only duplicate possible is the row in flight when
    the provider had already accepted it but the worker died before the `sent` UPDATE (a
    window of one UPDATE). We accept that rather than losing a reminder (at-most-once
    would mark such a row failed unsent). Emails carry a Message-ID fixed per row, so a
    duplicate is recognisable (many mail stores collapse it); SMS has no such key.
    CLAIM_TIMEOUT is far above the email and SMS timeouts (EMAIL_TIMEOUT,
    SMS_TIMEOUT_SECONDS), so a slow but live worker is not overtaken.

Failures
    An exception while rendering or sending is retried after BACKOFF (1, 5, 25 minutes);
    after the last attempt the row is `failed` with the error, visible in the admin, whose
    "retry failed" action (outbox_retry_failed) puts it back in the queue.
"""

import logging
import secrets
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from email.utils import formataddr
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from .catalog import EMAIL, KINDS, SMS, MessageKind
from .channels.email import email_send
from .channels.sms import SmsSender, sms_sender
from .facts import parse_time
from .models import OutboxMessage, OutboxStatus
from .rendering import message_render
from .selectors import channel_refusal, phone_of, preference_for

log = logging.getLogger("autodoctor.notifications.outbox")

CLAIM_TIMEOUT = timedelta(minutes=10)
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=25))
MAX_ATTEMPTS = len(BACKOFF) + 1

S = OutboxStatus


def _claimable(now: datetime) -> Q:
    return Q(status=S.PENDING, next_attempt_at__lte=now) | Q(
        status=S.SENDING, claimed_at__lt=now - CLAIM_TIMEOUT
    )


def outbox_claim(*, now: datetime) -> OutboxMessage | None:
    """Claim the next due row for this worker, or None when nothing is due."""
    token = secrets.token_hex(16)
    for _ in range(5):  # another worker may win the row we picked; pick again
        with transaction.atomic(durable=True):
            candidates = OutboxMessage.objects.filter(_claimable(now)).order_by(
                "next_attempt_at", "pk"
            )
            if connection.features.has_select_for_update_skip_locked:
                candidates = candidates.select_for_update(skip_locked=True)
            pk = candidates.values_list("pk", flat=True).first()
            if pk is None:
                return None
            won = (
                OutboxMessage.objects.filter(_claimable(now), pk=pk).update(
                    status=S.SENDING,
                    claimed_at=now,
                    claim_token=token,
                    attempts=F("attempts") + 1,
                )
                == 1
            )
        if won:
            return OutboxMessage.objects.select_related(
                "notification__recipient", "notification__session"
            ).get(pk=pk)
    return None


def outbox_send_due(*, now: datetime | None = None, limit: int = 200) -> dict[str, int]:
    """Send up to `limit` due rows, one claim at a time. Returns counts per outcome."""
    clock: Callable[[], datetime] = (lambda: now) if now else timezone.now
    counts = {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}
    sender: list[SmsSender] = []  # created on first SMS, reused for the run

    def sms() -> SmsSender:
        if not sender:
            sender.append(sms_sender())
        return sender[0]

    for _ in range(limit):
        message = outbox_claim(now=clock())
        if message is None:
            break
        counts[outbox_deliver(message, now=clock(), sms=sms)] += 1
    return counts


def outbox_deliver(
    message: OutboxMessage, *, now: datetime, sms: Callable[[], SmsSender] = sms_sender
) -> str:
    """Send one claimed row and record the outcome ("sent", "retry", "failed", "skipped").

    Precondition: the caller claimed `message` (status sending, our claim_token).
    """
    notification = message.notification
    kind = KINDS.get(notification.kind)
    if message.attempts > MAX_ATTEMPTS:
        # Only reachable when workers died while sending this row MAX_ATTEMPTS times.
        _finish(message, S.FAILED, last_error="gave up: the worker stopped while sending")
        return "failed"
    reason = "unknown message kind" if kind is None else _skip_reason(message, kind, now)
    if reason:
        _finish(message, S.SKIPPED, last_error=reason)
        return "skipped"
    try:
        provider_id = _send(message, sms)
    except Exception as exc:  # any provider/template error: retry, then fail visibly
        error = f"{type(exc).__name__}: {exc}"[:2000]
        log.warning("outbox #%s attempt %s failed: %s", message.pk, message.attempts, error)
        if message.attempts >= MAX_ATTEMPTS:
            _finish(message, S.FAILED, last_error=error)
            return "failed"
        _finish(
            message,
            S.PENDING,
            last_error=error,
            next_attempt_at=now + BACKOFF[message.attempts - 1],
        )
        return "retry"
    _finish(message, S.SENT, sent_at=now, provider_id=provider_id[:100], last_error="")
    return "sent"


def outbox_retry_failed(message_ids: Iterable[int], *, now: datetime | None = None) -> int:
    """Put failed rows back in the queue with a fresh set of attempts (admin action)."""
    return OutboxMessage.objects.filter(pk__in=list(message_ids), status=S.FAILED).update(
        status=S.PENDING,
        attempts=0,
        next_attempt_at=now or timezone.now(),
        claimed_at=None,
        claim_token="",
        last_error="",
    )


def _send(message: OutboxMessage, sms: Callable[[], SmsSender]) -> str:
    notification = message.notification
    user = notification.recipient
    rendered = message_render(notification)
    if message.channel == EMAIL:
        return email_send(
            # A display name is one line whatever was typed: a line break would be a
            # header injection (and Python's email refuses it, failing the send forever).
            to=formataddr((" ".join(user.full_name.split()), user.email))
            if user
            else notification.address,
            subject=rendered.subject,
            body=rendered.body,
            message_id=f"<outbox-{message.pk}@{urlsplit(settings.SITE_URL).hostname}>",
            calendar=rendered.calendar,
        )
    if message.channel == SMS:
        return sms().send(phone_of(user), rendered.sms)
    raise ValueError(f"unknown channel {message.channel!r}")


def _skip_reason(message: OutboxMessage, kind: MessageKind, now: datetime) -> str | None:
    """Reasons a due row must not go out now: preferences changed, or the message is no
    longer true (session moved or cancelled, reminder moment long past)."""
    notification = message.notification
    user = notification.recipient
    refusal = channel_refusal(user, kind, message.channel, preference_for(user) if user else None)
    if refusal:
        return refusal
    if kind.about == "visit":
        return _visit_skip_reason(notification, kind, now)
    session = notification.session
    if kind.while_status and (session is None or session.status not in kind.while_status):
        return f"no longer relevant: the session is {session.status if session else 'gone'}"
    if kind.reminder and session is not None:
        start = parse_time(notification.context.get("starts_at"))
        if start is None or session.scheduled_for != start:
            return "no longer relevant: the session was moved"
        return _reminder_late(kind, start, now)
    return None


def _visit_skip_reason(notification, kind: MessageKind, now: datetime) -> str | None:
    """The same rules for a message about a workshop visit (looked up by its id)."""
    from autodoctor.workshops.models import Visit

    visit = Visit.objects.filter(pk=notification.context.get("visit_id")).first()
    if kind.while_status and (visit is None or visit.status not in kind.while_status):
        return f"no longer relevant: the visit is {visit.status if visit else 'gone'}"
    if kind.reminder and visit is not None:
        start = parse_time(notification.context.get("starts_at"))
        if start is None or visit.starts_at != start:
            return "no longer relevant: the visit was moved"
        return _reminder_late(kind, start, now)
    return None


def _reminder_late(kind: MessageKind, start: datetime, now: datetime) -> str | None:
    assert kind.reminder is not None
    due = start - kind.reminder.lead
    if now > due + kind.reminder.grace or now >= start:
        return f"reminder window passed (due {due.isoformat()}, window {kind.reminder.grace})"
    return None


def _finish(message: OutboxMessage, status: str, **fields: object) -> None:
    updated = OutboxMessage.objects.filter(
        pk=message.pk, status=S.SENDING, claim_token=message.claim_token
    ).update(status=status, claim_token="", **fields)
    if not updated:
        log.warning("outbox #%s: claim lost before marking it %s", message.pk, status)
