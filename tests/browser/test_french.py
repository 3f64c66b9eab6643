"""The site in Canadian French in chromium, at a desktop and a phone size, for people whose
account says fr-ca (issue 16 part 4): the header and menu, the booking wizard and the
mechanic's calendar, asserting French words, French day and month names, times with their
zone and money written « 29,99 $ ».

The header/menu test covers the web app (translated here). The wizard and calendar tests
assert the wording of FRENCH.md's glossary (« Réserver », « séance », « créneau »,
« Continuer », « fuseau horaire ») on the booking/availability templates, which are
translated on their own branch: they pass once both are merged.
"""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.factories import CustomerFactory, MechanicFactory, VehicleFactory, weekly_hours

from .helpers import VIEWPORTS, book, first_slot, grant_credits

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

sizes = pytest.mark.parametrize(("size", "viewport"), VIEWPORTS, ids=[v[0] for v in VIEWPORTS])

FRENCH_DAY = re.compile(
    r"\b(lun|mar|mer|jeu|ven|sam|dim)\.?|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche", re.I
)
FRENCH_MONTH = re.compile(
    r"janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|décembre"
    r"|janv\.|févr\.|avr\.|juil\.|sept\.|oct\.|nov\.|déc\.",
    re.I,
)
ENGLISH_DAY = re.compile(r"\b(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b")


@pytest.fixture
def customer():
    profile = CustomerFactory(user__full_name="Camille Tremblay", user__language="fr-ca")
    VehicleFactory(customer=profile, year=2018, make="Honda", model="Civic")
    return profile.user


@pytest.fixture
def mechanic():
    mechanic = MechanicFactory(
        is_online=True, rating="4.8", user__full_name="Vera Ortiz", user__language="fr-ca"
    )
    weekly_hours(mechanic, days=range(7), start=0, end=24 * 60)
    return mechanic


def open_menu(page, viewport) -> None:
    if viewport["width"] < 1100:
        page.get_by_role("button", name="Menu").click()


@sizes
def test_a_french_account_gets_the_header_and_menu_in_french(open_page, customer, size, viewport):
    page = open_page(customer, viewport=viewport)
    expect(page.locator("html")).to_have_attribute("lang", "fr-ca")
    expect(page.locator("h1")).to_have_text("Bonjour, Camille Tremblay")
    open_menu(page, viewport)
    nav = page.get_by_role("navigation", name="Principal")
    expect(nav.get_by_role("link", name="Réserver un mécanicien")).to_be_visible()
    expect(nav.get_by_role("link", name="Mes séances")).to_be_visible()
    expect(page.get_by_role("button", name="English")).to_be_visible()  # the switch
    expect(page.locator("main")).to_contain_text("Mes véhicules")


@sizes
def test_the_booking_wizard_in_french(open_page, customer, mechanic, size, viewport):
    """Depends on the booking templates' French (frb's branch)."""
    grant_credits(customer, 3389)
    page = open_page(customer, viewport=viewport)
    page.goto("/booking/")
    main = page.locator("main")
    expect(main).to_contain_text("Réserver")
    page.get_by_role("button", name="Continuer").click()  # the saved vehicle
    # The plans with their price the Quebec way: « 29,99 $ ».
    expect(main).to_contain_text(re.compile(r"29,99\s\$"))
    expect(main).to_contain_text("séance")
    assert not ENGLISH_DAY.search(main.inner_text())


@sizes
def test_the_mechanic_calendar_in_french(open_page, customer, mechanic, size, viewport):
    """Depends on the booking/availability templates' French (frb's branch); the menu
    label « Mon horaire » is the web app's."""
    now = timezone.now()
    start = first_slot(mechanic, after=now + timedelta(days=1), minutes=30, now=now)
    book(customer, mechanic, start=start, now=now)
    page = open_page(mechanic.user, viewport=viewport)
    open_menu(page, viewport)
    page.get_by_role("link", name="Mon horaire").click()
    main = page.locator("main")
    text = main.inner_text()
    assert FRENCH_DAY.search(text), text[:400]
    assert FRENCH_MONTH.search(text), text[:400]
    assert not ENGLISH_DAY.search(text)
    # Times carry their zone.
    expect(main).to_contain_text(re.compile(r"\d{1,2}(:|\sh\s?)\d\d"))
    expect(main).to_contain_text(re.compile(r"America/Toronto|E[SD]T|HN?E|HAE"))
    expect(main).to_contain_text("séance")
