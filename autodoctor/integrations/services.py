"""Writes: register, remove and turn on again an endpoint; resend a delivery."""

import secrets
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from autodoctor.accounts.models import User
from autodoctor.errors import Conflict, InvalidInput

from . import selectors
from .delivery import url_refusal
from .events import EVENT_TYPES, wake_sender_after_commit
from .models import URL_MAX, Delivery, DeliveryStatus, Endpoint

ENDPOINTS_PER_USER = 20
DESCRIPTION_MAX = 100


@dataclass(frozen=True)
class IssuedEndpoint:
    endpoint: Endpoint
    secret: str  # shown to the owner this once


def endpoint_create(
    *, owner: User, url: str, event_types: list[str], description: str = ""
) -> IssuedEndpoint:
    """Register an endpoint with a fresh signing secret. Refuses unknown event types and
    addresses we must not call (delivery.url_refusal: SSRF)."""
    url = (url or "").strip()
    if not url or len(url) > URL_MAX:
        raise InvalidInput(
            _("Give the endpoint's address (up to %(url_max)s characters).") % {"url_max": URL_MAX},
            field="url",
        )
    if refusal := url_refusal(url):
        raise InvalidInput(
            _("We cannot send to this address: %(refusal)s.") % {"refusal": refusal}, field="url"
        )
    chosen = list(dict.fromkeys(event_types))
    unknown = sorted(set(chosen) - set(EVENT_TYPES))
    if unknown:
        raise InvalidInput(
            _("Unknown event type(s): %(join_unknown)s.") % {"join_unknown": ", ".join(unknown)},
            field="event_types",
        )
    if not chosen:
        raise InvalidInput(_("Choose at least one event."), field="event_types")
    secret = f"whsec_{secrets.token_urlsafe(32)}"
    with transaction.atomic(durable=True):
        # Lock the owner's row so two creations cannot both pass the cap.
        User.objects.select_for_update(no_key=True).filter(pk=owner.pk).first()
        if Endpoint.objects.filter(owner=owner).count() >= ENDPOINTS_PER_USER:
            raise Conflict(
                _("You have %(endpoints_per_user)s endpoints already; remove one first.")
                % {"endpoints_per_user": ENDPOINTS_PER_USER},
                code="too_many_endpoints",
            )
        endpoint = Endpoint.objects.create(
            owner=owner,
            url=url,
            description=(description or "").strip()[:DESCRIPTION_MAX],
            event_types=[t for t in EVENT_TYPES if t in chosen],
            secret=secret,
        )
    return IssuedEndpoint(endpoint, secret)


def endpoint_delete(*, owner: User, endpoint_id: int) -> None:
    """Remove the endpoint and its delivery log (waiting deliveries are dropped)."""
    with transaction.atomic(durable=True):
        selectors.endpoint_for_owner(owner, endpoint_id).delete()


def endpoint_enable(*, owner: User, endpoint_id: int) -> Endpoint:
    """Turn an endpoint on again (after we turned it off): its failure count restarts and
    the deliveries that waited go out."""
    with transaction.atomic(durable=True):
        endpoint = selectors.endpoint_for_owner(owner, endpoint_id)
        Endpoint.objects.filter(pk=endpoint.pk).update(
            active=True, disabled_at=None, consecutive_failures=0
        )
        wake_sender_after_commit()
    endpoint.refresh_from_db()
    return endpoint


def delivery_resend(*, owner: User, delivery_id: int, now: datetime | None = None) -> Delivery:
    """Send the same event (same id and payload) again, as a new delivery in the log."""
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        original = selectors.delivery_for_owner(owner, delivery_id)
        if original.status in (DeliveryStatus.PENDING, DeliveryStatus.SENDING):
            raise Conflict(_("This delivery is still on its way."), code="delivery_in_flight")
        if not original.endpoint.active:
            raise Conflict(
                _("This endpoint is turned off; turn it on to resend."), code="endpoint_off"
            )
        again = Delivery.objects.create(
            endpoint=original.endpoint,
            event_id=original.event_id,
            event_type=original.event_type,
            resource=original.resource,
            payload=original.payload,
            next_attempt_at=now,
        )
        wake_sender_after_commit()
    return again
