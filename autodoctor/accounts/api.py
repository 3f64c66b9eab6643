"""Account API: who am I, and personal API tokens."""

from datetime import datetime

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from . import services
from .models import User
from .selectors import home_section_for

router = Router(tags=["accounts"])


class MeOut(Schema):
    id: int
    email: str
    full_name: str
    role: str
    time_zone: str
    home: str


class TokenIn(Schema):
    name: str = Field(max_length=100)


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class IssuedTokenOut(TokenOut):
    token: str


@router.get("/me", response=MeOut, summary="The authenticated user")
def me(request: HttpRequest) -> dict:
    user: User = request.auth  # type: ignore[attr-defined]
    return {
        "id": user.pk,
        "email": user.email,
        "full_name": user.full_name,
        "role": user.role,
        "time_zone": user.time_zone,
        "home": home_section_for(user),
    }


@router.get("/me/tokens", response=list[TokenOut], summary="My API tokens")
def token_list(request: HttpRequest) -> list:
    return list(request.auth.api_tokens.all())  # type: ignore[attr-defined]


@router.post(
    "/me/tokens", response={201: IssuedTokenOut}, summary="Create an API token (shown once)"
)
def token_create(request: HttpRequest, payload: TokenIn) -> Status:
    issued = services.api_token_create(user=request.auth, name=payload.name)  # type: ignore[attr-defined]
    t = issued.token
    return Status(
        201,
        {
            "id": t.pk,
            "name": t.name,
            "prefix": t.prefix,
            "created_at": t.created_at,
            "last_used_at": None,
            "revoked_at": None,
            "token": issued.raw,
        },
    )


@router.delete("/me/tokens/{token_id}", response=TokenOut, summary="Revoke an API token")
def token_revoke(request: HttpRequest, token_id: int) -> object:
    return services.api_token_revoke(user=request.auth, token_id=token_id)  # type: ignore[attr-defined]
