"""The in-person journey of issue 11, end to end in chromium at a desktop (1280×800) and a
phone (390×844) size: the mechanic completes a live session with a diagnosis → the
customer books a visit at a workshop from the session page → the workshop offers another
time → the customer accepts → the workshop assigns its mechanic, checks the car in and
completes the visit with notes. Asserts what a person sees at each step, and the visit's
history at the end.

Real clock and live server; the workshop is open 00:00–24:00 every day so the pages find
times at any hour, and the times picked are the first ones listed (a few hours ahead), so
checking in is allowed (it opens 12 hours before the start). Late in the evening the
first day may list one time only: the workshop's second choice is then early the next
day, still within those 12 hours.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from autodoctor.accounts.models import AccountType, PartnershipType
from autodoctor.booking.models import Plan, Session, SessionStatus
from autodoctor.workshops.models import Visit
from tests.factories import (
    CustomerFactory,
    MechanicFactory,
    VehicleFactory,
    WorkshopFactory,
    workshop_hours,
)

from .helpers import VIEWPORTS, pick_day

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def people():
    profile = CustomerFactory(user__full_name="Casey Driver", postal_code="M5V 1A1", city="Toronto")
    VehicleFactory(customer=profile, year=2018, make="Honda", model="Civic")
    vera = MechanicFactory(user__full_name="Vera Ortiz")
    shop = WorkshopFactory(
        name="Queen Street Auto",
        address="12 Queen St W",
        postal_code="M5V 2T6",
        max_concurrent_appointments=2,
    )
    workshop_hours(shop, days=range(7), open_=0, close=24 * 60)
    ana = MechanicFactory(
        workshop=shop,
        account_type=AccountType.WORKSHOP_MECHANIC,
        partnership_type=PartnershipType.EMPLOYEE,
        user__full_name="Ana Affiliated",
    )
    now = timezone.now()
    session = Session.objects.create(
        customer=profile.user,
        mechanic=vera,
        status=SessionStatus.LIVE,
        plan=Plan.objects.get(code="advice"),
        concern="Grinding noise from the front left wheel when braking",
        vehicle_label="2018 Honda Civic",
        duration_minutes=30,
        scheduled_for=now - timedelta(minutes=20),
        started_at=now - timedelta(minutes=20),
    )
    return profile.user, vera, shop, ana, session


@pytest.fixture(autouse=True)
def plans(db):
    import importlib

    from django.apps import apps

    importlib.import_module(
        "autodoctor.booking.migrations.0002_overlap_guard_and_plans"
    ).create_plans(apps, None)


def pick_first_time(page, nth: int = 0) -> str:
    """Choose the first day that lists more than `nth` free times, then its nth time;
    returns the time's label. Late in the evening today may list a single time (notice
    leaves one start on the grid): then the nth is the next day's."""
    days = page.locator("#slot-picker a.day.has-slots")  # lazy: re-resolved after each swap
    for index in range(days.count()):
        pick_day(page, days.nth(index))
        # The day's times are grouped in collapsible periods (night, morning, …): open them.
        page.eval_on_selector_all(
            "#slot-picker details", "all => all.forEach(d => { d.open = true; })"
        )
        slots = page.locator("#slot-picker label.slot:visible")
        if slots.count() > nth:
            label = slots.nth(nth).inner_text().strip()
            slots.nth(nth).click()
            return label
    raise AssertionError(f"no day lists {nth + 1} free times")


@pytest.mark.parametrize(("size", "viewport"), VIEWPORTS, ids=[v[0] for v in VIEWPORTS])
def test_from_diagnosis_to_a_completed_visit(open_page, people, size, viewport):
    customer, vera, shop, _ana, session = people

    # The mechanic writes the diagnosis in the room and completes the session.
    mechanic_page = open_page(vera.user, viewport=viewport)
    mechanic_page.goto(f"/booking/sessions/{session.pk}/room/")
    mechanic_page.get_by_label("Repair soon").check()
    mechanic_page.get_by_label("Recommended work").select_option("brakes")
    mechanic_page.get_by_label("Estimated labour (minutes)").fill("90")
    mechanic_page.get_by_label("Findings").fill(
        "Front pads worn to 2 mm; the left rotor is scored."
    )
    mechanic_page.get_by_role("button", name="Write diagnosis and complete").click()
    expect(mechanic_page.locator("main")).to_contain_text("Completed")
    session.refresh_from_db()
    assert session.status == SessionStatus.COMPLETED

    # The customer reads it and books a visit at the nearest workshop.
    page = open_page(customer, viewport=viewport)
    page.goto(f"/booking/sessions/{session.pk}/")
    expect(page.locator("main")).to_contain_text("Front pads worn to 2 mm")
    expect(page.locator("main")).to_contain_text("Repair soon")
    page.get_by_role("link", name="Book an in-person visit").click()
    expect(page.locator("h1")).to_have_text("Book an in-person visit")
    page.get_by_role("link", name="Queen Street Auto").first.click()
    expect(page.locator("main")).to_contain_text("Times in America/Toronto")
    expect(page.locator("main")).to_contain_text("The visit takes 90 min")
    pick_first_time(page)
    page.get_by_label("Wait on site").check()
    page.get_by_label("Notes for the workshop").fill("Please call when it's ready.")
    page.get_by_role("button", name="Send the request").click()
    expect(page.locator("main")).to_contain_text("Waiting for the workshop")
    visit = Visit.objects.get(session=session)
    assert (visit.status, visit.duration_minutes, visit.mode) == ("requested", 90, "wait")

    # The workshop offers another time.
    shop_page = open_page(shop.owner, viewport=viewport)
    shop_page.goto("/workshops/appointments/")
    expect(shop_page.locator("main")).to_contain_text("Casey Driver")
    shop_page.get_by_role("link", name="Answer").first.click()
    shop_page.get_by_role("link", name="Offer another time").click()
    pick_first_time(shop_page, nth=1)
    shop_page.get_by_label("Message to the customer").fill("A bay frees up 30 minutes later.")
    shop_page.get_by_role("button", name="Offer this time").click()
    expect(shop_page.locator("main")).to_contain_text("Other time offered")
    visit.refresh_from_db()
    assert visit.status == "countered" and visit.requested_starts_at is not None

    # The customer accepts it.
    page.goto(f"/workshops/visits/{visit.pk}/")
    expect(page.locator("main")).to_contain_text("A bay frees up 30 minutes later.")
    page.locator("#answer").get_by_role("button", name="Accept").click()
    expect(page.locator("main")).to_contain_text("Confirmed")

    # The workshop assigns Ana, checks the car in and completes the visit.
    shop_page.goto(f"/workshops/visits/{visit.pk}/")
    shop_page.get_by_label("Mechanic").select_option(label="Ana Affiliated")
    shop_page.get_by_role("button", name="Save").click()
    expect(shop_page.locator("main")).to_contain_text("Ana Affiliated")
    shop_page.get_by_role("button", name="Check in").click()
    expect(shop_page.locator("main")).to_contain_text("Checked in")
    shop_page.get_by_label("Final notes for the customer").fill("Pads and rotor replaced.")
    shop_page.get_by_role("button", name="Complete the visit").click()
    expect(shop_page.locator("main")).to_contain_text("Completed")

    page.goto(f"/workshops/visits/{visit.pk}/")
    expect(page.locator("main")).to_contain_text("Pads and rotor replaced.")
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    assert list(visit.events.values_list("action", flat=True)) == [
        "workshops.visit.requested",
        "workshops.visit.countered",
        "workshops.visit.counter_accepted",
        "workshops.visit.assigned",
        "workshops.visit.checked_in",
        "workshops.visit.completed",
    ]
