"""Sign-up, email verification and the sign-in housekeeping around them (writes).

No user enumeration: signing up with an address that already has an account answers
exactly like a new sign-up ("check your inbox"); the owner of the address gets an email
saying someone tried (or, if they never confirmed it, a fresh confirmation link). The
login and password-reset pages answer the same way for unknown addresses too (see
views.py and auth.py).

Booking needs a confirmed address: `require_verified_email` is the one check, called
by booking's intake (booking.services.intake_validate), which every booking path uses.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from autodoctor.errors import Conflict, DomainError, InvalidInput, NotAllowed, NotFound
from autodoctor.notifications.services import notification_create

from . import tokens
from .models import CustomerProfile, EmailVerification, MechanicProfile, Role, User, validate_zone
from .services import token_digest

log = logging.getLogger("autodoctor.accounts")

SIGNUP_ROLES = (Role.CUSTOMER, Role.MECHANIC)
RESEND_AFTER = timedelta(seconds=60)
# A notice to an existing account goes out at most once per window, so sign-up cannot
# be used to flood someone's inbox.
NOTICE_WINDOW = timedelta(minutes=10)


# --------------------------------------------------------------------------- checks


def normal_email(raw: str, *, field: str = "email") -> str:
    email = (raw or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidInput(_("Enter a valid email address."), field=field) from None
    if len(email) > 254:
        raise InvalidInput(_("That email address is too long."), field=field)
    return email


def check_password(password: str, *, user: User, field: str = "password") -> None:
    """Django's password validators (AUTH_PASSWORD_VALIDATORS), as one InvalidInput."""
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise InvalidInput(" ".join(exc.messages), field=field) from None


def check_zone(zone: str, *, field: str = "time_zone") -> str:
    try:
        validate_zone(zone)
    except ValidationError as exc:
        raise InvalidInput(exc.messages[0], field=field) from None
    return zone


def check_language(language: str, *, field: str = "language") -> str:
    """One of settings.LANGUAGES (an empty value means the site's default)."""
    language = (language or settings.LANGUAGE_CODE).lower()
    if language not in dict(settings.LANGUAGES):
        raise InvalidInput(_("Choose Français or English."), field=field)
    return language


def check_name(name: str, *, field: str = "full_name") -> str:
    name = " ".join((name or "").split())
    if not name:
        raise InvalidInput(_("Tell us your name."), field=field)
    if len(name) > 150:
        raise InvalidInput(_("Your name is longer than 150 characters."), field=field)
    return name


def require_verified_email(user: User) -> None:
    """The one "book only after verifying" rule (called by booking's intake)."""
    if not user.email_verified:
        raise NotAllowed(
            _(
                "Confirm your email address before booking: open the link we emailed you "
                "(you can ask for a new one on your profile page)."
            ),
            code="email_unverified",
        )


# --------------------------------------------------------------------------- sign-up


@dataclass(frozen=True)
class SignupOutcome:
    """What happened, for tests and logs only: pages and the API answer the same way in
    both cases (no enumeration)."""

    user: User
    created: bool


def account_signup(
    *,
    email: str,
    password: str,
    full_name: str,
    role: str = Role.CUSTOMER,
    time_zone: str = "",
    language: str = "",
    now: datetime | None = None,
) -> SignupOutcome:
    """Create an unverified account and email its confirmation link. An address that has
    an account already (in any letter case, including a sign-up racing this one) creates
    nothing: its owner gets a notice instead."""
    now = now or timezone.now()
    email = normal_email(email)
    full_name = check_name(full_name)
    if role not in SIGNUP_ROLES:
        raise InvalidInput(_("Sign up as a customer or as a mechanic."), field="role")
    zone = check_zone(time_zone or settings.DEFAULT_DISPLAY_ZONE)
    language = check_language(language)
    candidate = User(email=email, full_name=full_name, role=role, time_zone=zone)
    check_password(password, user=candidate)
    with transaction.atomic(durable=True):
        existing = User.objects.filter(email__iexact=email).first()
        if existing is None:
            try:
                with transaction.atomic():
                    user = User.objects.create_user(
                        email,
                        password,
                        full_name=full_name,
                        role=role,
                        time_zone=zone,
                        language=language,
                        date_joined=now,
                    )
            except IntegrityError:
                # A sign-up for the same address committed first (the unique index
                # decided): answer as for any existing account.
                existing = User.objects.filter(email__iexact=email).first()
                if existing is None:
                    raise
            else:
                if role == Role.CUSTOMER:
                    CustomerProfile.objects.create(user=user)
                else:
                    _mechanic_profile_create(user)
                _verification_send(user, now=now)
                log.info("accounts.user.signed_up user=%s role=%s", user.pk, role)
                return SignupOutcome(user=user, created=True)
        _existing_account_notice(existing, now=now)
        return SignupOutcome(user=existing, created=False)


def _mechanic_profile_create(user: User) -> MechanicProfile:
    from autodoctor.availability.models import MechanicSettings

    profile = MechanicProfile.objects.create(user=user)
    MechanicSettings.objects.create(mechanic=profile)
    return profile


def _window(now: datetime, width: timedelta) -> int:
    return int(now.timestamp() // width.total_seconds())


def _existing_account_notice(user: User, *, now: datetime) -> None:
    if not user.is_active:
        return
    if not user.email_verified:
        # Probably the owner again, who lost the first email: send a fresh link.
        latest = user.email_verifications.order_by("-created_at").first()
        if latest is None or now - latest.created_at >= RESEND_AFTER:
            _verification_send(user, now=now)
        return
    notification_create(
        recipient=user,
        kind="account_exists",
        session=None,
        context={"account_link": {"purpose": "reset_form"}},
        dedupe_key=f"account_exists:{user.pk}:{_window(now, NOTICE_WINDOW)}",
        now=now,
    )


# --------------------------------------------------------------------------- verification


def _verification_send(user: User, *, now: datetime) -> EmailVerification:
    secret = tokens.link_secret_new("verify")
    verification = EmailVerification.objects.create(
        user=user,
        email=user.email,
        token_hash=secret.digest,
        created_at=now,
        expires_at=now + timedelta(hours=settings.EMAIL_VERIFICATION_HOURS),
    )
    notification_create(
        recipient=user,
        kind="email_verify",
        session=None,
        context={
            "account_link": {"purpose": "verify", "seed": secret.seed},
            "hours": settings.EMAIL_VERIFICATION_HOURS,
        },
        dedupe_key=f"email_verify:{verification.pk}",
        now=now,
    )
    return verification


def verification_resend(*, user: User, now: datetime | None = None) -> EmailVerification:
    """A new confirmation link (the older ones keep working until they expire)."""
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        user = User.objects.select_for_update().get(pk=user.pk)
        if user.email_verified:
            raise Conflict(_("Your email address is already confirmed."), code="already_verified")
        latest = user.email_verifications.order_by("-created_at").first()
        if latest is not None and now - latest.created_at < RESEND_AFTER:
            wait = int((RESEND_AFTER - (now - latest.created_at)).total_seconds()) + 1
            raise DomainError(
                _("We just sent a link; ask again in %(wait)s seconds.") % {"wait": wait},
                code="too_soon",
                status=429,
                retry_after=wait,
            )
        return _verification_send(user, now=now)


def email_verify(*, token: str, now: datetime | None = None) -> User:
    """Confirm the address a link was sent to. Each link works once and until it
    expires; a link for an address the account no longer has does not work."""
    now = now or timezone.now()
    digest = token_digest(token or "")
    with transaction.atomic(durable=True):
        verification = (
            EmailVerification.objects.select_for_update()
            .select_related("user")
            .filter(token_hash=digest)
            .first()
        )
        if verification is None or not verification.user.is_active:
            raise NotFound(_("This confirmation link is not valid."), code="invalid_link")
        user = verification.user
        if verification.used_at is not None:
            raise Conflict(
                _("This confirmation link was used already. Your address is confirmed: log in.")
                if user.email_verified
                else _("This confirmation link was used already."),
                code="link_used",
            )
        if verification.expires_at <= now or verification.email != user.email:
            raise DomainError(
                _("This confirmation link has expired. Log in and ask for a new one."),
                code="link_expired",
                status=410,
            )
        verification.used_at = now
        verification.save(update_fields=["used_at"])
        if user.email_verified_at is None:
            User.objects.filter(pk=user.pk).update(email_verified_at=now)
            user.email_verified_at = now
        log.info("accounts.user.email_verified user=%s", user.pk)
    return user


# --------------------------------------------------------------------------- sessions


def sessions_end_everywhere(*, user: User) -> None:
    """Log out every browser signed in as `user` (the session hash includes the epoch).
    API tokens are separate credentials, revoked on the profile page."""
    User.objects.filter(pk=user.pk).update(session_epoch=F("session_epoch") + 1)
    user.refresh_from_db(fields=["session_epoch"])
    log.info("accounts.user.logged_out_everywhere user=%s", user.pk)


def password_reset_send(*, user: User, now: datetime | None = None) -> None:
    """The reset email (Django's PasswordResetForm calls this for each active account with
    the address; unknown addresses get nothing and the same page). One per two minutes."""
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        notification_create(
            recipient=user,
            kind="password_reset",
            session=None,
            context={
                "account_link": {"purpose": "password_reset"},
                "minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
            },
            dedupe_key=f"password_reset:{user.pk}:{_window(now, timedelta(minutes=2))}",
            now=now,
        )


def password_changed(*, user: User, via_reset: bool = False, now: datetime | None = None) -> None:
    """After a change or a reset: tell the owner (if it was not them, they can act) and
    lift a login lockout on the account. A reset link also proves the address."""
    from axes.utils import reset as axes_reset

    now = now or timezone.now()
    with transaction.atomic(durable=True):
        if via_reset and user.email_verified_at is None:
            User.objects.filter(pk=user.pk).update(email_verified_at=now)
        notification_create(
            recipient=user,
            kind="password_changed",
            session=None,
            context={"account_link": {"purpose": "reset_form"}, "changed_at": now.isoformat()},
            dedupe_key=f"password_changed:{user.pk}:{now.isoformat()}",
            now=now,
        )
    axes_reset(username=user.email)
