"""The pages of web, accounts, directory and analytics in Canadian French: a person whose
account says fr-ca (or a French browser) reads French words, French dates and the zone."""

import html
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from autodoctor.accounts.models import Role
from tests.factories import CustomerFactory, MechanicFactory, UserFactory, weekly_hours

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 4, 15, 0, tzinfo=ZoneInfo("UTC"))  # a Wednesday


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def test_a_french_browser_gets_the_login_page_in_french():
    page = Client().get("/login/", HTTP_ACCEPT_LANGUAGE="fr-CA,fr;q=0.8").content.decode()
    assert '<html lang="fr-ca">' in page
    # « Connexion »: Django's own French catalogue (contrib.admin, listed first) has "Log in".
    for words in ("Connexion", "Courriel", "Mot de passe", "Mot de passe oublié?"):
        assert words in page, words
    assert " · English</span></button>" in page  # the switch offers the other language


def test_a_french_customer_sees_home_and_profile_in_french(login):
    user = CustomerFactory(user__language="fr-ca").user
    client = login(user)
    home = client.get("/", HTTP_ACCEPT_LANGUAGE="en-US").content.decode()
    assert "Réserver un mécanicien" in home and "Mes véhicules" in home
    profile = client.get("/profile/", HTTP_ACCEPT_LANGUAGE="en-US").content.decode()
    for words in ("Votre profil", "Fuseau horaire", "Code postal", "Jetons d'API"):
        assert words in html.unescape(profile), words


def test_the_directory_in_french_names_the_day_and_the_zone(login):
    mechanic = MechanicFactory(user__full_name="Hana Honda", brands=["Honda"], years_experience=3)
    weekly_hours(mechanic)
    user = CustomerFactory(user__language="fr-ca").user
    client = login(user)
    search = client.get("/mechanics/", {"brand": "honda"}).content.decode()
    assert "Trouver un mécanicien" in search
    assert "1 mécanicien trouvé" in search and "3 ans" in search
    assert "Prochain créneau libre" in search and "America/Toronto" in search
    profile = client.get(f"/mechanics/{mechanic.pk}/").content.decode()
    assert "Expérience" in profile and "Réserver avec ce mécanicien" in profile


def test_the_analytics_dashboard_in_french(login):
    admin = UserFactory(role=Role.ADMIN, is_staff=True, is_superuser=True, language="fr-ca")
    page = html.unescape(login(admin).get("/analytics/?days=7").content.decode())
    assert "Statistiques de la plateforme" in page and "Tous les forfaits" in page
    for words in ("Taux d'occupation", "Délai de réservation", "Revenus", "Satisfaction"):
        assert words in page, words
    assert "7 derniers jours" in page and "heures en America/Toronto" in page
