"""API: find a mechanic (search) and read their public profile. Signed-in callers only;
no email, phone or payout field is ever part of these answers."""

from datetime import datetime
from decimal import Decimal

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema

from autodoctor.accounts.models import User
from autodoctor.availability.forms import parse_instant
from autodoctor.ratelimit import READ, ApiRateLimit
from autodoctor.schemas import ISO_TEXT_MAX, ErrorOut

from . import selectors
from .selectors import MechanicCard, MechanicQuery

router = Router(tags=["directory"])

READ_LIMIT = [ApiRateLimit(READ)]  # a search computes availability: count each one
ERRORS = {401: ErrorOut, 404: ErrorOut, 422: ErrorOut}
TEXT_MAX = 50


def _user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined,return-value]


class MechanicCardOut(Schema):
    id: int
    name: str
    city: str
    fsa: str
    brands: list[str]
    specialties: list[str]
    languages: list[str]
    years_experience: int
    rating: Decimal | None
    rating_count: int
    bio: str
    next_free: datetime | None = Field(
        description=f"The first bookable start within {selectors.NEXT_FREE_DAYS} days (UTC)"
    )


class SearchOut(Schema):
    total: int
    page: int
    pages: int
    page_size: int
    results: list[MechanicCardOut]


class CommentOut(Schema):
    score: int
    comment: str
    created_at: datetime


class ProfileOut(Schema):
    mechanic: MechanicCardOut
    next_free_times: list[datetime]
    comments: list[CommentOut] = Field(description="The latest rating comments")
    time_zone: str = Field(description="The caller's zone, for showing the times")


def _card_out(card: MechanicCard) -> dict:
    return {
        "id": card.id,
        "name": card.name,
        "city": card.city,
        "fsa": card.fsa,
        "brands": card.brands,
        "specialties": card.specialties,
        "languages": card.languages,
        "years_experience": card.years_experience,
        "rating": card.rating,
        "rating_count": card.rating_count,
        "bio": card.bio,
        "next_free": card.next_free,
    }


@router.get(
    "/mechanics/search",
    response={200: SearchOut, **ERRORS},
    throttle=READ_LIMIT,
    summary="Find approved mechanics",
    description="Every filter is optional and they combine. `brand`, `keyword` (a specialty "
    "word, singular or plural) and `language` match whole terms, any case; `place` is a "
    "city or a postal code / its first three characters; `free_at` (ISO; a time without "
    "offset is in your zone) keeps mechanics bookable for `minutes` from then. Best "
    f"rated first, {selectors.PAGE_SIZE} a page.",
)
def mechanic_search(
    request: HttpRequest,
    brand: str = Query("", max_length=TEXT_MAX),
    keyword: str = Query("", max_length=TEXT_MAX),
    place: str = Query("", max_length=TEXT_MAX),
    language: str = Query("", max_length=TEXT_MAX),
    min_rating: float | None = Query(None, ge=0, le=5),
    free_at: str = Query("", max_length=ISO_TEXT_MAX),
    minutes: int = Query(selectors.DEFAULT_MINUTES, ge=1, le=240),
    page: int = Query(1, ge=1, le=10_000),
) -> dict:
    user = _user(request)
    at = parse_instant(free_at, zone=user.time_zone, field="free_at") if free_at else None
    found = selectors.mechanic_search(
        MechanicQuery(
            brand=brand,
            keyword=keyword,
            place=place,
            language=language,
            min_rating=None if min_rating is None else Decimal(str(min_rating)),
            free_at=at,
            minutes=minutes,
            page=page,
        ),
        now=timezone.now(),
    )
    return {
        "total": found.total,
        "page": found.page,
        "pages": found.pages,
        "page_size": selectors.PAGE_SIZE,
        "results": [_card_out(card) for card in found.cards],
    }


@router.get(
    "/mechanics/{mechanic_id}/profile",
    response={200: ProfileOut, **ERRORS},
    throttle=READ_LIMIT,
    summary="A mechanic's public profile",
    description="404 for a mechanic who is not (or no longer) approved.",
)
def mechanic_profile(request: HttpRequest, mechanic_id: int) -> dict:
    profile = selectors.public_profile(mechanic_id, now=timezone.now())
    return {
        "mechanic": _card_out(profile.card),
        "next_free_times": profile.next_free_times,
        "comments": [
            {"score": c.score, "comment": c.comment, "created_at": c.created_at}
            for c in profile.comments
        ],
        "time_zone": _user(request).time_zone,
    }
