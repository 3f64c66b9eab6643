"""Account reads."""

from dataclasses import dataclass, field
from datetime import datetime

from .models import Role, User, Workshop

HOME_SECTIONS = {
    Role.CUSTOMER: "book a mechanic",
    Role.MECHANIC: "my schedule",
    Role.WORKSHOP_STAFF: "appointments",
    Role.ADMIN: "administration",
}


def home_section_for(user: User) -> str:
    if user.is_superuser:
        return HOME_SECTIONS[Role.ADMIN]
    return HOME_SECTIONS.get(Role(user.role), "")


def workshops_for_staff(user: User):  # -> QuerySet[Workshop]
    """Workshops this user may manage: the ones they own or are staff of."""
    from django.db.models import Q

    return Workshop.objects.filter(Q(owner=user) | Q(staff=user)).distinct()


# --------------------------------------------------------------------------- profile pages


@dataclass(frozen=True)
class ProfileSummary:
    """What the profile page shows about a person, read in a fixed few queries."""

    city: str
    postal_code: str
    phone: str
    sms_opt_in: bool
    vehicles: list = field(default_factory=list)
    mechanic: object | None = None
    mechanic_type: str = ""


def profile_summary(user: User) -> ProfileSummary:
    from autodoctor.notifications.selectors import preference_for

    from .mechanic_types import mechanic_type
    from .models import CustomerProfile, MechanicProfile

    customer = CustomerProfile.objects.filter(user=user).first() if user.is_customer else None
    mechanic = (
        MechanicProfile.objects.filter(user=user).select_related("workshop").first()
        if user.is_mechanic
        else None
    )
    place = customer or mechanic
    return ProfileSummary(
        city=place.city if place else "",
        postal_code=place.postal_code if place else "",
        phone=customer.phone if customer else "",
        sms_opt_in=bool(customer and preference_for(user).sms_enabled),
        vehicles=list(customer.vehicles.all()) if customer else [],
        mechanic=mechanic,
        mechanic_type=mechanic_type(mechanic).label if mechanic else "",
    )


def workshop_facts(workshop: Workshop) -> dict:
    """The owner-editable fields, named as WorkshopChanges and the editor form name them."""
    return {
        "name": workshop.name,
        "address": workshop.address,
        "city": workshop.city,
        "postal_code": workshop.postal_code,
        "time_zone": workshop.time_zone,
        "bays": workshop.max_concurrent_appointments,
        "payout_account_id": workshop.payout_account_id,
    }


@dataclass(frozen=True)
class WorkshopPeople:
    staff: list
    mechanics: list  # (profile, mechanic type label)
    invitations: list


def workshop_people(workshop: Workshop, *, now: datetime) -> WorkshopPeople:
    """Who works at a workshop, and its open invitations (expired ones shown as such)."""
    from .mechanic_types import mechanic_type
    from .models import Invitation, InvitationStatus, MechanicProfile

    mechanics = list(
        MechanicProfile.objects.filter(workshop=workshop).select_related("user").order_by("pk")
    )
    return WorkshopPeople(
        staff=list(workshop.staff.order_by("email")),
        mechanics=[(m, mechanic_type(m).label) for m in mechanics],
        invitations=list(
            Invitation.objects.filter(workshop=workshop, status=InvitationStatus.PENDING).order_by(
                "-created_at"
            )
        ),
    )


def mechanic_applications_pending():  # -> list[tuple[MechanicProfile, str]]
    """The approval queue: sent applications waiting for an admin, oldest first."""
    from .mechanic_types import mechanic_type
    from .models import ApprovalStatus, MechanicProfile

    rows = (
        MechanicProfile.objects.filter(
            approval_status=ApprovalStatus.PENDING, applied_at__isnull=False
        )
        .select_related("user", "workshop")
        .order_by("applied_at")[:200]
    )
    return [(m, mechanic_type(m).label) for m in rows]
