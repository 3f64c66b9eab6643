"""The integrations page and its refusals in Canadian French."""

import pytest
from django.utils import translation

from autodoctor.integrations.models import Endpoint

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _back_to_the_default_language():
    """A request activates its user's language for the thread; later tests expect none."""
    yield
    translation.deactivate()


def _in_french(user):
    user.language = "fr-ca"
    user.save(update_fields=["language"])
    return user


def test_the_integrations_page_in_french(booking_customer, login):
    page = login(_in_french(booking_customer)).get("/integrations/").content.decode()
    assert "Points de terminaison webhook" in page
    assert "Enregistrer un point de terminaison" in page
    assert "Aucun point de terminaison pour l'instant." in page


def test_a_refused_address_is_explained_in_french(booking_customer, login, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    response = login(_in_french(booking_customer)).post(
        "/integrations/endpoints/",
        {"url": "http://127.0.0.1/", "event_types": ["session.booked"]},
        HTTP_REFERER="/integrations/",
        follow=True,
    )
    assert "adresse privée ou locale" in response.content.decode()
    assert not Endpoint.objects.exists()
