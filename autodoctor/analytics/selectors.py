"""Analytics reads: ratings (the metrics themselves live in metrics.py)."""

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
