"""Finding a mechanic (reads): the search customers browse, and the public profile.

Only approved mechanics are found (``MechanicProfile.objects.approved()``, the one rule).
Every filter is answered by an index: brands, specialties and languages through the
``MechanicSearchTerm`` table (unique index kind, term, mechanic), the place through the
profile's ``fsa`` or ``lower(city)`` index, the rating (and the sort) through ``rating``.
"Free at" asks the availability service once for the whole filtered set
(``mechanics_free_between``), and the next free times on a page come from one
``available_slots_by_mechanic`` load for that page: never a query per mechanic.

Nothing here reads a mechanic's email or phone: cards and profiles carry the public
fields only (``PUBLIC_FIELDS``).
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count, F, QuerySet
from django.db.models.functions import Lower
from django.utils.translation import gettext as _

from autodoctor.accounts.models import MechanicProfile, MechanicSearchTerm, SearchTermKind
from autodoctor.accounts.search_terms import search_term
from autodoctor.analytics.models import SessionRating
from autodoctor.availability import service
from autodoctor.errors import InvalidInput, NotFound

PAGE_SIZE = 20
SESSION_MINUTES = (15, 30, 60)  # the plans' lengths (availability.plans)
DEFAULT_MINUTES = 30
NEXT_FREE_DAYS = 7  # how far ahead a card looks for the next free time
NEXT_FREE_ON_PROFILE = 5  # free times listed on a profile
RECENT_COMMENTS = 5
# What a customer may see of a mechanic. Email, phone, payout and review fields never.
PUBLIC_FIELDS = (
    "id",
    "user__full_name",
    "city",
    "fsa",
    "brands",
    "specialty_keywords",
    "languages",
    "years_experience",
    "rating",
    "bio",
)
_FSA = re.compile(r"^[A-Z]\d[A-Z](\s?\d[A-Z]\d)?$")


@dataclass(frozen=True)
class MechanicQuery:
    """What the customer asked. Blank text means "any"."""

    brand: str = ""
    keyword: str = ""
    place: str = ""  # a city, a forward sortation area (M4C) or a whole postal code
    language: str = ""
    min_rating: Decimal | None = None
    free_at: datetime | None = None
    minutes: int = DEFAULT_MINUTES
    page: int = 1


@dataclass(frozen=True)
class MechanicCard:
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
    next_free: datetime | None


@dataclass(frozen=True)
class SearchPage:
    cards: list[MechanicCard]
    total: int
    page: int
    pages: int


def checked_query(query: MechanicQuery) -> MechanicQuery:
    """InvalidInput naming the field for a query the search cannot answer."""
    if query.min_rating is not None and not 0 <= query.min_rating <= 5:
        raise InvalidInput(_("The minimum rating is between 0 and 5."), field="min_rating")
    if query.minutes not in SESSION_MINUTES:
        raise InvalidInput(
            _("A session lasts %(choices)s minutes.")
            % {"choices": ", ".join(map(str, SESSION_MINUTES))},
            field="minutes",
        )
    if query.page < 1:
        raise InvalidInput(_("Pages start at 1."), field="page")
    return query


def _with_term(qs: QuerySet, kind: SearchTermKind, text: str) -> QuerySet:
    term = search_term(text)
    if not term:
        return qs
    ids = MechanicSearchTerm.objects.filter(kind=kind, term=term).values("mechanic_id")
    return qs.filter(pk__in=ids)


def _with_place(qs: QuerySet, place: str) -> QuerySet:
    text = " ".join(place.split())
    if not text:
        return qs
    if _FSA.match(text.upper()):
        return qs.filter(fsa=text.upper()[:3])
    return qs.alias(city_key=Lower("city")).filter(city_key=text.lower())


def matching_mechanics(query: MechanicQuery, *, now: datetime) -> QuerySet[MechanicProfile]:
    """Approved mechanics matching every filter of ``query``, best rated first."""
    query = checked_query(query)
    qs = MechanicProfile.objects.approved()
    qs = _with_term(qs, SearchTermKind.BRAND, query.brand)
    qs = _with_term(qs, SearchTermKind.SPECIALTY, query.keyword)
    qs = _with_term(qs, SearchTermKind.LANGUAGE, query.language)
    qs = _with_place(qs, query.place)
    if query.min_rating is not None:
        qs = qs.filter(rating__gte=query.min_rating)
    if query.free_at is not None:
        free = service.mechanics_free_between(
            query.free_at, query.free_at + timedelta(minutes=query.minutes), qs, now=now
        )
        qs = qs.filter(pk__in=sorted(free))
    return qs.order_by(F("rating").desc(nulls_last=True), "-years_experience", "pk")


def _rating_counts(ids: list[int]) -> dict[int, int]:
    rows = (
        SessionRating.objects.filter(mechanic_id__in=ids)
        .order_by()
        .values("mechanic_id")
        .annotate(n=Count("pk"))
    )
    return {row["mechanic_id"]: row["n"] for row in rows}


def _next_free(
    ids: list[int], *, minutes: int, now: datetime, count: int = 1
) -> dict[int, list[datetime]]:
    """Up to ``count`` next free start times per mechanic within NEXT_FREE_DAYS. Most
    mechanics have one within a day, so the first load looks one day ahead and only
    the mechanics still short look further: two availability loads at most for all of
    ``ids``, and the engine expands a week only for the few who need it."""
    found: dict[int, list[datetime]] = {mid: [] for mid in ids}
    duration = timedelta(minutes=minutes)
    start = now
    for end in (now + timedelta(days=1), now + timedelta(days=NEXT_FREE_DAYS)):
        short = [mid for mid, starts in found.items() if len(starts) < count]
        if not short:
            break
        slots = service.available_slots_by_mechanic(short, start, end, duration, now=now)
        for mid, more in slots.items():
            found[mid].extend(slot.start for slot in more[: count - len(found[mid])])
        start = end
    return found


def _card(row: dict, ratings: dict[int, int], free: dict[int, list[datetime]]) -> MechanicCard:
    starts = free.get(row["id"]) or []
    return MechanicCard(
        id=row["id"],
        name=row["user__full_name"] or "Mechanic",
        city=row["city"],
        fsa=row["fsa"] or "",
        brands=list(row["brands"] or []),
        specialties=list(row["specialty_keywords"] or []),
        languages=list(row["languages"] or []),
        years_experience=row["years_experience"],
        rating=row["rating"],
        rating_count=ratings.get(row["id"], 0),
        bio=row["bio"],
        next_free=starts[0] if starts else None,
    )


def mechanic_search(query: MechanicQuery, *, now: datetime) -> SearchPage:
    """One page of matching mechanics as cards, each with its next free time. Queries:
    a fixed handful whatever the number of mechanics (count, page, ratings, one
    availability load for the page, plus the service's own for ``free_at``)."""
    qs = matching_mechanics(query, now=now)
    total = qs.count()
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(query.page, pages)
    offset = (page - 1) * PAGE_SIZE
    rows = list(qs.values(*PUBLIC_FIELDS)[offset : offset + PAGE_SIZE])
    ids = [row["id"] for row in rows]
    ratings = _rating_counts(ids) if ids else {}
    free = _next_free(ids, minutes=query.minutes, now=now) if ids else {}
    return SearchPage(
        cards=[_card(row, ratings, free) for row in rows], total=total, page=page, pages=pages
    )


@dataclass(frozen=True)
class RatingComment:
    score: int
    comment: str
    created_at: datetime


@dataclass(frozen=True)
class PublicProfile:
    card: MechanicCard
    next_free_times: list[datetime]
    comments: list[RatingComment]


def public_profile(
    mechanic_id: int, *, now: datetime, minutes: int = DEFAULT_MINUTES
) -> PublicProfile:
    """What a signed-in person may see of an approved mechanic. NotFound for anyone else
    (unknown, pending, rejected or deactivated answer the same)."""
    row = MechanicProfile.objects.approved().filter(pk=mechanic_id).values(*PUBLIC_FIELDS).first()
    if row is None:
        raise NotFound(_("No such mechanic."))
    free = _next_free([mechanic_id], minutes=minutes, now=now, count=NEXT_FREE_ON_PROFILE)
    comments = [
        RatingComment(score=r.score, comment=r.comment, created_at=r.created_at)
        for r in SessionRating.objects.filter(mechanic_id=mechanic_id)
        .exclude(comment="")
        .order_by("-created_at", "-pk")[:RECENT_COMMENTS]
    ]
    return PublicProfile(
        card=_card(row, _rating_counts([mechanic_id]), free),
        next_free_times=free.get(mechanic_id, []),
        comments=comments,
    )
