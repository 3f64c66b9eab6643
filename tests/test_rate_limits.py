"""Rate limits (autodoctor/ratelimit.py): writes per user on the API and the pages,
slot searches as costly reads, 429 with Retry-After, counted in the database so
concurrent requests from any process share one count."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client

from autodoctor.accounts.services import api_token_create
from autodoctor.ratelimit import READ, WRITE, rate_counters_prune, rate_limit_hit
from autodoctor.web.models import RateCounter
from tests.factories import CustomerFactory
from tests.racing import race

# 20 s into a minute window: 40 s are left in it.
AT = datetime(2030, 6, 3, 14, 0, 20, tzinfo=UTC)


@pytest.fixture
def limits(settings):
    settings.RATE_LIMITS = {READ: (2, 60), WRITE: (3, 60)}


@pytest.fixture
def clock():
    with time_machine.travel(AT, tick=False) as traveller:
        yield traveller


def _api(user) -> Client:
    raw = api_token_create(user=user, name="limits").raw
    return Client(headers={"Authorization": f"Bearer {raw}"})


@pytest.mark.django_db
def test_api_writes_over_the_limit_get_429_with_retry_after(limits, clock):
    first, second = CustomerFactory().user, CustomerFactory().user
    client = _api(first)
    made = [
        client.post("/api/me/tokens", {"name": f"t{i}"}, content_type="application/json")
        for i in range(4)
    ]
    assert [r.status_code for r in made] == [201, 201, 201, 429]
    refused = made[-1]
    assert refused["Retry-After"] == "40"
    body = refused.json()
    assert body["code"] == "rate_limited"
    assert body["retry_after"] == 40
    assert "at most 3 every 60 seconds" in body["detail"]
    # Nothing was written by the refused request: three tokens besides the client's own.
    assert first.api_tokens.count() == 4
    # Reads are not writes, and another user has their own allowance.
    assert client.get("/api/me").status_code == 200
    other = _api(second).post("/api/me/tokens", {"name": "x"}, content_type="application/json")
    assert other.status_code == 201
    # The next window allows again.
    clock.shift(timedelta(seconds=41))
    again = client.post("/api/me/tokens", {"name": "later"}, content_type="application/json")
    assert again.status_code == 201


@pytest.mark.django_db
def test_slot_searches_are_limited_as_costly_reads(limits, clock):
    client = _api(CustomerFactory().user)
    answers = [client.get("/api/slots/earliest?plan=advice").status_code for _ in range(3)]
    assert answers == [200, 200, 429]
    # Other reads are not counted against the slot-search allowance.
    assert client.get("/api/me").status_code == 200


@pytest.mark.django_db
def test_page_writes_over_the_limit_are_refused_with_a_message(limits, clock, login):
    client = login(CustomerFactory().user)
    for i in range(3):
        assert client.post("/profile/tokens/", {"name": f"p{i}"}).status_code == 302
    refused = client.post("/profile/tokens/", {"name": "p4"}, headers={"referer": "/profile/"})
    assert refused.status_code == 302 and refused["Retry-After"] == "40"
    page = client.get("/profile/")
    assert "Too many changes: at most 3 every 60 seconds" in page.content.decode()
    htmx = client.post("/profile/tokens/", {"name": "p5"}, headers={"HX-Request": "true"})
    assert htmx.status_code == 429
    assert "Too many changes" in htmx.content.decode()


@pytest.mark.django_db
def test_anonymous_callers_are_counted_by_address(limits, clock):
    def signup(address: str):
        return Client(REMOTE_ADDR=address).post("/accounts/signup/", {"email": "bad"})

    refused = ["Retry-After" in signup("203.0.113.5") for _ in range(4)]
    assert refused == [False, False, False, True]
    assert "Retry-After" not in signup("203.0.113.6")


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_never_share_the_last_allowance(settings):
    settings.RATE_LIMITS = {READ: None, WRITE: (5, 3600)}
    allowed = []

    def work(_: int) -> None:
        if rate_limit_hit(WRITE, "user:racer") is not None:
            raise RuntimeError("refused")
        allowed.append(1)

    outcomes = race(12, work)
    assert outcomes == {"ok": 5, "RuntimeError": 7}, outcomes
    assert RateCounter.objects.get().hits == 12


@pytest.mark.django_db
def test_prune_deletes_only_windows_that_have_ended(settings):
    settings.RATE_LIMITS = {READ: (10, 60), WRITE: (10, 60)}
    rate_limit_hit(WRITE, "user:1", now=AT - timedelta(minutes=5))
    rate_limit_hit(WRITE, "user:1", now=AT)
    assert rate_counters_prune(now=AT) == 1
    assert RateCounter.objects.count() == 1
