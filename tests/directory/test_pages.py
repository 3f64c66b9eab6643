"""The search page, the public profile and their API twins: what a person sees, who may
see it, and what is never shown."""

from datetime import timedelta

import pytest
import time_machine

from autodoctor.accounts.models import ApprovalStatus
from autodoctor.booking.wizard import SESSION_KEY
from tests.factories import CustomerFactory, MechanicFactory

from .conftest import NOW

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def shopper(login):
    customer = CustomerFactory()
    return customer.user, login(customer.user)


def test_search_page_shows_matching_mechanics_as_cards_with_their_next_free_time(
    shopper, mechanic_with_hours
):
    _user, client = shopper
    honda = mechanic_with_hours(brands=["Honda"], user__full_name="Hana Honda")
    MechanicFactory(brands=["Ford"], user__full_name="Fred Ford")
    page = client.get("/mechanics/", {"brand": "honda"})
    body = page.content.decode()
    assert page.status_code == 200
    assert "Hana Honda" in body and "Fred Ford" not in body
    assert "1 mechanic found" in body
    assert f"/mechanics/{honda.pk}/" in body
    assert "Next free: Tue 4 Mar 2031, 11:00 EST" in body  # 2-hour notice from 09:00
    assert honda.user.email not in body


def test_a_bad_filter_is_named_on_the_page_with_422_and_no_results(shopper):
    _user, client = shopper
    MechanicFactory(user__full_name="Hana Honda")
    page = client.get("/mechanics/", {"free_at": "next tuesday"})
    body = page.content.decode()
    assert page.status_code == 422
    assert "is not a date" in body and "Hana Honda" not in body


def test_anonymous_visitors_are_sent_to_log_in(client):
    mechanic = MechanicFactory()
    for url in ["/mechanics/", f"/mechanics/{mechanic.pk}/"]:
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response["Location"]


def test_profile_shows_the_public_facts_and_books_through_the_wizard(shopper, mechanic_with_hours):
    _user, client = shopper
    mechanic = mechanic_with_hours(
        user__full_name="Priya Singh",
        bio="Hybrids are my thing.",
        languages=["English", "Punjabi"],
        years_experience=12,
        specialty_keywords=["hybrid", "battery"],
    )
    body = client.get(f"/mechanics/{mechanic.pk}/").content.decode()
    for text in ["Priya Singh", "Hybrids are my thing.", "English, Punjabi", "12 years", "hybrid"]:
        assert text in body
    assert "Tue 4 Mar 2031, 11:00 EST" in body
    assert mechanic.user.email not in body
    book = f"/booking/?mechanic={mechanic.pk}"
    assert f'href="{book}"' in body
    client.get(book)
    assert client.session[SESSION_KEY]["preferred_mechanic"] == mechanic.pk


def test_mechanics_see_a_profile_without_the_book_button(login):
    viewer = MechanicFactory()
    other = MechanicFactory(user__full_name="Other Mechanic")
    body = login(viewer.user).get(f"/mechanics/{other.pk}/").content.decode()
    assert "Other Mechanic" in body and "Book this mechanic" not in body


def test_an_unapproved_mechanic_has_no_profile(shopper):
    _user, client = shopper
    pending = MechanicFactory(approval_status=ApprovalStatus.PENDING)
    assert client.get(f"/mechanics/{pending.pk}/").status_code == 404
    assert client.get(f"/api/mechanics/{pending.pk}/profile").status_code == 404


def test_api_search_filters_and_answers_in_utc(shopper, mechanic_with_hours):
    _user, client = shopper
    french = mechanic_with_hours(languages=["French"], city="Laval")
    MechanicFactory(languages=["English"], city="Laval")
    at = (NOW + timedelta(hours=3)).isoformat()
    data = client.get(
        "/api/mechanics/search", {"language": "french", "place": "LAVAL", "free_at": at}
    ).json()
    assert data["total"] == 1 and data["results"][0]["id"] == french.pk
    assert data["results"][0]["next_free"] == "2031-03-04T16:00:00Z"
    assert "email" not in data["results"][0]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"min_rating": "7"}, "min_rating"),
        ({"free_at": "soon"}, "free_at"),
        ({"minutes": "45"}, "minutes"),
    ],
)
def test_api_search_refuses_bad_filters_naming_them(shopper, params, field):
    _user, client = shopper
    response = client.get("/api/mechanics/search", params)
    assert response.status_code == 422
    assert set(response.json()) >= {"detail", "code"}
    assert field in str(response.json())


def test_api_profile_lists_free_times_and_the_callers_zone(shopper, mechanic_with_hours):
    user, client = shopper
    mechanic = mechanic_with_hours()
    data = client.get(f"/api/mechanics/{mechanic.pk}/profile").json()
    assert data["mechanic"]["id"] == mechanic.pk
    assert data["next_free_times"][0] == "2031-03-04T16:00:00Z"
    assert data["time_zone"] == user.time_zone
