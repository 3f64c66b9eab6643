"""The secrets in emailed links (email verification, workshop invitations, password reset).

Stored hashed, never in clear: a link's secret is `HMAC(SECRET_KEY, seed)`; the token
tables keep only its SHA-256 (`token_digest`), and the message's facts keep only the
random seed, so the outbox worker can write the link when it sends. Neither the token
rows nor the whole database without SECRET_KEY yield a working link (the same idea as
the calendar-feed keys). Single use and expiry are columns of the token rows.

Password reset uses Django's own stateless tokens (an HMAC of the password hash and
last login: nothing stored, void once used, `PASSWORD_RESET_TIMEOUT`); its link is minted
when the message is rendered.
"""

import secrets
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.tokens import default_token_generator
from django.urls import reverse
from django.utils.crypto import salted_hmac
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from .services import token_digest

PURPOSES = ("verify", "invitation")


@dataclass(frozen=True)
class LinkSecret:
    seed: str  # goes into the message's facts
    raw: str  # goes into the link (never stored)
    digest: str  # goes into the token row


def link_secret(purpose: str, seed: str) -> str:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown link purpose {purpose!r}")
    return salted_hmac(f"autodoctor.accounts.{purpose}", seed, algorithm="sha256").hexdigest()


def link_secret_new(purpose: str) -> LinkSecret:
    seed = secrets.token_urlsafe(18)
    raw = link_secret(purpose, seed)
    return LinkSecret(seed=seed, raw=raw, digest=token_digest(raw))


def message_link(spec: dict[str, Any], user: Any) -> str:
    """The absolute URL an account message carries, from its facts' `account_link`."""
    from autodoctor.notifications.links import absolute

    purpose = spec.get("purpose")
    if purpose == "verify":
        return absolute(reverse("accounts:verify", args=[link_secret("verify", spec["seed"])]))
    if purpose == "invitation":
        raw = link_secret("invitation", spec["seed"])
        return absolute(reverse("accounts:invitation", args=[raw]))
    if purpose == "password_reset":
        uid = urlsafe_base64_encode(force_bytes(user.pk))
        token = default_token_generator.make_token(user)
        return absolute(reverse("password_reset_confirm", args=[uid, token]))
    names = {
        "login": "login",
        "reset_form": "password_reset",
        "profile": "profile",
        "mechanic": "accounts:mechanic_application",
        "hours": "availability:weekly",
        "workshop": "accounts:workshop_list",
    }
    if purpose in names:
        return absolute(reverse(names[purpose]))
    raise ValueError(f"unknown account link {purpose!r}")
