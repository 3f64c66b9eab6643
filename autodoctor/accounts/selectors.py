"""Account reads."""

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
