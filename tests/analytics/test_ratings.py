"""Post-session ratings: who may rate, the edit window, and the mechanic's average
(what matching reads) kept in the same transaction."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from autodoctor.analytics.models import SessionRating
from autodoctor.analytics.services import rating_save
from autodoctor.booking.models import SessionStatus
from autodoctor.errors import Conflict, InvalidInput, NotFound
from tests.factories import CustomerFactory, MechanicFactory

from .conftest import NOW

pytestmark = pytest.mark.django_db


def test_a_rating_sets_the_mechanics_average_that_matching_reads(completed_session):
    mechanic = MechanicFactory(rating=None)
    first = completed_session(mechanic=mechanic)
    second = completed_session(mechanic=mechanic)
    rating_save(session_id=first.pk, user=first.customer, score=5, now=NOW)
    mechanic.refresh_from_db()
    assert mechanic.rating == Decimal("5.0")
    rating_save(session_id=second.pk, user=second.customer, score=2, comment="Late", now=NOW)
    mechanic.refresh_from_db()
    assert mechanic.rating == Decimal("3.5")  # (5 + 2) / 2


def test_the_average_rounds_to_one_decimal(completed_session):
    mechanic = MechanicFactory(rating=None)
    for score in (5, 4, 4):  # 13 / 3 = 4.333…
        session = completed_session(mechanic=mechanic)
        rating_save(session_id=session.pk, user=session.customer, score=score, now=NOW)
    mechanic.refresh_from_db()
    assert mechanic.rating == Decimal("4.3")


def test_editing_within_seven_days_replaces_the_score_and_the_average(completed_session):
    session = completed_session()
    rating_save(session_id=session.pk, user=session.customer, score=1, now=NOW)
    rating_save(
        session_id=session.pk,
        user=session.customer,
        score=4,
        comment="Fixed it",
        now=NOW + timedelta(days=6),
    )
    rating = SessionRating.objects.get(session=session)
    assert (rating.score, rating.comment) == (4, "Fixed it")
    assert rating.created_at == NOW
    session.mechanic.refresh_from_db()
    assert session.mechanic.rating == Decimal("4.0")
    assert SessionRating.objects.count() == 1


def test_a_rating_is_final_after_seven_days(completed_session):
    session = completed_session()
    rating_save(session_id=session.pk, user=session.customer, score=3, now=NOW)
    with pytest.raises(Conflict) as refused:
        rating_save(
            session_id=session.pk,
            user=session.customer,
            score=5,
            now=NOW + timedelta(days=7, seconds=1),
        )
    assert refused.value.code == "rating_locked"
    assert SessionRating.objects.get(session=session).score == 3


def test_only_the_sessions_customer_may_rate_it(completed_session):
    session = completed_session()
    for stranger in (CustomerFactory().user, session.mechanic.user):
        with pytest.raises(NotFound):
            rating_save(session_id=session.pk, user=stranger, score=1, now=NOW)
    assert not SessionRating.objects.exists()


def test_a_session_not_completed_cannot_be_rated(completed_session):
    session = completed_session()
    session.status = SessionStatus.CANCELLED
    session.save()
    with pytest.raises(Conflict):
        rating_save(session_id=session.pk, user=session.customer, score=5, now=NOW)


@pytest.mark.parametrize("score", [0, 6, -1])
def test_a_score_outside_one_to_five_is_refused(completed_session, score):
    session = completed_session()
    with pytest.raises(InvalidInput) as refused:
        rating_save(session_id=session.pk, user=session.customer, score=score, now=NOW)
    assert refused.value.data["field"] == "score"


def test_a_comment_over_1000_characters_is_refused(completed_session):
    session = completed_session()
    with pytest.raises(InvalidInput) as refused:
        rating_save(
            session_id=session.pk, user=session.customer, score=5, comment="x" * 1001, now=NOW
        )
    assert refused.value.data["field"] == "comment"


def test_the_database_refuses_a_score_out_of_range_and_a_second_rating(completed_session):
    session = completed_session()
    fields = dict(
        session=session,
        mechanic=session.mechanic,
        customer=session.customer,
        created_at=NOW,
        updated_at=NOW,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        SessionRating.objects.create(score=6, **fields)
    SessionRating.objects.create(score=5, **fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        SessionRating.objects.create(score=4, **fields)


# --- API and page -----------------------------------------------------------------------


def test_the_api_rates_a_session_and_declares_its_refusals(completed_session, login):
    session = completed_session()
    client = login(session.customer)
    response = client.put(
        f"/api/sessions/{session.pk}/rating",
        {"score": 4, "comment": "Clear advice"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["score"], body["comment"], body["session_id"]) == (4, "Clear advice", session.pk)
    bad = client.put(
        f"/api/sessions/{session.pk}/rating", {"score": 9}, content_type="application/json"
    )
    assert bad.status_code == 422 and bad.json()["code"] == "validation_error"
    stranger = login(CustomerFactory().user).put(
        f"/api/sessions/{session.pk}/rating", {"score": 1}, content_type="application/json"
    )
    assert stranger.status_code == 404 and stranger.json()["code"] == "not_found"


def test_the_customer_rates_from_the_session_page(completed_session, login):
    session = completed_session()
    client = login(session.customer)
    page = client.get(f"/booking/sessions/{session.pk}/").content.decode()
    assert "Rate this session" in page
    response = client.post(
        f"/analytics/sessions/{session.pk}/rating/", {"score": "5", "comment": "Great help"}
    )
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "5 / 5" in page and "Great help" in page and "Update my rating" in page


def test_the_mechanic_sees_the_rating_but_no_form(completed_session, login):
    session = completed_session()
    rating_save(session_id=session.pk, user=session.customer, score=2, comment="Slow", now=NOW)
    page = login(session.mechanic.user).get(f"/booking/sessions/{session.pk}/").content.decode()
    assert "2 / 5" in page and "Slow" in page
    assert "Rate this session" not in page and "Update my rating" not in page
