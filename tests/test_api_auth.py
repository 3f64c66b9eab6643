"""/api/me and the error body contract."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client

from autodoctor.accounts.services import api_token_create, api_token_revoke
from tests.factories import CustomerFactory, MechanicFactory

pytestmark = pytest.mark.django_db


def test_me_anonymous_is_401_with_error_body():
    response = Client().get("/api/me")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
    assert "detail" in response.json()


def test_me_with_session(login):
    user = MechanicFactory().user
    body = login(user).get("/api/me").json()
    assert body["email"] == user.email
    assert body["role"] == "mechanic"
    assert body["home"] == "my schedule"


def test_me_with_api_token():
    user = CustomerFactory().user
    raw = api_token_create(user=user, name="ci").raw
    response = Client().get("/api/me", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 200
    assert response.json()["email"] == user.email


def test_token_is_stored_hashed_not_in_clear():
    user = CustomerFactory().user
    issued = api_token_create(user=user, name="ci")
    issued.token.refresh_from_db()
    assert issued.raw not in (issued.token.token_hash, issued.token.prefix)
    assert len(issued.token.token_hash) == 64


def test_me_with_bad_token_is_401():
    response = Client().get("/api/me", headers={"Authorization": "Bearer adt_not-a-real-token"})
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


def test_revoked_token_is_401():
    user = CustomerFactory().user
    issued = api_token_create(user=user, name="ci")
    api_token_revoke(user=user, token_id=issued.token.pk)
    response = Client().get("/api/me", headers={"Authorization": f"Bearer {issued.raw}"})
    assert response.status_code == 401


def test_a_deactivated_owners_token_is_401():
    user = CustomerFactory().user
    raw = api_token_create(user=user, name="ci").raw
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert Client().get("/api/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 401


def test_a_tokens_last_use_is_recorded_at_most_once_a_minute():
    user = CustomerFactory().user
    issued = api_token_create(user=user, name="ci")
    other = api_token_create(user=user, name="other")
    headers = {"Authorization": f"Bearer {issued.raw}"}
    start = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        Client().get("/api/me", headers=headers)
    issued.token.refresh_from_db()
    assert issued.token.last_used_at == start
    with time_machine.travel(start + timedelta(seconds=59), tick=False):
        Client().get("/api/me", headers=headers)
    issued.token.refresh_from_db()
    assert issued.token.last_used_at == start  # within the minute: no write
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        assert Client().get("/api/me", headers=headers).json()["email"] == user.email
    issued.token.refresh_from_db()
    other.token.refresh_from_db()
    assert issued.token.last_used_at == start + timedelta(seconds=61)
    assert other.token.last_used_at is None  # only the token that was used


def test_session_post_without_csrf_token_is_refused(login):
    client = login(CustomerFactory().user, enforce_csrf=True)
    response = client.post("/api/me/tokens", {"name": "x"}, content_type="application/json")
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"


def test_token_post_needs_no_csrf_and_validation_error_names_the_field():
    user = CustomerFactory().user
    raw = api_token_create(user=user, name="ci").raw
    client = Client(enforce_csrf_checks=True, headers={"Authorization": f"Bearer {raw}"})
    created = client.post("/api/me/tokens", {"name": "second"}, content_type="application/json")
    assert created.status_code == 201 and created.json()["token"].startswith("adt_")
    missing = client.post("/api/me/tokens", {}, content_type="application/json")
    assert missing.status_code == 422
    assert missing.json()["code"] == "validation_error"
    assert missing.json()["field"] == "name"
    blank = client.post("/api/me/tokens", {"name": "  "}, content_type="application/json")
    assert blank.status_code == 422
    assert blank.json() == {"detail": blank.json()["detail"], "code": "invalid", "field": "name"}


def test_deleting_someone_elses_token_is_404():
    owner = CustomerFactory().user
    theirs = api_token_create(user=owner, name="theirs").token
    raw = api_token_create(user=CustomerFactory().user, name="mine").raw
    response = Client().delete(
        f"/api/me/tokens/{theirs.pk}", headers={"Authorization": f"Bearer {raw}"}
    )
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_api_docs_and_schema_are_served():
    assert Client().get("/api/docs").status_code == 200
    schema = Client().get("/api/openapi.json").json()
    assert "/api/me" in schema["paths"]
