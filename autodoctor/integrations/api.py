"""Webhooks API (mounted under /api/): an integrator's endpoints and their delivery log.
Every route acts on the caller's own endpoints; someone else's id is 404. See
docs/integrations.md for the events, the payload and the signature."""

from datetime import datetime
from typing import Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from autodoctor.accounts.models import User
from autodoctor.schemas import ErrorOut

from . import selectors, services
from .events import EVENT_TYPES
from .models import URL_MAX

router = Router(tags=["webhooks"])

EventType = Literal[EVENT_TYPES]  # type: ignore[valid-type]


class EndpointIn(Schema):
    url: str = Field(examples=["https://example.com/hooks/autodoctor"], max_length=URL_MAX)
    event_types: list[EventType] = Field(
        examples=[["session.booked", "session.cancelled"]], max_length=len(EVENT_TYPES) * 2
    )
    description: str = Field("", max_length=services.DESCRIPTION_MAX)


class EndpointOut(Schema):
    id: int
    url: str
    description: str
    event_types: list[str]
    active: bool
    consecutive_failures: int = Field(description="Failed attempts in a row")
    disabled_at: datetime | None = Field(description="When we turned it off after failures")
    created_at: datetime


class EndpointCreatedOut(EndpointOut):
    secret: str = Field(description="Signs every body (HMAC-SHA256). Shown this once: keep it.")


class DeliveryOut(Schema):
    id: int
    endpoint_id: int
    event_id: str
    event_type: str
    status: str = Field(description="pending, sending, delivered or failed")
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_response: str = Field(description="The receiver's answer, first 500 characters")
    last_error: str
    delivered_at: datetime | None
    created_at: datetime


def _user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined,return-value]


@router.get("/webhooks/endpoints", response=list[EndpointOut], summary="Your webhook endpoints")
def endpoints_list(request: HttpRequest):
    return list(selectors.endpoints_for(_user(request)))


@router.post(
    "/webhooks/endpoints",
    response={201: EndpointCreatedOut, 409: ErrorOut, 422: ErrorOut},
    summary="Register a webhook endpoint (its secret is answered once)",
)
def endpoint_create(request: HttpRequest, payload: EndpointIn) -> Status:
    issued = services.endpoint_create(
        owner=_user(request),
        url=payload.url,
        event_types=list(payload.event_types),
        description=payload.description,
    )
    body = EndpointOut.from_orm(issued.endpoint).model_dump()
    return Status(201, {**body, "secret": issued.secret})


@router.delete(
    "/webhooks/endpoints/{endpoint_id}",
    response={204: None, 404: ErrorOut},
    summary="Remove a webhook endpoint and its delivery log",
)
def endpoint_delete(request: HttpRequest, endpoint_id: int) -> Status:
    services.endpoint_delete(owner=_user(request), endpoint_id=endpoint_id)
    return Status(204, None)


@router.post(
    "/webhooks/endpoints/{endpoint_id}/enable",
    response={200: EndpointOut, 404: ErrorOut},
    summary="Turn an endpoint on again (after failures turned it off)",
)
def endpoint_enable(request: HttpRequest, endpoint_id: int):
    return services.endpoint_enable(owner=_user(request), endpoint_id=endpoint_id)


@router.get(
    "/webhooks/endpoints/{endpoint_id}/deliveries",
    response={200: list[DeliveryOut], 404: ErrorOut},
    summary="An endpoint's delivery log, newest first (the last 50)",
)
def endpoint_deliveries(request: HttpRequest, endpoint_id: int):
    return selectors.deliveries_for(selectors.endpoint_for_owner(_user(request), endpoint_id))


@router.post(
    "/webhooks/deliveries/{delivery_id}/resend",
    response={201: DeliveryOut, 404: ErrorOut, 409: ErrorOut},
    summary="Send a delivery's event again (same id and body)",
)
def delivery_resend(request: HttpRequest, delivery_id: int) -> Status:
    return Status(201, services.delivery_resend(owner=_user(request), delivery_id=delivery_id))
