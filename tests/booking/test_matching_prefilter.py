"""Start-now matching's SQL pre-filter (issue 15): `mechanics_ranked` stops reading
mechanics once nobody unread can beat its top `limit`; its answer must be exactly what
scoring every candidate gives, on a population built to make bounds tie and cross."""

import random
from datetime import timedelta
from decimal import Decimal

import pytest

from autodoctor.accounts.models import ApprovalStatus, MechanicProfile
from autodoctor.booking.matching import MatchCriteria, match_score, mechanics_ranked
from tests.booking.conftest import NOW
from tests.factories import MechanicFactory

pytestmark = pytest.mark.django_db

# Tricky on purpose: phrases that straddle words ("ng noi"), case, a Kelvin sign (its
# lower() is "k"), accents, quotes and backslashes (escaped in the JSON text).
KEYWORDS = [
    "brakes",
    "noise",
    "Engine",
    "gearbox",
    "battery",
    "brake pads",
    "oil leak",
    "ng noi",
    "\u212ania",
    "citroën",
    'say "hi"',
    "back\\slash",
    "  noise  ",
]
BRANDS = ["Honda", "Toyota", "Ford", "BMW", "\u212aia", "Citroën"]


def _population(rng: random.Random, n: int) -> None:
    seen = [None, NOW, NOW - timedelta(minutes=20), NOW - timedelta(minutes=50),
            NOW - timedelta(hours=5), NOW - timedelta(days=3)]  # fmt: skip
    for i in range(n):
        MechanicFactory(
            city=rng.choice(["Toronto", "Ottawa", "toronto"]),
            fsa=rng.choice(["M4C", "K1A", ""]),
            brands=rng.sample(BRANDS, rng.randint(0, 2)),
            specialty_keywords=rng.sample(KEYWORDS, rng.randint(0, 4)),
            years_experience=rng.choice([0, 1, 5, 12]),
            rating=rng.choice(
                [None, Decimal("3.2"), Decimal("3.9"), Decimal("4.6"), Decimal("5.0")]
            ),
            is_online=rng.random() < 0.5,
            last_seen_at=rng.choice(seen),
            approval_status=ApprovalStatus.PENDING if i % 17 == 0 else ApprovalStatus.APPROVED,
        )


def _brute_force(criteria: MatchCriteria, limit: int) -> list[tuple[int, int]]:
    everyone = MechanicProfile.objects.approved().select_related("user")
    scored = [match_score(m, criteria, now=NOW) for m in everyone]
    scored.sort(key=lambda m: (-m.score, m.mechanic_id))
    return [(m.mechanic_id, m.score) for m in scored[:limit]]


@pytest.mark.parametrize(
    "criteria",
    [
        MatchCriteria(concern="Grinding noise from the brakes when braking"),
        MatchCriteria(
            concern="Oil leak under the engine", brand="Honda", city="Toronto", fsa="m4c"
        ),
        MatchCriteria(concern="", brand="BMW"),
        MatchCriteria(concern="nothing relevant here", city="Ottawa"),
        MatchCriteria(concern="Grinding noise, kania", brand="kia"),
        MatchCriteria(concern='My citroën says "hi" and has a back\\slash', brand="citroën"),
        MatchCriteria(concern="the", brand="Honda"),
    ],
    ids=[
        "keywords",
        "everything",
        "brand_only",
        "no_hits",
        "kelvin",
        "not_plain_ascii",
        "stopword_only",
    ],
)
def test_start_now_ranking_equals_scoring_every_mechanic(criteria):
    _population(random.Random(15), 320)
    for limit in (1, 3, 10, 70, 400):
        ranked = mechanics_ranked(criteria, limit=limit, now=NOW)
        assert [(m.mechanic_id, m.score) for m in ranked] == _brute_force(criteria, limit)


def test_the_pre_filter_reads_fewer_mechanics_than_it_has(django_assert_max_num_queries):
    # A few clear winners: the first page decides, whatever the population.
    _population(random.Random(7), 200)
    for mechanic in MechanicProfile.objects.approved()[:12]:
        mechanic.is_online, mechanic.last_seen_at = True, NOW
        mechanic.years_experience, mechanic.rating = 20, Decimal("5.0")
        mechanic.save()
    criteria = MatchCriteria(concern="brakes")
    with django_assert_max_num_queries(2):
        ranked = mechanics_ranked(criteria, limit=3, now=NOW)
    assert [(m.mechanic_id, m.score) for m in ranked] == _brute_force(criteria, 3)


def test_level_bounds_stop_the_scan_at_the_limit(monkeypatch):
    # Forty mechanics alike: every bound equals every score. Ties go to the lower id, so
    # once the top 3 are read nobody later can enter: 3 rows scored, not 40.
    for _ in range(40):
        MechanicFactory(specialty_keywords=["brakes"], brands=[], years_experience=12,
                        rating=Decimal("4.6"), is_online=False, last_seen_at=None)  # fmt: skip
    criteria = MatchCriteria(concern="brakes")
    scored = []
    real = match_score

    def counting(*args, **kwargs):
        scored.append(args[0].pk)
        return real(*args, **kwargs)

    monkeypatch.setattr("autodoctor.booking.matching.match_score", counting)
    ranked = mechanics_ranked(criteria, limit=3, now=NOW)
    monkeypatch.undo()
    assert [(m.mechanic_id, m.score) for m in ranked] == _brute_force(criteria, 3)
    assert len(scored) == 3 + 3  # three read and scored, then the winners explained


def test_profiles_keep_their_lists_as_matching_compares_them():
    # save() and bulk_create both fill the terms and the copy they were made from.
    saved = MechanicFactory(specialty_keywords=["  Brake Pads ", "NOISE"], brands=["Honda"])
    saved.refresh_from_db()
    assert saved.keyword_terms == "|brake pads|noise|"
    assert saved.keyword_terms_of == ["  Brake Pads ", "NOISE"]
    assert saved.brand_terms == "|honda|"
    other = MechanicFactory()  # a user has one profile: bulk-create theirs afresh
    MechanicProfile.objects.filter(pk=other.pk).delete()
    MechanicProfile.objects.bulk_create(
        [MechanicProfile(user=other.user, specialty_keywords=["\u212aia"], brands=[7])]
    )
    row = MechanicProfile.objects.get(user=other.user)
    assert row.keyword_terms == "|kia|"  # Python's lower(): the Kelvin sign's is "k"
    assert row.brand_terms is None  # not a list of strings: matching assumes it may hit
    assert row.brand_terms_of == [7]


def test_rows_written_around_save_still_rank_as_scoring_every_mechanic():
    # QuerySet.update() writes the lists without their terms: those rows' copies no
    # longer match, so the pre-filter must treat them as "may hit", never rule them out.
    _population(random.Random(3), 120)
    some = list(MechanicProfile.objects.order_by("pk").values_list("pk", flat=True)[::7])
    MechanicProfile.objects.filter(pk__in=some).update(
        specialty_keywords=["grinding", "brake pads"], brands=["HONDA"]
    )
    for criteria in (
        MatchCriteria(concern="Grinding noise from the brake pads", brand="honda"),
        MatchCriteria(concern="oil leak", brand="Toyota"),
    ):
        for limit in (1, 10, 60):
            ranked = mechanics_ranked(criteria, limit=limit, now=NOW)
            assert [(m.mechanic_id, m.score) for m in ranked] == _brute_force(criteria, limit)
    stale = MechanicProfile.objects.get(pk=some[0])
    assert stale.keyword_terms_of != stale.specialty_keywords  # the case under test
