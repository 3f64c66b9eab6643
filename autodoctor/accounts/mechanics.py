"""Becoming a mechanic (writes): the application, the photo, the admin's review, and
leaving a workshop (plan §2.1-2.2, §5.3-5.4).

The mechanic's type is never stored or decided here: the application records the facts
(own workshop or not, the workshop's invitation and partnership) and `mechanic_type` in
mechanic_types.py derives the type from them, as it does everywhere else.

Approval (MechanicProfileQuerySet.approved) gates offers and listings only; a pending
mechanic can already set their hours (plan §5.3: no approval of schedules).
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from autodoctor.errors import Conflict, InvalidInput, NotAllowed, NotFound
from autodoctor.notifications.services import notification_create

from .mechanic_types import MechanicType, mechanic_type
from .models import (
    AccountType,
    ApprovalStatus,
    MechanicProfile,
    PartnershipType,
    User,
    Workshop,
)
from .registration import check_zone
from .search_terms import mechanic_search_terms_sync
from .validators import normal_postal_code, photo_normalised

log = logging.getLogger("autodoctor.accounts")

WORK_MODES = ("virtual", "independent", "affiliated")
MAX_TAGS = 20


@dataclass(frozen=True)
class ShopFacts:
    name: str = ""
    address: str = ""
    city: str = ""
    postal_code: str = ""


@dataclass(frozen=True)
class Application:
    years_experience: int
    city: str
    postal_code: str
    time_zone: str
    work_mode: str  # virtual | independent | affiliated
    brands: list[str] = field(default_factory=list)
    specialties: list[str] = field(default_factory=list)
    bio: str = ""
    languages: list[str] = field(default_factory=list)
    shop: ShopFacts = ShopFacts()  # independent owners: the workshop they run
    invitation_token: str = ""  # affiliated: the workshop's invitation (unless accepted)


def _tags(values: list[str], *, field: str, label: str, plural: str) -> list[str]:
    seen: dict[str, str] = {}
    for raw in values or []:
        tag = " ".join(str(raw).split())
        if not tag:
            continue
        if len(tag) > 50:
            raise InvalidInput(
                _("Each %(label)s is at most 50 characters.") % {"label": label}, field=field
            )
        seen.setdefault(tag.lower(), tag)
    if len(seen) > MAX_TAGS:
        raise InvalidInput(
            _("List at most %(count)s %(labels)s.") % {"count": MAX_TAGS, "labels": plural},
            field=field,
        )
    return list(seen.values())


def _text(raw: str, *, field: str, label: str, limit: int, required: bool = False) -> str:
    text = " ".join((raw or "").split()) if limit <= 255 else (raw or "").strip()
    if required and not text:
        raise InvalidInput(_("Enter the %(label)s.") % {"label": label}, field=field)
    if len(text) > limit:
        raise InvalidInput(
            _("The %(label)s is longer than %(limit)s characters.")
            % {"label": label, "limit": limit},
            field=field,
        )
    return text


@dataclass(frozen=True)
class _Checked:
    years: int
    brands: list[str]
    specialties: list[str]
    languages: list[str]
    bio: str
    city: str
    postal_code: str
    zone: str
    mode: str
    shop: ShopFacts


def _checked(app: Application) -> _Checked:
    if app.work_mode not in WORK_MODES:
        raise InvalidInput(
            _(
                "Choose how you work: virtual only, your own workshop, or with a workshop "
                "that invited you."
            ),
            field="work_mode",
        )
    if not 0 <= app.years_experience <= 70:
        raise InvalidInput(_("Years of experience are between 0 and 70."), field="years_experience")
    shop = ShopFacts()
    if app.work_mode == "independent":
        shop = ShopFacts(
            name=_text(
                app.shop.name, field="shop_name", label=_("workshop name"), limit=200, required=True
            ),
            address=_text(
                app.shop.address,
                field="shop_address",
                label=_("workshop address"),
                limit=255,
                required=True,
            ),
            city=_text(
                app.shop.city, field="shop_city", label=_("workshop city"), limit=100, required=True
            ),
            postal_code=normal_postal_code(app.shop.postal_code, field="shop_postal_code"),
        )
        if not shop.postal_code:
            raise InvalidInput(_("Enter the workshop's postal code."), field="shop_postal_code")
    return _Checked(
        years=app.years_experience,
        brands=_tags(app.brands, field="brands", label=_("brand"), plural=_("brands")),
        specialties=_tags(
            app.specialties, field="specialties", label=_("specialty"), plural=_("specialties")
        ),
        languages=_tags(
            app.languages, field="languages", label=_("language"), plural=_("languages")
        ),
        bio=_text(app.bio, field="bio", label=_("bio"), limit=2000),
        city=_text(app.city, field="city", label=_("city"), limit=100, required=True),
        postal_code=normal_postal_code(app.postal_code) or _missing_postal(),
        zone=check_zone(app.time_zone),
        mode=app.work_mode,
        shop=shop,
    )


def _missing_postal() -> str:
    raise InvalidInput(_("Enter your postal code (e.g. M5V 2T6)."), field="postal_code")


def access_own_profile(user: User, *, for_update: bool = False) -> MechanicProfile:
    if not user.is_mechanic:
        raise NotAllowed(_("Only mechanic accounts can apply as mechanics."), code="not_a_mechanic")
    qs = MechanicProfile.objects.filter(user=user).select_related("workshop", "user")
    profile = (qs.select_for_update(of=("self",)) if for_update else qs).first()
    if profile is None:
        from .registration import _mechanic_profile_create

        profile = _mechanic_profile_create(user)
    return profile


def mechanic_application_submit(
    *,
    user: User,
    application: Application,
    photo: UploadedFile | None = None,
    now: datetime | None = None,
) -> MechanicProfile:
    """Send (or update) the application; a new or rejected one waits for an admin.
    Everything is checked first, the photo included, so a refusal changes nothing."""
    from .workshops import invitation_accept_locked

    now = now or timezone.now()
    checked = _checked(application)
    if not user.email_verified:
        raise NotAllowed(
            _("Confirm your email address before applying (see your profile page)."),
            code="email_unverified",
        )
    photo_bytes = photo_normalised(photo) if photo is not None else None
    photo_file = _PhotoSwap(photo_bytes)
    with photo_file, transaction.atomic(durable=True):
        profile = access_own_profile(user, for_update=True)
        if checked.mode == "affiliated":
            if application.invitation_token:
                invitation_accept_locked(token=application.invitation_token, user=user, now=now)
                profile.refresh_from_db()
            elif mechanic_type(profile) is not MechanicType.WORKSHOP_AFFILIATED:
                raise InvalidInput(
                    _(
                        "Working with a workshop needs its invitation: open the link the "
                        "workshop emailed you."
                    ),
                    field="invitation_token",
                )
        elif checked.mode == "independent":
            _own_workshop(profile, checked, now=now)
        else:
            if mechanic_type(profile) is MechanicType.WORKSHOP_AFFILIATED:
                _affiliation_end(profile, now=now)
            profile.workshop = None
            profile.account_type = AccountType.INDIVIDUAL_MECHANIC
            profile.partnership_type = ""
        User.objects.filter(pk=user.pk).update(time_zone=checked.zone)
        profile.years_experience = checked.years
        profile.brands = checked.brands
        profile.specialty_keywords = checked.specialties
        profile.languages = checked.languages
        profile.bio = checked.bio
        profile.city = checked.city
        profile.postal_code = checked.postal_code
        profile.applied_at = now
        if profile.approval_status != ApprovalStatus.APPROVED:
            profile.approval_status = ApprovalStatus.PENDING
            profile.review_note = ""
        photo_file.apply(profile)
        profile.save()
        mechanic_search_terms_sync(profiles=[profile])
    log.info("accounts.mechanic.applied mechanic=%s mode=%s", profile.pk, checked.mode)
    return profile


class _PhotoSwap:
    """Put a new photo file on a profile inside the caller's transaction: the file is
    written first (storage is not transactional), removed again if the transaction rolls
    back, and the previous file is removed only once the new one is committed. So a
    failed upload or a refused application leaves neither a changed profile nor a
    stray file."""

    def __init__(self, data: bytes | None) -> None:
        self.data = data
        self.stored = ""
        self.storage = MechanicProfile.photo.field.storage

    def __enter__(self) -> "_PhotoSwap":
        return self

    def apply(self, profile: MechanicProfile) -> None:
        if self.data is None:
            return
        old = profile.photo.name if profile.photo else ""
        profile.photo.save("photo.jpg", ContentFile(self.data), save=False)
        self.stored = profile.photo.name
        if old:
            transaction.on_commit(lambda: self.storage.delete(old))

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        if exc is not None and self.stored:
            self.storage.delete(self.stored)


def mechanic_photo_set(*, user: User, photo: UploadedFile) -> MechanicProfile:
    """Replace the profile photo (validated, size-limited, resized: photo_normalised)."""
    data = photo_normalised(photo)
    swap = _PhotoSwap(data)
    with swap, transaction.atomic(durable=True):
        profile = access_own_profile(user, for_update=True)
        swap.apply(profile)
        profile.save(update_fields=["photo"])
    return profile


def _own_workshop(profile: MechanicProfile, checked: _Checked, *, now: datetime) -> None:
    """An independent owner runs their own workshop: create it (or update the one they
    own) and record the facts that make mechanic_type say INDEPENDENT_WORKSHOP."""
    if mechanic_type(profile) is MechanicType.WORKSHOP_AFFILIATED:
        _affiliation_end(profile, now=now)
    shop = Workshop.objects.filter(owner=profile.user).order_by("pk").first()
    if shop is None:
        shop = Workshop(owner=profile.user, max_concurrent_appointments=1)
    shop.name = checked.shop.name
    shop.address = checked.shop.address
    shop.city = checked.shop.city
    shop.postal_code = checked.shop.postal_code
    shop.time_zone = checked.zone
    shop.save()
    profile.workshop = shop
    profile.account_type = AccountType.INDIVIDUAL_MECHANIC
    profile.partnership_type = PartnershipType.OWNER


# --------------------------------------------------------------------------- review


def mechanic_review(
    *,
    mechanic_id: int,
    reviewer: User,
    approve: bool,
    note: str = "",
    now: datetime | None = None,
) -> MechanicProfile:
    """An admin approves or turns down an application; the mechanic is emailed."""
    now = now or timezone.now()
    if not reviewer.is_platform_admin:
        raise NotAllowed(_("Only platform admins review mechanics."))
    note = _text(note, field="note", label=_("note"), limit=500)
    if not approve and not note:
        raise InvalidInput(_("Say why, so the mechanic can fix it."), field="note")
    with transaction.atomic(durable=True):
        profile = (
            MechanicProfile.objects.select_for_update(of=("self",))
            .select_related("user")
            .filter(pk=mechanic_id)
            .first()
        )
        if profile is None:
            raise NotFound(_("No such mechanic."))
        if profile.approval_status != ApprovalStatus.PENDING or profile.applied_at is None:
            message = (
                _("This mechanic is %(status)s; there is nothing to review.")
                if profile.applied_at
                else _(
                    "This mechanic is %(status)s and has not applied yet; there is nothing to review."
                )
            )
            raise Conflict(
                message % {"status": profile.get_approval_status_display().lower()},
                code="not_pending",
            )
        profile.approval_status = ApprovalStatus.APPROVED if approve else ApprovalStatus.REJECTED
        profile.reviewed_at = now
        profile.reviewed_by = reviewer
        profile.review_note = note
        profile.save(update_fields=["approval_status", "reviewed_at", "reviewed_by", "review_note"])
        notification_create(
            recipient=profile.user,
            kind="mechanic_reviewed",
            session=None,
            context={
                "approved": approve,
                "note": note,
                "account_link": {"purpose": "hours" if approve else "mechanic"},
            },
            dedupe_key=f"mechanic_reviewed:{profile.pk}:{now.isoformat()}",
            now=now,
        )
    log.info("accounts.mechanic.reviewed mechanic=%s approved=%s", profile.pk, approve)
    return profile


# --------------------------------------------------------------------------- leaving


@dataclass(frozen=True)
class LeaveOutcome:
    workshop: Workshop
    kept_session_ids: list[int]


def _upcoming_session_ids(profile: MechanicProfile, *, now: datetime) -> list[int]:
    from autodoctor.booking.models import Session, SessionStatus

    return list(
        Session.objects.filter(
            mechanic=profile,
            status__in=[SessionStatus.SCHEDULED, SessionStatus.PENDING],
            scheduled_for__gte=now,
        )
        .order_by("scheduled_for")
        .values_list("pk", flat=True)
    )


def _affiliation_end(profile: MechanicProfile, *, now: datetime) -> LeaveOutcome:
    """Precondition: inside a transaction, `profile` locked and workshop-affiliated."""
    workshop = profile.workshop
    assert workshop is not None
    kept = _upcoming_session_ids(profile, now=now)
    profile.workshop = None
    profile.account_type = AccountType.INDIVIDUAL_MECHANIC
    profile.partnership_type = ""
    profile.save(update_fields=["workshop", "account_type", "partnership_type"])
    notification_create(
        recipient=workshop.owner,
        kind="affiliation_ended",
        session=None,
        context={
            "mechanic_name": str(profile.user),
            "workshop": workshop.name,
            "kept": len(kept),
            "ended_at": now.isoformat(),
            "account_link": {"purpose": "workshop"},
        },
        dedupe_key=f"affiliation_ended:{profile.pk}:{workshop.pk}:{now.isoformat()}",
        now=now,
    )
    log.info("accounts.mechanic.left_workshop mechanic=%s workshop=%s", profile.pk, workshop.pk)
    return LeaveOutcome(workshop=workshop, kept_session_ids=kept)


def mechanic_affiliation_leave(*, user: User, now: datetime | None = None) -> LeaveOutcome:
    """plan §5.3: leaving is always possible. It applies to new bookings only: sessions
    already booked stay as booked (same time, same payee: the payout ledger recorded
    the workshop when they were paid); from now on the mechanic is virtual-only, with
    their own weekly hours, until they join or open a workshop."""
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        profile = access_own_profile(user, for_update=True)
        if mechanic_type(profile) is not MechanicType.WORKSHOP_AFFILIATED:
            raise Conflict(_("You are not working with a workshop."), code="not_affiliated")
        return _affiliation_end(profile, now=now)
