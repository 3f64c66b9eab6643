"""The webhook worker: claim a due delivery, sign it, POST it, record the outcome.

Same claim protocol as the notifications outbox (notifications/outbox.py): one row at a
time by a conditional UPDATE with a fresh claim token, picked with SKIP LOCKED on
PostgreSQL; the POST happens outside any transaction and the outcome is written by an
UPDATE that matches the token. Guarantee: AT-LEAST-ONCE (a worker that dies after the
receiver answered but before the UPDATE sends that event again, with the same event id:
receivers dedupe on `id`).

Order per resource: a delivery is claimable only when no earlier delivery to the same
endpoint about the same resource (`session:12`) is still pending or sending, so a
receiver sees `session.booked` before `session.cancelled` even across retries. A
delivery that gave up (failed) no longer holds the later ones back.

Failures (a non-2xx answer, a timeout, a refused address) are retried after BACKOFF;
each counts against the endpoint, and WEBHOOKS_DISABLE_AFTER failures in a row turn it
off and email its owner. A success resets the count.

SSRF: the host is resolved and checked again just before each POST (it may have changed
since the endpoint was saved), redirects are not followed, proxies are not used. A DNS
answer that changes between our check and the connection (rebinding) is not covered;
production deployments should also filter egress at the network.
"""

import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import ERROR_MAX, RESPONSE_MAX, Delivery, DeliveryStatus, Endpoint

log = logging.getLogger("autodoctor.integrations.delivery")

CLAIM_TIMEOUT = timedelta(minutes=2)  # far above WEBHOOKS_TIMEOUT_SECONDS
BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=8),
    timedelta(hours=24),
)
MAX_ATTEMPTS = len(BACKOFF) + 1
SIGNATURE_HEADER = "AutoDoctor-Signature"

D = DeliveryStatus


# --------------------------------------------------------------------------- signing


def body_bytes(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` (the Stripe scheme)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


# --------------------------------------------------------------------------- SSRF


def url_refusal(url: str) -> str | None:
    """Why we must not POST to `url` (None: go ahead). http(s) only; a host that resolves
    to a loopback, private, link-local or otherwise non-public address is refused unless
    settings.WEBHOOKS_ALLOW_PRIVATE (development, tests)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return _("only http:// and https:// addresses are allowed")
    if not parts.hostname:
        return _("the address has no host")
    if parts.username or parts.password:
        return _("the address must not carry a user name or password")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError) as exc:
        return _("the host cannot be resolved (%(error)s)") % {"error": exc}
    if settings.WEBHOOKS_ALLOW_PRIVATE:
        return None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if not address.is_global or address.is_multicast:
            return _("the host resolves to a private or local address (%(address)s)") % {
                "address": address
            }
    return None


# --------------------------------------------------------------------------- HTTP


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a 3xx is an answer, not a hop
        return None


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)


def http_post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str, str]:
    """POST and return (status code or None, the answer's first RESPONSE_MAX characters,
    an error text or "")."""
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with _OPENER.open(request, timeout=settings.WEBHOOKS_TIMEOUT_SECONDS) as response:
            return response.status, _text(response.read(RESPONSE_MAX * 4)), ""
    except urllib.error.HTTPError as exc:
        return exc.code, _text(exc.read(RESPONSE_MAX * 4)), f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return None, "", f"{type(exc).__name__}: {reason}"[:ERROR_MAX]


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")[:RESPONSE_MAX]


# --------------------------------------------------------------------------- claiming


def _claimable(now: datetime) -> Q:
    earlier_open = Delivery.objects.filter(
        endpoint=OuterRef("endpoint"),
        resource=OuterRef("resource"),
        pk__lt=OuterRef("pk"),
        status__in=[D.PENDING, D.SENDING],
    )
    due = Q(status=D.PENDING, next_attempt_at__lte=now) | Q(
        status=D.SENDING, claimed_at__lt=now - CLAIM_TIMEOUT
    )
    return due & Q(endpoint__active=True) & ~Exists(earlier_open)


def delivery_claim(*, now: datetime) -> Delivery | None:
    """Claim the next due delivery for this worker, or None when nothing is due."""
    token = secrets.token_hex(16)
    features = connection.features
    for _attempt in range(5):  # another worker may win the row we picked; pick again
        with transaction.atomic(durable=True):
            candidates = Delivery.objects.filter(_claimable(now)).order_by("next_attempt_at", "pk")
            if features.has_select_for_update_skip_locked and features.has_select_for_update_of:
                candidates = candidates.select_for_update(skip_locked=True, of=("self",))
            pk = candidates.values_list("pk", flat=True).first()
            if pk is None:
                return None
            won = (
                Delivery.objects.filter(_claimable(now), pk=pk).update(
                    status=D.SENDING,
                    claimed_at=now,
                    claim_token=token,
                    attempts=F("attempts") + 1,
                )
                == 1
            )
        if won:
            return Delivery.objects.select_related("endpoint__owner").get(pk=pk)
    return None


def deliveries_send_due(*, now: datetime | None = None, limit: int = 200) -> dict[str, int]:
    """Send up to `limit` due deliveries, one claim at a time. Returns counts per outcome."""
    clock: Callable[[], datetime] = (lambda: now) if now else timezone.now
    counts = {"delivered": 0, "retry": 0, "failed": 0}
    for _row in range(limit):
        delivery = delivery_claim(now=clock())
        if delivery is None:
            break
        counts[delivery_attempt(delivery, now=clock())] += 1
    return counts


def delivery_attempt(delivery: Delivery, *, now: datetime) -> str:
    """POST one claimed delivery and record the outcome ("delivered", "retry", "failed").

    Precondition: the caller claimed `delivery` (status sending, our claim_token).
    """
    endpoint = delivery.endpoint
    body = body_bytes(delivery.payload)
    refusal = url_refusal(endpoint.url)
    if refusal:
        code, answer, error = None, "", f"refused: {refusal}"
    else:
        timestamp = int(now.timestamp())
        code, answer, error = http_post(
            endpoint.url,
            body,
            {
                "Content-Type": "application/json",
                "User-Agent": "AutoDoctor-Webhooks/1.0",
                SIGNATURE_HEADER: signature(endpoint.secret, timestamp, body),
                "AutoDoctor-Event-Id": delivery.event_id,
            },
        )
    outcome = {"last_status_code": code, "last_response": answer}
    if code is not None and 200 <= code < 300:
        _finish(delivery, D.DELIVERED, delivered_at=now, last_error="", **outcome)
        Endpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=0)
        return "delivered"
    log.warning("webhook delivery #%s attempt %s: %s", delivery.pk, delivery.attempts, error)
    if delivery.attempts >= MAX_ATTEMPTS:
        _finish(delivery, D.FAILED, last_error=error, **outcome)
        result = "failed"
    else:
        _finish(
            delivery,
            D.PENDING,
            last_error=error,
            next_attempt_at=now + BACKOFF[delivery.attempts - 1],
            **outcome,
        )
        result = "retry"
    endpoint_failure_count(endpoint, now=now)
    return result


def endpoint_failure_count(endpoint: Endpoint, *, now: datetime) -> bool:
    """Count one more failure in a row; the one that reaches WEBHOOKS_DISABLE_AFTER turns
    the endpoint off and emails its owner (once: the conditional UPDATE decides who).
    Returns True when this call disabled it."""
    from autodoctor.notifications.links import absolute
    from autodoctor.notifications.services import notification_create

    limit = settings.WEBHOOKS_DISABLE_AFTER
    with transaction.atomic(durable=True):
        Endpoint.objects.filter(pk=endpoint.pk).update(
            consecutive_failures=F("consecutive_failures") + 1
        )
        disabled = Endpoint.objects.filter(
            pk=endpoint.pk, active=True, consecutive_failures__gte=limit
        ).update(active=False, disabled_at=now)
        if disabled:
            notification_create(
                recipient=endpoint.owner,
                kind="webhook_disabled",
                session=None,
                context={
                    "endpoint_url": endpoint.url,
                    "failures": limit,
                    "disabled_at": now.isoformat(),
                    "integrations_url": absolute("/integrations/"),
                },
                dedupe_key=f"webhook_disabled:{endpoint.pk}:{now.isoformat()}",
                now=now,
            )
    return bool(disabled)


def _finish(delivery: Delivery, status: str, **fields: object) -> None:
    updated = Delivery.objects.filter(
        pk=delivery.pk, status=D.SENDING, claim_token=delivery.claim_token
    ).update(status=status, claim_token="", **fields)
    if not updated:
        log.warning("webhook delivery #%s: claim lost before marking it %s", delivery.pk, status)
