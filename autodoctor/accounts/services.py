"""Account writes: API tokens and profile creation."""

import hashlib
import secrets
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from autodoctor.dates import db_instant
from autodoctor.errors import InvalidInput, NotFound

from .models import ApiToken, User

TOKEN_PREFIX = "adt_"


def token_digest(raw: str) -> str:
    # Tokens are 256-bit random secrets, so a fast unsalted hash is enough to make a
    # leaked table useless; a slow KDF would only slow every API call.
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    raw: str  # shown once, never stored


def api_token_create(*, user: User, name: str) -> IssuedToken:
    name = name.strip()
    if not name:
        raise InvalidInput(_("Give the token a name so you can recognise it later."), field="name")
    if len(name) > 100:
        raise InvalidInput(_("Token name is longer than 100 characters."), field="name")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name, prefix=raw[: len(TOKEN_PREFIX) + 6], token_hash=token_digest(raw)
    )
    return IssuedToken(token=token, raw=raw)


def api_token_revoke(*, user: User, token_id: int) -> ApiToken:
    """Revoke one of the user's tokens (revoking twice changes nothing); the profile page,
    the API and the admin action all call this."""
    with transaction.atomic(durable=True):
        token = ApiToken.objects.select_for_update().filter(user=user, pk=token_id).first()
        if token is None:
            raise NotFound(_("No such token."))
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
    return token


def api_token_authenticate(raw: str) -> User | None:
    """The active user owning this raw token, or None. Records last use."""
    if not raw.startswith(TOKEN_PREFIX):
        return None
    # Every API request asks this: one raw query (building the ORM's join cost more than
    # running it), the token's columns riding along on the user's row.
    found = list(
        User.objects.raw(
            f"SELECT u.*, t.id AS api_token_id, t.last_used_at AS api_token_last_used_at"
            f" FROM {User._meta.db_table} u JOIN {ApiToken._meta.db_table} t"
            " ON t.user_id = u.id"
            " WHERE t.token_hash = %s AND t.revoked_at IS NULL AND u.is_active",
            [token_digest(raw)],
        )
    )
    if not found:
        return None
    user = found[0]
    last_used = user.api_token_last_used_at
    now = timezone.now()
    # Throttle the write: one update a minute per token is plenty for "last used".
    if last_used is None or (now - db_instant(last_used)).total_seconds() > 60:
        ApiToken.objects.filter(pk=user.api_token_id).update(last_used_at=now)
    return user
