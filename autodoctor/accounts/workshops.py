"""A workshop's own people and settings (writes): the owner edits the workshop, invites
staff and affiliated mechanics by email; invitees accept or decline (plan §5.4).

Access (Zulip-style `access_*`): the owner and the staff of a workshop see it; only the
owner (and platform admins) change it or invite. Anyone else gets NotFound, the same
as for a workshop that does not exist.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from autodoctor.errors import Conflict, DomainError, InvalidInput, NotAllowed, NotFound
from autodoctor.notifications.services import notification_create

from . import tokens
from .mechanic_types import MechanicType, mechanic_type
from .models import (
    AccountType,
    Invitation,
    InvitationKind,
    InvitationStatus,
    MechanicProfile,
    PartnershipType,
    Role,
    User,
    Workshop,
)
from .registration import check_name, check_password, check_zone, normal_email
from .services import token_digest
from .validators import normal_postal_code

log = logging.getLogger("autodoctor.accounts")

MAX_BAYS = 50


# --------------------------------------------------------------------------- access


def workshops_visible_to(user: User):  # -> QuerySet[Workshop]
    if user.is_platform_admin:
        return Workshop.objects.all()
    return Workshop.objects.filter(Q(owner=user) | Q(staff=user)).distinct()


def access_workshop(
    user: User, workshop_id: int, *, manage: bool = False, for_update: bool = False
) -> Workshop:
    """The workshop if `user` may see it (owner, staff, admin) or, with `manage`, change
    it (owner, admin). NotFound otherwise, so ids cannot be probed; staff asking to
    manage get NotAllowed (they can see the workshop, so its existence is no secret)."""
    qs = workshops_visible_to(user).filter(pk=workshop_id)
    if for_update:
        qs = Workshop.objects.select_for_update(of=("self",)).filter(pk__in=qs.values("pk"))
    workshop = qs.select_related("owner").first()
    if workshop is None:
        raise NotFound(_("No such workshop."))
    if manage and not (workshop.owner_id == user.pk or user.is_platform_admin):
        raise NotAllowed(_("Only the workshop's owner can change it or invite people."))
    return workshop


# --------------------------------------------------------------------------- editing


@dataclass(frozen=True)
class WorkshopChanges:
    name: str | None = None
    address: str | None = None
    city: str | None = None
    postal_code: str | None = None
    time_zone: str | None = None
    bays: int | None = None
    payout_account_id: str | None = None


def _line(raw: str, *, field: str, label: str, limit: int, required: bool = False) -> str:
    text = " ".join((raw or "").split())
    if required and not text:
        raise InvalidInput(_("Enter the %(label)s.") % {"label": label}, field=field)
    if len(text) > limit:
        raise InvalidInput(
            _("The %(label)s is longer than %(limit)s characters.")
            % {"label": label, "limit": limit},
            field=field,
        )
    return text


def workshop_bays_set(*, workshop: Workshop, bays: int, now: datetime) -> None:
    """The one way the editor changes a workshop's bay count. Precondition: inside the
    transaction, `workshop` locked. Fewer bays than visits already booked at once is
    refused (workshops.services.workshop_bays_change names the clashing visits)."""
    from autodoctor.workshops.services import workshop_bays_change

    if not 1 <= bays <= MAX_BAYS:
        raise InvalidInput(
            _("A workshop has between 1 and %(max)s bays.") % {"max": MAX_BAYS}, field="bays"
        )
    workshop_bays_change(workshop=workshop, bays=bays, now=now)
    workshop.max_concurrent_appointments = bays


def workshop_update(
    *, user: User, workshop_id: int, changes: WorkshopChanges, now: datetime | None = None
) -> Workshop:
    now = now or timezone.now()
    name = (
        _line(changes.name, field="name", label=_("workshop name"), limit=200, required=True)
        if changes.name is not None
        else None
    )
    address = (
        _line(changes.address, field="address", label=_("address"), limit=255)
        if changes.address is not None
        else None
    )
    city = (
        _line(changes.city, field="city", label=_("city"), limit=100)
        if changes.city is not None
        else None
    )
    postal = normal_postal_code(changes.postal_code) if changes.postal_code is not None else None
    zone = check_zone(changes.time_zone) if changes.time_zone is not None else None
    payout = (
        _line(
            changes.payout_account_id,
            field="payout_account_id",
            label=_("payout account"),
            limit=100,
        )
        if changes.payout_account_id is not None
        else None
    )
    with transaction.atomic(durable=True):
        workshop = access_workshop(user, workshop_id, manage=True, for_update=True)
        for attr, value in (
            ("name", name),
            ("address", address),
            ("city", city),
            ("postal_code", postal),
            ("time_zone", zone),
            ("payout_account_id", payout),
        ):
            if value is not None:
                setattr(workshop, attr, value)
        if changes.bays is not None:
            workshop_bays_set(workshop=workshop, bays=changes.bays, now=now)
        workshop.save()
    log.info("accounts.workshop.updated workshop=%s by=%s", workshop.pk, user.pk)
    return workshop


def staff_remove(*, user: User, workshop_id: int, staff_id: int) -> None:
    with transaction.atomic(durable=True):
        workshop = access_workshop(user, workshop_id, manage=True, for_update=True)
        member = workshop.staff.filter(pk=staff_id).first()
        if member is None:
            raise NotFound(_("No such staff member."))
        workshop.staff.remove(member)


# --------------------------------------------------------------------------- invitations


def invitation_send(
    *,
    user: User,
    workshop_id: int,
    kind: str,
    email: str,
    partnership_type: str = "",
    now: datetime | None = None,
) -> Invitation:
    """Invite an address to the staff or as an affiliated mechanic. Inviting an address
    that has a pending invitation withdraws the old one and sends a fresh link."""
    now = now or timezone.now()
    email = normal_email(email)
    if kind not in InvitationKind.values:
        raise InvalidInput(_("Invite as staff or as a mechanic."), field="kind")
    if kind == InvitationKind.MECHANIC:
        if partnership_type not in (PartnershipType.EMPLOYEE, PartnershipType.CONTRACTOR):
            raise InvalidInput(
                _("Say whether the mechanic is an employee or a contractor."),
                field="partnership_type",
            )
    else:
        partnership_type = ""
    with transaction.atomic(durable=True):
        workshop = access_workshop(user, workshop_id, manage=True, for_update=True)
        invitee = User.objects.filter(email__iexact=email, is_active=True).first()
        _refuse_pointless_invitation(workshop, kind, email, invitee)
        Invitation.objects.filter(
            workshop=workshop, kind=kind, email__iexact=email, status=InvitationStatus.PENDING
        ).update(status=InvitationStatus.REVOKED, responded_at=now)
        secret = tokens.link_secret_new("invitation")
        try:
            with transaction.atomic():
                invitation = Invitation.objects.create(
                    workshop=workshop,
                    kind=kind,
                    email=email,
                    partnership_type=partnership_type,
                    token_hash=secret.digest,
                    invited_by=user,
                    created_at=now,
                    expires_at=now + timedelta(days=settings.INVITATION_DAYS),
                )
        except IntegrityError:
            raise Conflict(
                _("That address was just invited; look at the pending invitations."),
                code="already_invited",
            ) from None
        notification_create(
            recipient=invitee,
            address="" if invitee else email,
            kind="invitation",
            session=None,
            context={
                "account_link": {"purpose": "invitation", "seed": secret.seed},
                "workshop": workshop.name,
                "inviter": str(user),
                "kind": kind,
                "partnership": PartnershipType(partnership_type).label.lower()
                if partnership_type
                else "",
                "expires_at": invitation.expires_at.isoformat(),
            },
            dedupe_key=f"invitation:{invitation.pk}",
            now=now,
        )
    log.info("accounts.invitation.sent invitation=%s workshop=%s", invitation.pk, workshop.pk)
    return invitation


def _refuse_pointless_invitation(
    workshop: Workshop, kind: str, email: str, invitee: User | None
) -> None:
    if invitee is None:
        return
    if kind == InvitationKind.STAFF:
        if invitee.pk == workshop.owner_id or workshop.staff.filter(pk=invitee.pk).exists():
            raise Conflict(
                _("%(email)s is already on this workshop's staff.") % {"email": email},
                code="already_member",
            )
    elif MechanicProfile.objects.filter(user=invitee, workshop=workshop).exists():
        raise Conflict(
            _("%(email)s already works with this workshop.") % {"email": email},
            code="already_member",
        )


def invitation_revoke(*, user: User, workshop_id: int, invitation_id: int) -> Invitation:
    now = timezone.now()
    with transaction.atomic(durable=True):
        workshop = access_workshop(user, workshop_id, manage=True)
        invitation = (
            Invitation.objects.select_for_update()
            .filter(pk=invitation_id, workshop=workshop)
            .first()
        )
        if invitation is None:  # includes another workshop's invitation
            raise NotFound(_("No such invitation."))
        if invitation.status != InvitationStatus.PENDING:
            raise Conflict(
                _("This invitation was %(status)s already.")
                % {"status": invitation.get_status_display().lower()},
                code="invitation_closed",
            )
        invitation.status = InvitationStatus.REVOKED
        invitation.responded_at = now
        invitation.save(update_fields=["status", "responded_at"])
    return invitation


def _invitation_by_token(token: str, *, now: datetime, lock: bool) -> Invitation:
    qs = Invitation.objects.filter(token_hash=token_digest(token or "")).select_related(
        "workshop__owner"
    )
    if lock:
        qs = qs.select_for_update(of=("self",))
    invitation = qs.first()
    if invitation is None:
        raise NotFound(_("This invitation link is not valid."), code="invalid_link")
    if invitation.status != InvitationStatus.PENDING:
        raise Conflict(
            _("This invitation was %(status)s already.")
            % {"status": invitation.get_status_display().lower()},
            code="invitation_closed",
        )
    if invitation.expires_at <= now:
        raise DomainError(
            _("This invitation has expired; ask the workshop for a new one."),
            code="link_expired",
            status=410,
        )
    return invitation


def invitation_lookup(*, token: str, now: datetime | None = None) -> Invitation:
    """The open invitation a link stands for (pages show it before the answer)."""
    return _invitation_by_token(token, now=now or timezone.now(), lock=False)


def _answer(invitation: Invitation, *, status: str, user: User | None, now: datetime) -> None:
    invitation.status = status
    invitation.responded_at = now
    invitation.accepted_by = user if status == InvitationStatus.ACCEPTED else None
    invitation.save(update_fields=["status", "responded_at", "accepted_by"])
    if invitation.invited_by_id:
        notification_create(
            recipient=invitation.invited_by,
            kind="invitation_answered",
            session=None,
            context={
                "invitee": invitation.email,
                "answer": "accepted" if status == InvitationStatus.ACCEPTED else "declined",
                "workshop": invitation.workshop.name,
                "kind": invitation.kind,
                "account_link": {"purpose": "workshop"},
            },
            dedupe_key=f"invitation_answered:{invitation.pk}",
            now=now,
        )


def invitation_accept_locked(*, token: str, user: User, now: datetime) -> Invitation:
    """Accept inside the caller's transaction (the mechanic application uses it)."""
    invitation = _invitation_by_token(token, now=now, lock=True)
    if invitation.email.lower() != user.email.lower():
        # Someone else's invitation (a forwarded link): not theirs to take.
        raise NotFound(_("This invitation is for another email address."), code="invalid_link")
    workshop = invitation.workshop
    if invitation.kind == InvitationKind.STAFF:
        if user.role != Role.WORKSHOP_STAFF:
            raise NotAllowed(
                _(
                    "Workshop staff invitations need a workshop staff account; "
                    "yours is a %(role)s account."
                )
                % {"role": user.get_role_display().lower()},
                code="wrong_role",
            )
        workshop.staff.add(user)
    else:
        if not user.is_mechanic:
            raise NotAllowed(
                _("This invitation is for a mechanic account; yours is a %(role)s account.")
                % {"role": user.get_role_display().lower()},
                code="wrong_role",
            )
        from .mechanics import access_own_profile

        profile = access_own_profile(user, for_update=True)
        if (
            mechanic_type(profile) is MechanicType.WORKSHOP_AFFILIATED
            and profile.workshop_id != workshop.pk
        ):
            raise Conflict(
                _("You work with %(workshop)s now; leave it first (your profile page).")
                % {"workshop": profile.workshop},
                code="already_affiliated",
            )
        profile.workshop = workshop
        profile.account_type = AccountType.WORKSHOP_MECHANIC
        profile.partnership_type = invitation.partnership_type
        profile.save(update_fields=["workshop", "account_type", "partnership_type"])
    _answer(invitation, status=InvitationStatus.ACCEPTED, user=user, now=now)
    log.info("accounts.invitation.accepted invitation=%s user=%s", invitation.pk, user.pk)
    return invitation


def invitation_accept(*, token: str, user: User, now: datetime | None = None) -> Invitation:
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        return invitation_accept_locked(token=token, user=user, now=now)


def invitation_decline(*, token: str, now: datetime | None = None) -> Invitation:
    """Whoever holds the link may decline (the invitee may have no account)."""
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        invitation = _invitation_by_token(token, now=now, lock=True)
        _answer(invitation, status=InvitationStatus.DECLINED, user=None, now=now)
    return invitation


def invitation_signup(
    *,
    token: str,
    full_name: str,
    password: str,
    time_zone: str = "",
    now: datetime | None = None,
) -> User:
    """An invitee without an account creates one from the link and accepts at once: the
    link proves the address, so it counts as confirmed."""
    from .registration import _mechanic_profile_create

    now = now or timezone.now()
    name = check_name(full_name)
    zone = check_zone(time_zone or settings.DEFAULT_DISPLAY_ZONE)
    with transaction.atomic(durable=True):
        invitation = _invitation_by_token(token, now=now, lock=True)
        if User.objects.filter(email__iexact=invitation.email).exists():
            raise Conflict(
                _("An account with this address exists: log in to accept."), code="account_exists"
            )
        role = Role.WORKSHOP_STAFF if invitation.kind == InvitationKind.STAFF else Role.MECHANIC
        candidate = User(email=invitation.email, full_name=name, role=role)
        check_password(password, user=candidate)
        user = User.objects.create(
            email=invitation.email.lower(),
            full_name=name,
            role=role,
            time_zone=zone,
            password=make_password(password),
            date_joined=now,
            email_verified_at=now,
        )
        if role == Role.MECHANIC:
            _mechanic_profile_create(user)
        invitation_accept_locked(token=token, user=user, now=now)
    return user
