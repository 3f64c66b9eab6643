"""Reads: an owner's endpoints and their delivery log. Someone else's endpoint or
delivery is NotFound (never 403), so ids cannot be probed."""

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from autodoctor.accounts.models import User
from autodoctor.errors import NotFound

from .models import Delivery, Endpoint

LOG_SIZE = 50


def endpoints_for(user: User) -> QuerySet[Endpoint]:
    return Endpoint.objects.filter(owner=user).order_by("pk")


def endpoint_for_owner(user: User, endpoint_id: int) -> Endpoint:
    endpoint = endpoints_for(user).filter(pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound(_("No such webhook endpoint."), code="endpoint_not_found")
    return endpoint


def deliveries_for(endpoint: Endpoint, *, limit: int = LOG_SIZE) -> list[Delivery]:
    """The newest deliveries first."""
    return list(endpoint.deliveries.order_by("-pk")[:limit])


def delivery_for_owner(user: User, delivery_id: int) -> Delivery:
    delivery = (
        Delivery.objects.filter(pk=delivery_id, endpoint__owner=user)
        .select_related("endpoint")
        .first()
    )
    if delivery is None:
        raise NotFound(_("No such delivery."), code="delivery_not_found")
    return delivery
