"""Workshop visit pages in Canadian French, times still in the workshop's zone, named."""

import pytest
import time_machine
from django.utils import translation

from autodoctor.workshops import services
from autodoctor.workshops.services import VisitRequest

from .conftest import NOW, TUESDAY_10

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _back_to_the_default_language():
    """A request activates its user's language for the thread; later tests expect none."""
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def visit(completed_session, workshop):
    session = completed_session()
    return services.visit_request_from_session(
        customer=session.customer,
        session_id=session.pk,
        request=VisitRequest(workshop_id=workshop.pk, starts_at=TUESDAY_10),
        now=NOW,
    )


def _in_french(user):
    user.language = "fr-ca"
    user.save(update_fields=["language"])
    return user


def test_my_visits_in_french(login, visit):
    page = login(_in_french(visit.customer)).get("/workshops/visits/").content.decode()
    assert "Mes visites" in page and "À venir" in page
    assert "En attente de l'atelier jusqu'au" in page
    assert "Demandée" in page  # the visit's status label
    assert "<h1>My visits</h1>" not in page


def test_the_visit_page_in_french(login, visit):
    page = login(_in_french(visit.customer)).get(f"/workshops/visits/{visit.pk}/").content
    text = page.decode()
    assert f"Visite nº {visit.pk}" in text and "(heure de l'atelier)" in text
    assert "Annuler la visite" in text


def test_an_english_customer_keeps_english(login, visit):
    page = login(visit.customer).get("/workshops/visits/").content.decode()
    assert "<h1>My visits</h1>" in page and "Mes visites" not in page
