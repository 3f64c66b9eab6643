"""Analytics writes: post-session ratings and the mechanic average they feed.

plan §5.3: a rating is the customer's word on one session. It never involves offers,
declines or hours, so it is not a performance-management score.
"""

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.db.models import Avg
from django.utils import timezone
from django.utils.translation import gettext as _

from autodoctor.accounts.models import MechanicProfile, User
from autodoctor.booking.models import Session, SessionStatus
from autodoctor.errors import Conflict, InvalidInput, NotFound

from .models import RATING_COMMENT_MAX, RATING_MAX, RATING_MIN, SessionRating


def mechanic_rating_refresh(*, mechanic_id: int) -> Decimal | None:
    """Set the mechanic's rating to the average of all their session ratings, rounded to
    one decimal (the field matching reads); None while nobody rated them yet leaves the
    stored value alone. Caller holds the mechanic's row lock inside its transaction:
    the average is read from the table after the lock, so two ratings written at once
    cannot each compute it without the other (an incremental update would lose one)."""
    average = SessionRating.objects.filter(mechanic_id=mechanic_id).aggregate(v=Avg("score"))["v"]
    if average is None:
        return None
    rating = Decimal(str(average)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    MechanicProfile.objects.filter(pk=mechanic_id).update(rating=rating)
    return rating


def rating_save(
    *, session_id: int, user: User, score: int, comment: str = "", now: datetime | None = None
) -> SessionRating:
    """The session's customer rates it (or edits their rating within the edit window).

    Only the customer of a completed session may; anyone else gets 404 (no probing).
    The mechanic's average is updated in the same transaction."""
    now = now or timezone.now()
    comment = (comment or "").strip()
    if not isinstance(score, int) or not RATING_MIN <= score <= RATING_MAX:
        raise InvalidInput(
            _("Choose a score from %(min)s to %(max)s.") % {"min": RATING_MIN, "max": RATING_MAX},
            field="score",
        )
    if len(comment) > RATING_COMMENT_MAX:
        raise InvalidInput(
            _("Keep the comment under %(max)s characters.") % {"max": RATING_COMMENT_MAX},
            field="comment",
        )
    with transaction.atomic(durable=True):
        session = Session.objects.select_for_update().filter(pk=session_id).first()
        if session is None or session.customer_id != user.pk:
            raise NotFound(_("No such session."))
        if session.status != SessionStatus.COMPLETED or session.mechanic_id is None:
            raise Conflict(
                _("Only a completed session can be rated."), code="not_completed", field="session"
            )
        # One writer per mechanic at a time: the average below must see every rating.
        list(
            MechanicProfile.objects.select_for_update().filter(pk=session.mechanic_id).values("pk")
        )
        rating = SessionRating.objects.filter(session=session).first()
        if rating is None:
            rating = SessionRating(
                session=session,
                mechanic_id=session.mechanic_id,
                customer=user,
                created_at=now,
            )
        elif now > rating.editable_until:
            raise Conflict(
                _("This rating can no longer be changed (ratings are editable for 7 days)."),
                code="rating_locked",
            )
        rating.score = score
        rating.comment = comment
        rating.updated_at = now
        rating.save()
        mechanic_rating_refresh(mechanic_id=session.mechanic_id)
    return rating
