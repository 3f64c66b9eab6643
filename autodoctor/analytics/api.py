"""JSON API routes of the analytics app (mounted under /api/ in autodoctor/api.py).
Handlers parse, call one service or metric, return a schema."""

from datetime import datetime

from django.http import HttpRequest
from ninja import Field, Router, Schema

from autodoctor.accounts.models import User
from autodoctor.schemas import ErrorOut

from . import services
from .models import RATING_COMMENT_MAX, RATING_MAX, RATING_MIN, SessionRating

router = Router(tags=["analytics"])


def _user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined,return-value]


class RatingIn(Schema):
    score: int = Field(ge=RATING_MIN, le=RATING_MAX, examples=[5])
    comment: str = Field("", max_length=RATING_COMMENT_MAX)


class RatingOut(Schema):
    session_id: int
    mechanic_id: int
    score: int
    comment: str
    created_at: datetime
    updated_at: datetime
    editable_until: datetime


@router.put(
    "/sessions/{session_id}/rating",
    response={200: RatingOut, 404: ErrorOut, 409: ErrorOut},
    summary="Rate a completed session 1-5 (its customer; editable for 7 days)",
)
def rating_save(request: HttpRequest, session_id: int, payload: RatingIn) -> SessionRating:
    return services.rating_save(
        session_id=session_id, user=_user(request), score=payload.score, comment=payload.comment
    )
