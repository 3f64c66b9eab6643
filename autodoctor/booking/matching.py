"""Smart matching (plan §1.2 scores, §3.2–3.3 and §6.4 availability filter).

`match_score` is pure: one mechanic's score and the reasons in plain words.
`mechanics_ranked` loads candidates in one query, filters scheduled requests with
the availability service's set-based `mechanics_free_between` (never a loop of
per-mechanic checks), scores and sorts.
"""

import bisect
import re
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    Q,
    QuerySet,
    Value,
    When,
)
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_

from autodoctor.accounts.models import MechanicProfile, User
from autodoctor.accounts.presence import ONLINE_WINDOW, presence_of
from autodoctor.availability.service import MAX_BUFFER
from autodoctor.dates import db_instant

STOPWORDS = {
    "the",
    "and",
    "with",
    "when",
    "my",
    "car",
    "is",
    "it",
    "a",
    "an",
    "of",
    "to",
    "in",
    "on",
    "i",
}


@dataclass(frozen=True)
class MatchCriteria:
    concern: str = ""
    brand: str = ""
    city: str = ""
    fsa: str = ""
    scheduled_for: datetime | None = None
    duration_minutes: int = 15


def match_criteria(
    customer: User, *, concern: str = "", brand: str = "", at: datetime | None, minutes: int
) -> MatchCriteria:
    """What to match on for this customer's request: the concern and brand they gave,
    their city and FSA (from their profile, if any), the time (None = start now) and
    the session's length. The wizard and `session_publish` both build it here."""
    profile = getattr(customer, "customer_profile", None)
    return MatchCriteria(
        concern=concern,
        brand=brand,
        city=profile.city if profile else "",
        fsa=profile.fsa if profile else "",
        scheduled_for=at,
        duration_minutes=minutes,
    )


@dataclass(frozen=True)
class Match:
    mechanic_id: int
    score: int
    reasons: list[str] = field(default_factory=list)


@lru_cache(maxsize=256)
def concern_keywords(concern: str) -> frozenset[str]:
    # Cached: match_score runs once per mechanic with the same concern.
    words = re.findall(r"[a-z]+", concern.lower())
    return frozenset(w for w in words if len(w) > 2 and w not in STOPWORDS)


def _keyword_hits(specialties: list[str], concern: str, words: frozenset[str]) -> list[str]:
    hits = []
    text = concern.lower()
    for keyword in specialties:
        k = keyword.lower().strip()
        if not k:
            continue
        if (" " in k and k in text) or (" " not in k and k in words):
            hits.append(keyword)
    return hits


def _skip(message: str, **values) -> None:
    pass


def _explainer(reasons: list[str]):
    """Adds a reason: ``message`` (marked with gettext_noop) translated, with values."""

    def say(message: str, **values) -> None:
        reasons.append(_(message) % values if values else _(message))

    return say


def match_score(
    mechanic: MechanicProfile, criteria: MatchCriteria, *, now: datetime, explain: bool = True
) -> Match:
    """Precondition: `mechanic.user` is loaded (its zone decides "online today").
    ``explain=False``: the score alone (no translated reasons), for ranking many."""
    score = 0
    reasons: list[str] = []
    say = _explainer(reasons) if explain else _skip
    presence = presence_of(
        available=mechanic.is_online,
        last_seen_at=mechanic.last_seen_at,
        now=now,
        zone=mechanic.user.zone,
    )
    if presence.points:
        score += presence.points
        if explain:
            reasons.append(str(presence.label))
    hits = _keyword_hits(
        mechanic.specialty_keywords or [], criteria.concern, concern_keywords(criteria.concern)
    )
    if hits:
        score += 15 * len(hits)
        say(N_("knows %(keywords)s"), keywords=", ".join(hits))
    if criteria.brand and criteria.brand.lower() in {b.lower() for b in mechanic.brands or []}:
        score += 30
        say(N_("%(brand)s specialist"), brand=criteria.brand)
    years = mechanic.years_experience or 0
    if years >= 10:
        score += 20
        say(N_("%(years)s years of experience"), years=years)
    elif years >= 5:
        score += 10
        say(N_("%(years)s years of experience"), years=years)
    if criteria.fsa and mechanic.fsa and criteria.fsa.upper() == mechanic.fsa:
        score += 10
        say(N_("in your area"))
    elif criteria.city and mechanic.city and criteria.city.lower() == mechanic.city.lower():
        score += 5
        say(N_("in %(city)s"), city=mechanic.city)
    rating = mechanic.rating
    if rating is not None:
        r = Decimal(rating)
        bonus = (
            20
            if r >= Decimal("5.0")
            else 15
            if r >= Decimal("4.5")
            else 10
            if r >= Decimal("4.0")
            else 5
            if r >= Decimal("3.5")
            else 0
        )
        if bonus:
            score += bonus
            say(N_("rated %(rating)s"), rating=r)
    return Match(mechanic_id=mechanic.pk, score=score, reasons=reasons)


def mechanics_ranked(
    criteria: MatchCriteria, *, limit: int = 10, now: datetime | None = None
) -> list[Match]:
    """Top mechanics for a request, best first. Scheduled requests keep only the
    mechanics free at that time (one set-based availability query); start-now requests
    skip mechanics whose booked time covers the next `duration_minutes` (they could not
    accept it anyway, plan §6.4). Hours are not required for start-now."""
    from autodoctor.availability import service as availability

    now = now or timezone.now()
    # Only the fields match_score reads: the immediate flow scores every active mechanic.
    candidates = (
        MechanicProfile.objects.approved()
        .select_related("user")
        .only(
            "pk",
            "user__time_zone",
            "is_online",
            "last_seen_at",
            "specialty_keywords",
            "brands",
            "years_experience",
            "fsa",
            "city",
            "rating",
        )
    )
    if criteria.scheduled_for is not None:
        end = criteria.scheduled_for + timedelta(minutes=criteria.duration_minutes)
        free = availability.mechanics_free_between(criteria.scheduled_for, end, now=now)
        candidates = candidates.filter(pk__in=free)
        matches = [match_score(m, criteria, now=now) for m in candidates]
        matches.sort(key=lambda m: (-m.score, m.mechanic_id))
        return matches[:limit]
    candidates = candidates.exclude(pk__in=_booked_soon(criteria, now=now))
    return _best_by_bound(candidates, criteria, limit=limit, now=now)


class _ListLength(Func):
    """Items of a JSON list column; a huge number for anything else (a value that is not
    a list could hit any number of times when match_score iterates it), 0 for NULL."""

    output_field = IntegerField()
    arity = 1

    def as_sqlite(self, compiler, connection, **extra):
        template = (
            "CASE WHEN %(expressions)s IS NULL THEN 0 WHEN json_type(%(expressions)s) = 'array'"
            " THEN json_array_length(%(expressions)s) ELSE 1000000 END"
        )
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_postgresql(self, compiler, connection, **extra):
        template = (
            "CASE WHEN %(expressions)s IS NULL THEN 0 WHEN jsonb_typeof(%(expressions)s) = 'array'"
            " THEN jsonb_array_length(%(expressions)s) ELSE 1000000 END"
        )
        return self.as_sql(compiler, connection, template=template, **extra)


class _RuledOut(Func):
    """True where a profile's ``<terms>`` text (``accounts.models.MatchTermsField``) is
    current -- its copy ``<terms>_of`` still equals the list it was made from -- and holds
    none of ``needles``: such a row cannot hit. False or NULL otherwise (a stale copy, a
    list that is not one of strings): the row may hit. Terms and needles are both
    ``lower()``-ed by Python, so ``LIKE`` needs no case folding (SQLite's folds ASCII
    anyway, which only lets more rows through)."""

    output_field = BooleanField()
    arity = 3

    def __init__(self, terms: str, source: str, needles: list[str]):
        super().__init__(F(terms), F(f"{terms}_of"), F(source))
        self.needles = needles

    def as_sql(self, compiler, connection, **extra):
        (terms, terms_params), (copy, copy_params), (source, source_params) = (
            compiler.compile(expression) for expression in self.source_expressions
        )
        likes = [f"%{connection.ops.prep_for_like_query(n)}%" for n in self.needles]
        sql = f"({copy} = {source} AND {terms} IS NOT NULL"
        params = [*copy_params, *source_params, *terms_params]
        if likes:
            sql += " AND NOT (" + " OR ".join([f"{terms} LIKE %s ESCAPE '\\'"] * len(likes)) + ")"
            params += [value for like in likes for value in (*terms_params, like)]
        return sql + ")", params


def _keyword_needles(concern: str) -> list[str]:
    """What a profile's keyword terms must contain to hit ``concern`` (a superset test,
    see `_keyword_hits`): a concern word as a whole term (``|brakes|``), or, for a phrase
    (it has an inner space) found in the concern's text, one of the three-character
    windows around that text's spaces -- the phrase contains the window around its own
    inner space."""
    text = concern.lower()
    windows = {
        text[i - 1 : i + 2] for i, char in enumerate(text) if char == " " and 0 < i < len(text) - 1
    }
    return sorted({f"|{word}|" for word in concern_keywords(concern)} | windows)


def score_bound(criteria: MatchCriteria, *, now: datetime) -> Func | Case:
    """SQL: an upper bound on `match_score(m, criteria).score` for each mechanic row --
    exact for presence (except "today", bounded by the last 26 hours), experience and
    rating; every specialty keyword counted as a hit where one may hit, the brand where
    it may match, the area as matching when the request names it. The start-now
    pre-filter orders by it (see `_best_by_bound`)."""
    zero = Value(0)
    presence = Case(
        When(Q(is_online=False) | Q(last_seen_at__isnull=True), then=zero),
        When(last_seen_at__gte=now - ONLINE_WINDOW, then=Value(50)),
        When(last_seen_at__gte=now - timedelta(minutes=30), then=Value(30)),
        When(last_seen_at__gte=now - timedelta(hours=1), then=Value(20)),
        When(last_seen_at__gte=now - timedelta(hours=26), then=Value(10)),
        default=zero,
    )
    years = Case(
        When(years_experience__gte=10, then=Value(20)),
        When(years_experience__gte=5, then=Value(10)),
        default=zero,
    )
    rating = Case(
        *(
            When(rating__gte=Decimal(floor), then=Value(points))
            for floor, points in (("5.0", 20), ("4.5", 15), ("4.0", 10), ("3.5", 5))
        ),
        default=zero,
    )
    local = (
        Case(
            When(fsa=criteria.fsa.upper(), then=Value(10)), default=Value(5 if criteria.city else 0)
        )
        if criteria.fsa
        else Value(5 if criteria.city else 0)
    )
    keywords = zero
    if criteria.concern:
        ruled_out = _RuledOut(
            "keyword_terms", "specialty_keywords", _keyword_needles(criteria.concern)
        )
        every_keyword = _ListLength(F("specialty_keywords")) * Value(15)
        keywords = Case(When(ruled_out, then=zero), default=every_keyword)
    brand = zero
    if criteria.brand:
        ruled_out = _RuledOut("brand_terms", "brands", [f"|{criteria.brand.lower()}|"])
        brand = Case(When(ruled_out, then=zero), default=Value(30))
    return ExpressionWrapper(
        presence + years + rating + local + keywords + brand, output_field=IntegerField()
    )


def _best_by_bound(
    candidates: QuerySet, criteria: MatchCriteria, *, limit: int, now: datetime
) -> list[Match]:
    """The top `limit` of `candidates` by (score desc, id): a SQL pre-filter instead of
    scoring every mechanic in Python. Rows come best bound first, a page at a time; once
    the `limit`-th best exact score beats the next row's bound (or equals it, the row's id
    being higher), nobody unseen can enter (their scores are at most their bounds), so
    the answer is the full scan's."""
    ordered = (
        candidates.annotate(bound=score_bound(criteria, now=now))
        .order_by("-bound", "pk")
        .values_list(*_ScoreRow._fields[:-1], "user__time_zone", "bound")
    )
    best: list[tuple[Match, _ScoreRow]] = []  # the best so far, kept sorted, ≤ `limit`
    rank = lambda pair: (-pair[0].score, pair[0].mechanic_id)  # noqa: E731
    # One query read a chunk at a time (not a new sorted query per page, nor a first
    # LIMIT page: with nobody online the scan can run past any page, and a second query
    # costs as much as the first). Rows are scored without their reasons; only the
    # winners' are put into words. On PostgreSQL inside a transaction, so the server-side
    # cursor is declared without WITH HOLD (which copies every sorted row first).
    in_transaction = connection.vendor != "postgresql" or connection.in_atomic_block
    with nullcontext() if in_transaction else transaction.atomic():
        for *fields, time_zone, bound in ordered.iterator(chunk_size=64):
            if len(best) == limit:
                last = best[-1][0]
                # Unseen rows score at most their bound, and ties go to the lower id: past
                # the last place's score, or level with it at a higher id, nobody can enter.
                if bound < last.score or (bound == last.score and fields[0] > last.mechanic_id):
                    break
            row = _ScoreRow(*fields, _Owner(ZoneInfo(time_zone)))
            scored = match_score(row, criteria, now=now, explain=False)  # type: ignore[arg-type]
            bisect.insort(best, (scored, row), key=rank)
            del best[limit:]
    return [match_score(row, criteria, now=now) for _match, row in best]  # type: ignore[arg-type]


class _Owner(NamedTuple):
    zone: ZoneInfo


class _ScoreRow(NamedTuple):
    """The fields match_score reads, as a plain row: building thousands of model
    instances cost more than scoring them."""

    pk: int
    is_online: bool
    last_seen_at: datetime | None
    specialty_keywords: list
    brands: list
    years_experience: int
    fsa: str
    city: str
    rating: Decimal | None
    user: _Owner


def _booked_soon(criteria: MatchCriteria, *, now: datetime) -> set[int]:
    """Mechanics who could not accept a start-now request now: accepting pins
    [now, now + duration + their buffer), and one of their bookings overlaps it.
    One query: each booking beside its mechanic's buffer, the buffer compared in SQL
    (PostgreSQL exactly; SQLite on julianday, a float, with a minute to spare) so only
    bookings at the edge come back, and the exact test here. Before, every booking in
    the next duration + 4 h came back and then every one of their mechanics' settings:
    with a fifth of 5,000 mechanics booked a few hours ahead, that was a 1,000-row read
    and a 1,000-id query on every start-now request."""
    from autodoctor.availability.models import MechanicSettings

    from .models import Reservation
    from .selectors import active_sql, default_buffer_minutes, plain_rows

    length = timedelta(minutes=criteria.duration_minutes)
    default = default_buffer_minutes()
    if connection.vendor == "postgresql":
        within = "r.starts_at < %s + make_interval(mins => COALESCE(s.buffer_minutes, %s))"
    else:
        within = (
            "julianday(r.starts_at) < julianday(%s) + (COALESCE(s.buffer_minutes, %s) + 1) / 1440.0"
        )
    active, active_params = active_sql(now=now, alias="r")
    rows = plain_rows(
        f"SELECT r.mechanic_id, r.starts_at, COALESCE(s.buffer_minutes, %s)"
        f" FROM {Reservation._meta.db_table} r"
        f" LEFT JOIN {MechanicSettings._meta.db_table} s ON s.mechanic_id = r.mechanic_id"
        f" WHERE {active} AND r.blocked_until > %s AND r.starts_at < %s AND {within}",
        [default, *active_params, now, now + length + MAX_BUFFER, now + length, default],
    )
    return {
        mechanic_id
        for mechanic_id, starts_at, buffer in rows
        if db_instant(starts_at) < now + length + timedelta(minutes=buffer)
    }
