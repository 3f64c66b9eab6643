"""The language a person picks at sign-up (preselected from the browser) and on the
profile page, saved to User.language (issue 16 part 4)."""

import pytest
from django.test import Client

from autodoctor.accounts import profiles, registration
from autodoctor.accounts.models import User
from autodoctor.errors import InvalidInput
from tests.factories import CustomerFactory

from .conftest import NOW, STRONG

pytestmark = pytest.mark.django_db


def _selected(page: str, value: str) -> bool:
    return f'<option value="{value}" selected>' in page


def test_the_signup_page_preselects_the_browser_language():
    french = Client().get("/accounts/signup/", HTTP_ACCEPT_LANGUAGE="fr-CA,fr;q=0.9,en;q=0.5")
    assert _selected(french.content.decode(), "fr-ca")
    assert "Créer un compte" in french.content.decode()
    english = Client().get("/accounts/signup/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert _selected(english.content.decode(), "en-ca")
    assert "Create an account" in english.content.decode()


def test_a_browser_in_another_language_gets_english_preselected():
    page = Client().get("/accounts/signup/", HTTP_ACCEPT_LANGUAGE="de-DE").content.decode()
    assert _selected(page, "en-ca")


def _signup_post(client: Client, **extra):
    fields = {
        "full_name": "Camille Char",
        "email": "camille@example.test",
        "password": STRONG,
        "role": "customer",
        "time_zone": "America/Toronto",
        "language": "fr-ca",
        **extra,
    }
    return client.post("/accounts/signup/", fields)


def test_signing_up_in_french_saves_the_language_and_keeps_the_next_pages_french(clock):
    client = Client()
    response = _signup_post(client, HTTP_ACCEPT_LANGUAGE="en-US")
    assert response.status_code == 302
    assert User.objects.get(email="camille@example.test").language == "fr-ca"
    done = client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en-US").content.decode()
    assert '<html lang="fr-ca">' in done and "Vérifiez votre boîte de réception" in done


def test_an_english_choice_beats_a_french_browser(clock):
    _signup_post(Client(), language="en-ca", HTTP_ACCEPT_LANGUAGE="fr-CA")
    assert User.objects.get(email="camille@example.test").language == "en-ca"


def test_an_unknown_language_is_refused_and_creates_no_account(clock):
    response = _signup_post(Client(), language="xx")
    assert response.status_code == 422
    assert not User.objects.filter(email="camille@example.test").exists()


def test_the_service_checks_the_language_and_defaults_to_english(clock):
    with pytest.raises(InvalidInput) as refused:
        registration.account_signup(
            email="a@example.test", password=STRONG, full_name="A", language="de", now=NOW
        )
    assert refused.value.data["field"] == "language"
    assert not User.objects.exists()
    user = registration.account_signup(
        email="b@example.test", password=STRONG, full_name="B", now=NOW
    ).user
    assert user.language == "en-ca"


def test_the_profile_page_changes_the_language(login):
    casey = CustomerFactory().user
    client = login(casey)
    page = client.get("/profile/").content.decode()
    assert _selected(page, "en-ca")
    response = client.post(
        "/accounts/profile/",
        {"full_name": casey.full_name, "time_zone": "America/Toronto", "language": "fr-ca"},
        follow=True,
    )
    casey.refresh_from_db()
    assert casey.language == "fr-ca"
    body = response.content.decode()
    assert "Profil enregistré." in body and "Fuseau horaire" in body
    assert _selected(body, "fr-ca")


def test_the_profile_service_refuses_an_unknown_language():
    casey = CustomerFactory().user
    with pytest.raises(InvalidInput):
        profiles.profile_update(user=casey, changes=profiles.ProfileChanges(language="xx"))
    casey.refresh_from_db()
    assert casey.language == "en-ca"


def test_a_signup_post_without_a_language_takes_the_browser_one(clock):
    client = Client()
    fields = {
        "full_name": "Camille Char",
        "email": "camille@example.test",
        "password": STRONG,
        "role": "customer",
        "time_zone": "America/Toronto",
    }
    client.post("/accounts/signup/", fields, HTTP_ACCEPT_LANGUAGE="fr-CA")
    assert User.objects.get(email="camille@example.test").language == "fr-ca"


def test_a_profile_post_without_a_language_keeps_it(login):
    casey = CustomerFactory(user__language="fr-ca").user
    login(casey).post(
        "/accounts/profile/", {"full_name": casey.full_name, "time_zone": "America/Toronto"}
    )
    casey.refresh_from_db()
    assert casey.language == "fr-ca"
