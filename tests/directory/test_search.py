"""The mechanic search (directory.selectors): each filter, their combination, only
approved mechanics, the next free time, and a fixed number of queries."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from autodoctor.accounts.models import ApprovalStatus, MechanicSearchTerm
from autodoctor.accounts.search_terms import mechanic_search_terms_sync
from autodoctor.availability import service
from autodoctor.availability.models import TimeOff, TimeOffStatus
from autodoctor.directory.selectors import (
    MechanicQuery,
    matching_mechanics,
    mechanic_search,
    public_profile,
)
from autodoctor.errors import InvalidInput, NotFound
from tests.factories import MechanicFactory

from .conftest import NOW

pytestmark = pytest.mark.django_db


def found(**query) -> list[int]:
    return list(matching_mechanics(MechanicQuery(**query), now=NOW).values_list("pk", flat=True))


def test_brand_matches_whatever_the_case_and_nothing_else():
    honda = MechanicFactory(brands=["Honda", "Toyota"])
    MechanicFactory(brands=["BMW"])
    assert found(brand="honda") == [honda.pk]
    assert found(brand="  HONDA ") == [honda.pk]
    assert found(brand="Hond") == []


def test_a_specialty_is_found_by_its_singular_and_by_each_word():
    brakes = MechanicFactory(specialty_keywords=["Brakes"])
    light = MechanicFactory(specialty_keywords=["check engine light"])
    assert found(keyword="brake") == [brakes.pk]
    assert found(keyword="BRAKES") == [brakes.pk]
    assert found(keyword="engine") == [light.pk]
    assert found(keyword="check engine light") == [light.pk]
    assert found(keyword="transmission") == []


def test_place_is_a_city_or_a_forward_sortation_area():
    toronto = MechanicFactory(city="Toronto", postal_code="M4C 1B5")
    ottawa = MechanicFactory(city="Ottawa", postal_code="K1P 1J1")
    assert found(place="toronto") == [toronto.pk]
    assert found(place="k1p") == [ottawa.pk]
    assert found(place="K1P 1J1") == [ottawa.pk]
    assert found(place="Montreal") == []


def test_language_filter():
    french = MechanicFactory(languages=["English", "French"])
    MechanicFactory(languages=["English"])
    assert found(language="french") == [french.pk]
    assert len(found(language="English")) == 2


def test_minimum_rating_leaves_out_lower_and_unrated_and_best_come_first():
    low = MechanicFactory(rating=Decimal("3.9"))
    high = MechanicFactory(rating=Decimal("4.8"))
    mid = MechanicFactory(rating=Decimal("4.2"))
    unrated = MechanicFactory(rating=None)
    assert found(min_rating=Decimal("4.0")) == [high.pk, mid.pk]
    assert found() == [high.pk, mid.pk, low.pk, unrated.pk]


def test_filters_combine():
    both = MechanicFactory(brands=["Honda"], languages=["French"], city="Laval")
    MechanicFactory(brands=["Honda"], languages=["English"], city="Laval")
    MechanicFactory(brands=["Ford"], languages=["French"], city="Laval")
    assert found(brand="Honda", language="French", place="laval") == [both.pk]


def test_only_approved_active_mechanics_are_found():
    approved = MechanicFactory()
    MechanicFactory(approval_status=ApprovalStatus.PENDING)
    MechanicFactory(approval_status=ApprovalStatus.REJECTED)
    MechanicFactory(user__is_active=False)
    assert found(brand="Honda") == [approved.pk]


def test_free_at_keeps_only_mechanics_the_availability_service_says_are_free(
    mechanic_with_hours,
):
    free = mechanic_with_hours()
    away = mechanic_with_hours()
    MechanicFactory()  # no hours at all
    at = NOW + timedelta(hours=3)  # 12:00 in Toronto, past the 2-hour notice
    TimeOff.objects.create(
        mechanic=away,
        starts_at=at - timedelta(hours=1),
        ends_at=at + timedelta(hours=2),
        status=TimeOffStatus.APPROVED,
    )
    assert found(free_at=at) == [free.pk]
    assert found(free_at=at, minutes=60) == [free.pk]
    assert found(free_at=NOW + timedelta(minutes=30)) == []  # inside everyone's notice


def test_each_card_shows_the_services_next_free_time(mechanic_with_hours):
    free = mechanic_with_hours()
    MechanicFactory()
    page = mechanic_search(MechanicQuery(), now=NOW)
    by_id = {card.id: card for card in page.cards}
    first = service.available_slots(
        free, NOW, NOW + timedelta(days=7), timedelta(minutes=30), now=NOW
    )[0]
    assert by_id[free.pk].next_free == first.start
    assert len(by_id) == 2 and [c.next_free for c in page.cards].count(None) == 1


def test_the_number_of_queries_does_not_grow_with_the_mechanics(mechanic_with_hours):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            mechanic_search(MechanicQuery(brand="Honda", free_at=NOW + timedelta(hours=3)), now=NOW)
        return len(captured)

    for _ in range(2):
        mechanic_with_hours()
    few = queries()
    for _ in range(12):
        mechanic_with_hours()
    assert queries() == few


def test_pages_hold_twenty_and_a_page_past_the_end_shows_the_last():
    for _ in range(23):
        MechanicFactory()
    first = mechanic_search(MechanicQuery(), now=NOW)
    assert (len(first.cards), first.total, first.pages) == (20, 23, 2)
    beyond = mechanic_search(MechanicQuery(page=9), now=NOW)
    assert (beyond.page, len(beyond.cards)) == (2, 3)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        (MechanicQuery(min_rating=Decimal("6")), "min_rating"),
        (MechanicQuery(minutes=45), "minutes"),
        (MechanicQuery(page=0), "page"),
    ],
)
def test_bad_queries_name_the_field(query, field):
    with pytest.raises(InvalidInput) as error:
        mechanic_search(query, now=NOW)
    assert error.value.data["field"] == field


def test_search_rows_follow_the_profile_lists():
    profile = MechanicFactory(brands=["Honda"])
    profile.brands = ["Mazda"]
    profile.save()
    mechanic_search_terms_sync(profiles=[profile])
    assert found(brand="mazda") == [profile.pk]
    assert found(brand="honda") == []
    terms = MechanicSearchTerm.objects.filter(mechanic=profile).values_list("kind", "term")
    assert set(terms) == {("brand", "mazda"), ("specialty", "brake")}


def test_public_profile_of_an_unapproved_mechanic_is_not_found():
    pending = MechanicFactory(approval_status=ApprovalStatus.PENDING)
    with pytest.raises(NotFound):
        public_profile(pending.pk, now=NOW)


def test_public_profile_lists_recent_comments_and_free_times(
    mechanic_with_hours, completed_session
):
    from autodoctor.analytics.services import rating_save

    mechanic = mechanic_with_hours(languages=["Punjabi"])
    for score, comment in [(5, "Found the leak fast"), (4, ""), (3, "A bit late")]:
        session = completed_session(mechanic)
        rating_save(
            session_id=session.pk, user=session.customer, score=score, comment=comment, now=NOW
        )
    profile = public_profile(mechanic.pk, now=NOW)
    assert [c.comment for c in profile.comments] == ["A bit late", "Found the leak fast"]
    assert profile.card.rating_count == 3
    assert profile.card.languages == ["Punjabi"]
    assert len(profile.next_free_times) == 5
    assert profile.next_free_times == sorted(profile.next_free_times)
