"""Mechanic presence (issue 18): last seen from their requests, throttled to one write a
minute; their own available / away switch; matching ranks by it (plan §3.2)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from autodoctor.accounts.models import MechanicProfile
from autodoctor.accounts.presence import mechanic_seen
from autodoctor.booking.matching import MatchCriteria, mechanics_ranked
from tests.factories import CustomerFactory, MechanicFactory

pytestmark = pytest.mark.django_db

# Monday 2026-11-30 17:00 UTC = 12:00 in Toronto (the factories' zone).
NOW = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)


def presence_writes(queries) -> int:
    return sum(
        1
        for q in queries
        if q["sql"].startswith("UPDATE") and "accounts_mechanicprofile" in q["sql"]
    )


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


def test_two_requests_within_a_minute_write_presence_once(frozen, login):
    mechanic = MechanicFactory()
    client = login(mechanic.user)
    with CaptureQueriesContext(connection) as first:
        client.get("/")
    frozen.move_to(NOW + timedelta(seconds=50), tick=False)
    with CaptureQueriesContext(connection) as second:
        client.get("/")
    mechanic.refresh_from_db()
    assert mechanic.last_seen_at == NOW  # the second request did not move it
    # one UPDATE each (the throttle is in its WHERE), only the first one matched
    assert presence_writes(first.captured_queries) == 1
    assert presence_writes(second.captured_queries) == 1
    frozen.move_to(NOW + timedelta(seconds=61), tick=False)
    client.get("/")
    mechanic.refresh_from_db()
    assert mechanic.last_seen_at == NOW + timedelta(seconds=61)


def test_the_seen_write_is_conditional_so_racing_requests_write_once(frozen):
    mechanic = MechanicFactory()
    assert mechanic_seen(user_id=mechanic.user_id, now=NOW) is True
    assert mechanic_seen(user_id=mechanic.user_id, now=NOW + timedelta(seconds=59)) is False
    assert mechanic_seen(user_id=mechanic.user_id, now=NOW + timedelta(seconds=61)) is True


def test_a_customer_request_records_no_presence(frozen, login):
    customer = CustomerFactory().user
    with CaptureQueriesContext(connection) as queries:
        login(customer).get("/")
    assert presence_writes(queries.captured_queries) == 0


def test_mechanic_pages_ping_a_heartbeat_that_answers_204(frozen, login):
    mechanic = MechanicFactory()
    client = login(mechanic.user)
    page = client.get("/booking/offers/").content.decode()
    assert 'hx-trigger="every 45s"' in page
    frozen.move_to(NOW + timedelta(minutes=3), tick=False)
    response = client.get("/accounts/mechanic/presence/heartbeat/")
    assert response.status_code == 204 and response.content == b""
    mechanic.refresh_from_db()
    assert mechanic.last_seen_at == NOW + timedelta(minutes=3)


def test_customers_get_no_heartbeat(login):
    customer = CustomerFactory().user
    client = login(customer)
    assert "presence/heartbeat" not in client.get("/").content.decode()
    assert client.get("/accounts/mechanic/presence/heartbeat/").status_code == 403


def test_the_mechanic_switches_between_available_and_away_and_sees_it(frozen, login):
    mechanic = MechanicFactory()
    client = login(mechanic.user)
    home = client.get("/").content.decode()
    assert "Away" in home and "I am available for start-now" in home
    response = client.post("/accounts/mechanic/presence/", {"available": "1"}, follow=True)
    mechanic.refresh_from_db()
    assert mechanic.is_online is True
    page = response.content.decode()
    assert "You are available for start-now requests." in page
    assert "Available for start-now" in page and "You are online now" in page
    client.post("/accounts/mechanic/presence/", {"available": "0"})
    mechanic.refresh_from_db()
    assert mechanic.is_online is False
    assert "I am available for start-now" in client.get("/").content.decode()


def test_matching_ranks_by_presence(frozen):
    def seen(ago: timedelta | None, available: bool = True) -> MechanicProfile:
        return MechanicFactory(is_online=available, last_seen_at=None if ago is None else NOW - ago)

    yesterday = seen(timedelta(hours=20))  # Sunday in Toronto: not "today"
    today = seen(timedelta(hours=5))  # 07:00 Toronto
    last_hour = seen(timedelta(minutes=45))
    last_30 = seen(timedelta(minutes=10))
    online = seen(timedelta(seconds=30))
    away = seen(timedelta(seconds=30), available=False)
    never = seen(None)
    ranked = mechanics_ranked(MatchCriteria(concern="odd noise"), now=NOW)
    order = [m.mechanic_id for m in ranked]
    scores = {m.mechanic_id: m.score for m in ranked}
    base = scores[never.pk]  # the same experience and keywords for all
    assert order[:4] == [online.pk, last_30.pk, last_hour.pk, today.pk]
    assert [scores[m.pk] - base for m in (online, last_30, last_hour, today)] == [50, 30, 20, 10]
    assert scores[yesterday.pk] == scores[away.pk] == base
    reasons = {m.mechanic_id: m.reasons for m in ranked}
    assert "online now" in reasons[online.pk]
    assert "online today" in reasons[today.pk]
    assert not any("online" in r for r in reasons[away.pk])


def test_match_reasons_are_in_the_readers_language_presence_included():
    from django.utils import translation

    mechanic = MechanicFactory(
        is_online=True,
        last_seen_at=NOW,
        brands=["Honda"],
        years_experience=12,
        specialty_keywords=[],
    )
    criteria = MatchCriteria(concern="brakes squeal", brand="Honda")
    with translation.override("fr-ca"):
        (match,) = [m for m in mechanics_ranked(criteria, now=NOW) if m.mechanic_id == mechanic.pk]
    assert match.reasons[:3] == ["en ligne maintenant", "spécialiste Honda", "12 ans d'expérience"]
    with translation.override("en"):
        (match,) = [m for m in mechanics_ranked(criteria, now=NOW) if m.mechanic_id == mechanic.pk]
    assert match.reasons[:3] == ["online now", "Honda specialist", "12 years of experience"]
    assert match.score == 50 + 30 + 20
