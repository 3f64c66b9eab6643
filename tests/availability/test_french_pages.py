"""The mechanic's hours pages and the workshop's hours in Canadian French for a person
whose language is fr-ca (issue 16 part 4): French words and day names, refusals in
French, dates from Django's French calendar with the zone named."""

from datetime import timedelta

import pytest
from django.test import Client

from autodoctor.availability.models import TimeOff, WeeklyBlock
from tests.availability.conftest import NOW
from tests.factories import MechanicFactory, WorkshopFactory, weekly_hours, workshop_hours

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_clock")]

HTMX = {"HX-Request": "true"}


def in_french(user):
    user.language = "fr-ca"
    user.save(update_fields=["language"])
    return user


def main(client: Client, url: str) -> str:
    """The page's own content (the header and footer belong to the web app)."""
    response = client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert '<html lang="fr-ca">' in page
    return page[page.index('<main class="content"') : page.index("</main>")]


def test_weekly_hours_page_in_french(login):
    mechanic = MechanicFactory(user__time_zone="America/Halifax")
    weekly_hours(mechanic, days=[2], start=9 * 60, end=17 * 60)
    page = main(login(in_french(mechanic.user)), "/availability/")
    assert "Mes disponibilités" in page and "Heures de la semaine" in page
    assert ">mardi<" in page and ">lundi<" in page and "pas de travail" in page
    assert "09:00–17:00" in page and "America/Halifax" in page
    assert "Ajouter des heures" in page and "Dates spéciales" in page
    assert "Weekly hours" not in page and "Tuesday" not in page


def test_an_overlapping_block_is_refused_in_french(login):
    mechanic = MechanicFactory()
    weekly_hours(mechanic, days=[2], start=9 * 60, end=12 * 60)
    response = login(in_french(mechanic.user)).post(
        "/availability/blocks/add/",
        {"day_of_week": 2, "start": "11:00", "end": "13:00"},
        headers=HTMX,
    )
    assert response.status_code == 422
    assert "mardi 09:00–12:00 chevauche mardi 11:00–13:00." in response.content.decode()
    assert WeeklyBlock.objects.filter(mechanic=mechanic).count() == 1


def test_a_malformed_time_is_refused_in_french(login):
    mechanic = MechanicFactory()
    response = login(in_french(mechanic.user)).post(
        "/availability/blocks/add/",
        {"day_of_week": 2, "start": "9h", "end": "13:00"},
        headers=HTMX,
    )
    assert response.status_code == 422
    assert "n&#x27;est pas une heure comme 09:30" in response.content.decode()


def test_time_off_page_in_french_shows_french_dates_with_the_zone(login):
    mechanic = MechanicFactory()
    TimeOff.objects.create(
        mechanic=mechanic,
        starts_at=NOW + timedelta(days=1),
        ends_at=NOW + timedelta(days=2),
        status="approved",
        reason="dentiste",
    )
    page = main(login(in_french(mechanic.user)), "/availability/time-off/")
    assert "Prendre congé" in page and "En cours et à venir" in page
    assert "mar 3 mars 2026 06:00 EST" in page  # NOW + 1 day, Toronto, French names
    assert "Approuvé" in page and "Premier jour" in page


def test_workshop_hours_page_in_french(login):
    workshop = WorkshopFactory(name="Garage du Port", time_zone="America/Halifax")
    workshop_hours(workshop, days=[1], break_=(720, 780))
    page = main(
        login(in_french(workshop.owner)), f"/availability/workshop/hours/?workshop={workshop.pk}"
    )
    page = page.replace("&#x27;", "'")
    assert "Garage du Port : heures d'ouverture" in page
    assert "Enregistrer les heures d'ouverture" in page and "Pause de" in page
    assert ">lundi" in page and "America/Halifax" in page
    assert "Opening hours" not in page
