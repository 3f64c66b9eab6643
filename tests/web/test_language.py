"""The language a person sees: their account's choice when signed in, else the switch's
cookie, else the browser's Accept-Language; and amounts formatted per language."""

import pytest
from django.urls import reverse
from django.utils import translation

from autodoctor.payments.models import money_label
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_visitor_gets_the_browser_language(client):
    page = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="fr-CA,fr;q=0.9,en;q=0.5")
    assert '<html lang="fr-ca">' in page.content.decode()
    page = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en-US")
    assert '<html lang="en-ca">' in page.content.decode()


def test_switch_sets_cookie_for_visitor_and_redirects_back(client):
    response = client.post(reverse("set_language"), {"language": "fr-ca", "next": "/login/"})
    assert response.status_code == 302 and response["Location"] == "/login/"
    page = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en-US")
    assert '<html lang="fr-ca">' in page.content.decode()


def test_signed_in_choice_is_saved_on_the_account_and_beats_the_browser(client):
    user = UserFactory(language="en-ca")
    client.force_login(user)
    client.post(reverse("set_language"), {"language": "fr-ca", "next": "/"})
    user.refresh_from_db()
    assert user.language == "fr-ca"
    client.cookies.clear()  # a new browser: the account still decides
    client.force_login(user)
    page = client.get(reverse("profile"), HTTP_ACCEPT_LANGUAGE="en-US")
    assert '<html lang="fr-ca">' in page.content.decode()


def test_unknown_language_changes_nothing(client):
    user = UserFactory(language="en-ca")
    client.force_login(user)
    client.post(reverse("set_language"), {"language": "xx", "next": "/"})
    user.refresh_from_db()
    assert user.language == "en-ca"


def test_money_per_language():
    with translation.override("en-ca"):
        assert money_label(102999) == "$1,029.99 CAD"
        assert money_label(-500, None) == "-$5.00"
    with translation.override("fr-ca"):
        assert money_label(102999) == "1\u00a0029,99\u00a0$\u00a0CAD"
        assert money_label(2999, None) == "29,99\u00a0$"
