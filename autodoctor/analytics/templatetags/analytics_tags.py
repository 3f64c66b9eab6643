"""`{% session_rating session user now %}`: the rating card on a session page (its
customer may rate a completed session; others see the rating given, if any)."""

from datetime import datetime

from django import template

from autodoctor.booking.models import Session, SessionStatus
from autodoctor.payments.models import money_label

from ..forms import RatingForm
from ..selectors import rating_for_session

register = template.Library()


@register.inclusion_tag("analytics/_rating.html")
def session_rating(session: Session, user: object, now: datetime) -> dict:
    if session.status != SessionStatus.COMPLETED:
        return {"show": False}
    rating = rating_for_session(session)
    is_customer = getattr(user, "pk", None) == session.customer_id
    editable = is_customer and (rating is None or now <= rating.editable_until)
    form = RatingForm(
        initial={"score": rating.score, "comment": rating.comment} if rating else None
    )
    return {
        "show": rating is not None or is_customer,
        "session": session,
        "rating": rating,
        "editable": editable,
        "form": form,
        "user": user,
    }


@register.filter
def percent(ratio: float | None) -> str:
    """0.1234 → "12.3 %"; None (nothing to divide by) → "—"."""
    return "—" if ratio is None else f"{ratio * 100:.1f} %"


@register.filter
def bar(value: float | int | None, top: float | int = 1) -> float:
    """Width in percent of a bar for `value` against `top` (0–100)."""
    if not value or not top:
        return 0
    return round(min(value / top, 1) * 100, 1)


@register.filter
def money(cents: int | None) -> str:
    return money_label(int(cents or 0), None)
