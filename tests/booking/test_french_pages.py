"""The booking wizard, the refusals it shows and the mechanic's calendar in Canadian
French for a person whose language is fr-ca (issue 16 part 4): French words, French day
and month names from Django's calendar, and times that still name their zone.

The clock is frozen at NOW (Monday 30 Nov 2026, 07:00 in Toronto); SLOT is Tuesday
1 Dec 2026, 10:00 EST.
"""

from datetime import timedelta

import pytest
import time_machine

from autodoctor.availability.models import TimeOff, TimeOffStatus
from autodoctor.booking import services
from autodoctor.booking import views as booking_views
from autodoctor.booking.models import Session
from tests.factories import CustomerFactory

from .conftest import NOW, SLOT

pytestmark = pytest.mark.django_db

WIZARD = "/booking/new/"


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture(autouse=True)
def no_payments_checkout(monkeypatch):
    monkeypatch.setattr(booking_views, "checkout_url", lambda reservation: None)


def in_french(user):
    user.language = "fr-ca"
    user.save(update_fields=["language"])
    return user


@pytest.fixture
def french_client(login, booking_customer):
    return login(in_french(booking_customer))


def body(response) -> str:
    return response.content.decode()


def main(response) -> str:
    """The page's own content (the header and footer belong to the web app)."""
    page = body(response)
    return page[page.index('<main class="content"') : page.index("</main>")]


def start_scheduled(client, customer):
    vehicle = customer.customer_profile.vehicles.get()
    assert client.post(f"{WIZARD}vehicle/", {"vehicle": vehicle.pk}).status_code == 302
    assert (
        client.post(f"{WIZARD}plan/", {"plan": "free", "session_type": "video"}).status_code == 302
    )


def test_the_wizard_speaks_french_from_the_first_step(french_client):
    response = french_client.get(f"{WIZARD}vehicle/", HTTP_ACCEPT_LANGUAGE="en-CA")
    assert '<html lang="fr-ca">' in body(response)
    page = main(response)
    assert "Réserver un mécanicien" in page and "De quel véhicule s'agit-il?" in page
    assert "Un autre véhicule" in page and "Continuer" in page
    assert "Book a mechanic" not in page and ">Continue<" not in page


def test_the_french_plan_step_names_plans_and_prices_the_french_way(
    french_client, booking_customer
):
    vehicle = booking_customer.customer_profile.vehicles.get()
    french_client.post(f"{WIZARD}vehicle/", {"vehicle": vehicle.pk})
    page = main(french_client.get(f"{WIZARD}plan/"))
    assert "Choisir un forfait" in page and "Comment voulez-vous échanger?" in page
    assert "Premier coup d" in page and "Séance de conseils" in page
    assert "29,99\u00a0$\u00a0CAD" in page and ">Gratuit <" in page
    assert "Vidéo" in page and "Clavardage" in page
    assert "$29.99" not in page and "Advice session" not in page


def test_the_french_slot_calendar_has_french_days_months_and_the_zone(
    french_client, booking_customer, available_mechanic
):
    start_scheduled(french_client, booking_customer)
    page = main(french_client.get(f"{WIZARD}when/?mode=scheduled&month=2026-12&day=2026-12-01"))
    assert "Choisir un créneau pour plus tard" in page and "Quand?" in page
    assert "décembre 2026" in page and "32 libres" in page
    assert "mardi 1 décembre 2026" in page  # the chosen day, Django's French calendar
    assert '<span class="dow">lun</span>' in page
    assert "Matin" in page and "Après-midi" in page
    assert "affichés en America/Toronto (EST)" in page and "<span>10:00</span>" in page
    assert "December" not in page and "Morning" not in page and "free times" not in page


def test_the_french_mechanic_step_shows_the_chosen_time_with_its_zone(
    french_client, booking_customer, available_mechanic
):
    start_scheduled(french_client, booking_customer)
    french_client.post(f"{WIZARD}when/", {"mode": "scheduled", "start": SLOT.isoformat()})
    page = body(french_client.get(f"{WIZARD}mechanic/"))
    assert "Choisir un mécanicien" in page
    assert "Libres à <strong>mar 1 déc. 2026, 10:00 EST</strong>" in page
    assert "N&#x27;importe quel mécanicien" in page or "N'importe quel mécanicien" in page


def test_a_refused_booking_tells_the_french_customer_why_in_french(
    french_client, booking_customer, available_mechanic, hold
):
    start_scheduled(french_client, booking_customer)
    french_client.post(f"{WIZARD}when/", {"mode": "scheduled", "start": SLOT.isoformat()})
    french_client.post(f"{WIZARD}mechanic/", {"mechanic": str(available_mechanic.pk)})
    french_client.post(f"{WIZARD}concern/", {"concern": "Grincement en freinant à basse vitesse"})
    hold(CustomerFactory().user, available_mechanic, plan="free")  # someone was faster

    response = french_client.post(f"{WIZARD}review/", follow=True)

    assert response.redirect_chain[-1][0] == f"{WIZARD}when/"
    page = body(response)
    assert "Ce créneau vient d" in page and "Choisissez une autre heure." in page
    assert "Prochains créneaux libres : mar 1 déc. 2026, 10:30 EST" in page
    assert "That slot was just taken" not in page
    assert not Session.objects.filter(customer=booking_customer).exists()


def test_a_service_refusal_is_raised_in_the_active_language(
    booking_customer, available_mechanic, hold, intake
):
    from django.utils import translation

    from autodoctor.errors import SlotUnavailable

    hold(CustomerFactory().user, available_mechanic, plan="free")
    with translation.override("fr-ca"), pytest.raises(SlotUnavailable) as refused:
        services.reservation_hold(
            customer=booking_customer,
            intake=intake(booking_customer, "free"),
            mechanic_id=available_mechanic.pk,
            starts_at=SLOT,
            now=NOW,
        )
    assert refused.value.message == "Ce créneau vient d'être pris. Choisissez une autre heure."
    assert refused.value.code == "slot_unavailable"  # machine codes stay as they are


@pytest.mark.parametrize("view", ["day", "week", "month"])
def test_the_mechanic_calendar_in_french(login, available_mechanic, hold, booking_customer, view):
    reservation = hold(booking_customer, available_mechanic, plan="free")
    services.reservation_confirm(reservation_id=reservation.pk, customer=booking_customer, now=NOW)
    TimeOff.objects.create(
        mechanic=available_mechanic,
        starts_at=SLOT + timedelta(days=1),
        ends_at=SLOT + timedelta(days=1, hours=3),
        reason="Dentiste",
        status=TimeOffStatus.APPROVED,
    )
    client = login(in_french(available_mechanic.user))
    anchor = "2026-12-02" if view == "day" else "2026-12-01"
    page = main(client.get(f"/booking/calendar/?view={view}&date={anchor}"))
    assert "Mon calendrier" in page and "Heures en America/Toronto (EST)." in page
    assert "Congé : Dentiste" in page and "Disponible" in page
    assert "‹ Précédent" in page and "Suivant ›" in page and ">Aujourd" in page
    assert ">Jour<" in page and ">Semaine<" in page and ">Mois<" in page
    if view == "week":
        assert "Semaine du dimanche 29 novembre 2026" in page
        assert "mar 1 déc." in page and "10:00–10:15" in page
    if view == "month":
        assert "décembre 2026" in page and "10:00 EST–10:15 EST" in page
        assert "mardi 1 décembre 2026" in page
    if view == "day":
        assert "mercredi 2 décembre 2026" in page
    assert "My calendar" not in page and "Time off" not in page and "December" not in page


def test_the_same_pages_stay_english_for_an_english_account(login, booking_customer):
    page = body(login(booking_customer).get(f"{WIZARD}vehicle/"))
    assert "Book a mechanic" in page and "Réserver" not in page
