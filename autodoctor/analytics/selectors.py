"""Analytics reads: ratings (the metrics themselves live in metrics.py)."""

from django.utils.translation import gettext as _

from autodoctor.accounts.models import MechanicProfile
from autodoctor.booking.models import Session

from .models import SessionRating


def rating_for_session(session: Session) -> SessionRating | None:
    return SessionRating.objects.filter(session=session).first()


def ratings_for_mechanic(mechanic: MechanicProfile, *, limit: int = 20) -> list[SessionRating]:
    """The mechanic's own latest ratings and comments, newest first."""
    return list(
        SessionRating.objects.filter(mechanic=mechanic)
        .select_related("session__plan")
        .order_by("-created_at")[:limit]
    )


def dashboard_scope_workshop(user, workshop_id: int):
    """The workshop whose analytics `user` may see: one they own or staff, or any for a
    platform admin; NotFound otherwise (no probing)."""
    from autodoctor.accounts.models import Workshop
    from autodoctor.accounts.selectors import workshops_for_staff
    from autodoctor.errors import NotFound

    workshops = Workshop.objects.all() if user.is_platform_admin else workshops_for_staff(user)
    workshop = workshops.filter(pk=workshop_id).first()
    if workshop is None:
        raise NotFound(_("No such workshop."))
    return workshop


def mechanic_for_admin(mechanic_id: int) -> MechanicProfile:
    """One mechanic for an admin's drill-down (the caller checked the admin); NotFound."""
    from autodoctor.errors import NotFound

    profile = MechanicProfile.objects.select_related("user").filter(pk=mechanic_id).first()
    if profile is None:
        raise NotFound(_("No such mechanic."))
    return profile
