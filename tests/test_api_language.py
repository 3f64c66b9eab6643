"""API error messages are in the caller's language: a token's owner gets their account's
language whatever the client's Accept-Language says; an anonymous caller gets what its
Accept-Language asks for. The machine `code` never changes."""

import pytest
from django.test import Client
from django.utils import translation

from autodoctor.accounts.services import api_token_create
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _back_to_the_default_language():
    """A request activates its user's language for the thread; later tests expect none."""
    yield
    translation.deactivate()


def _token_of(language: str) -> str:
    user = CustomerFactory().user
    user.language = language
    user.save(update_fields=["language"])
    return api_token_create(user=user, name="ci").raw


def test_a_french_token_owner_reads_a_404_in_french():
    response = Client().get(
        "/api/payments/999999", headers={"Authorization": f"Bearer {_token_of('fr-ca')}"}
    )
    assert response.status_code == 404
    assert response.json() == {"detail": "Ce paiement n'existe pas.", "code": "not_found"}
    assert response["Content-Language"] == "fr-ca"


def test_an_english_token_owner_reads_english_even_if_the_client_asks_for_french():
    response = Client().get(
        "/api/payments/999999",
        headers={"Authorization": f"Bearer {_token_of('en-ca')}", "Accept-Language": "fr-CA"},
    )
    assert response.status_code == 404
    assert response.json() == {"detail": "No such payment.", "code": "not_found"}


def test_a_french_token_owner_gets_a_french_validation_message():
    response = Client().post(
        "/api/webhooks/endpoints",
        data={"url": "ftp://example.com/hook", "event_types": ["session.booked"]},
        content_type="application/json",
        headers={"Authorization": f"Bearer {_token_of('fr-ca')}"},
    )
    assert response.status_code == 422
    assert response.json()["detail"] == (
        "Nous ne pouvons pas envoyer à cette adresse : "
        "seules les adresses http:// et https:// sont permises."
    )
    assert response.json()["field"] == "url"


def test_an_anonymous_caller_gets_its_accept_language():
    french = Client().get("/api/payments", headers={"Accept-Language": "fr-CA,fr;q=0.9"})
    english = Client().get("/api/payments", headers={"Accept-Language": "en-CA"})
    assert french.status_code == english.status_code == 401
    assert french.json()["detail"].startswith("Authentification requise")
    assert english.json()["detail"].startswith("Authentication required")
    assert french.json()["code"] == english.json()["code"] == "unauthenticated"


def test_an_unknown_api_url_answers_in_the_callers_language():
    response = Client().get("/api/no-such-thing", headers={"Accept-Language": "fr-CA"})
    assert response.status_code == 404
    assert response.json() == {"detail": "Introuvable.", "code": "not_found"}
