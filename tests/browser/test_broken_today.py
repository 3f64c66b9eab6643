"""Issue 13 "Broken today": what a person saw go wrong, each checked in chromium the way
they met it (phone 390×844 or desktop 1280×800), asserting what is visible.

Real clock and live server (as every browser test here); dates derive from one `now`.
Mechanics work 00:00–24:00 so the pages find free times at any hour the suite runs.
"""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from autodoctor.accounts.models import Role
from autodoctor.booking import services
from autodoctor.booking.models import Offer, OfferKind, SessionStatus
from tests.factories import (
    CustomerFactory,
    MechanicFactory,
    UserFactory,
    VehicleFactory,
    WorkshopFactory,
    start_now_published,
    weekly_hours,
    workshop_hours,
)

from .helpers import DESKTOP, PHONE, book, box, first_slot, next_day, pick_day

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def now():
    return timezone.now()


@pytest.fixture
def customer():
    profile = CustomerFactory(user__full_name="Casey Driver")
    VehicleFactory(customer=profile, year=2018, make="Honda", model="Civic")
    return profile.user


@pytest.fixture
def mechanic():
    mechanic = MechanicFactory(
        is_online=True, user__full_name="Vera Ortiz", user__time_zone="America/Vancouver"
    )
    weekly_hours(mechanic, days=range(7), start=0, end=24 * 60)
    return mechanic


def near(a, b, gap: float = 80) -> bool:
    """The two boxes are within `gap` px of each other (vertically)."""
    return abs((a["y"] + a["height"] / 2) - (b["y"] + b["height"] / 2)) <= gap


# ------------------------------------------------------------------ form errors


def test_an_htmx_form_error_shows_next_to_its_field_and_keeps_the_input(open_page, mechanic):
    page = open_page(mechanic.user, viewport=PHONE)
    page.goto("/availability/")
    form = page.locator("#week form.row")
    form.get_by_label("From").fill("25:00")
    form.get_by_label("To").fill("26:00")
    form.get_by_role("button", name="Add hours").click()
    error = form.locator(".field-error")
    expect(error).to_contain_text("is not a time of day")
    expect(form.get_by_label("From")).to_have_value("25:00")
    expect(form.get_by_label("From")).to_have_attribute("aria-invalid", "true")
    assert near(box(error), box(form.get_by_label("From")))


def test_a_plain_form_error_shows_next_to_its_field_and_keeps_the_input(open_page, mechanic):
    page = open_page(mechanic.user, viewport=DESKTOP)
    page.goto("/availability/settings/")
    field = page.get_by_label(re.compile("^Buffer between sessions"))
    field.fill("999")
    page.get_by_role("button", name="Save").click()
    error = page.locator(".field-error")
    expect(error).to_contain_text("Must be between 0 and 240")
    expect(page.get_by_label(re.compile("^Buffer between sessions"))).to_have_value("999")
    assert near(box(error), box(page.get_by_label(re.compile("^Buffer between sessions"))))


# ------------------------------------------------------------------ header


def test_the_phone_header_has_a_menu_button_and_44px_targets_to_every_page(open_page, mechanic):
    page = open_page(mechanic.user, viewport=PHONE)
    button = page.get_by_role("button", name="Menu")
    expect(button).to_be_visible()
    assert box(button)["height"] >= 44
    button.click()
    header = page.locator("header")
    for role, name in [
        *(("link", n) for n in ("Home", "My schedule", "Availability", "Offers", "Earnings")),
        ("button", "Log out"),
    ]:
        link = header.get_by_role(role, name=name, exact=True)
        expect(link).to_be_visible()
        assert box(link)["height"] >= 44, name
    bell = header.get_by_role("link", name=re.compile("^Notifications"))
    expect(bell).to_be_visible()
    assert box(bell)["height"] >= 44
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_the_workshop_menu_fits_on_one_line_at_1280(open_page):
    # as in the demo data: a workshop staff member with a long name
    workshop = WorkshopFactory(owner__full_name="Queen Street Auto Manager")
    page = open_page(workshop.owner, viewport=DESKTOP)
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    links = page.locator("header nav a")
    tops = {round(box(links.nth(i))["y"]) for i in range(links.count())}
    assert len(tops) == 1, tops
    assert box(page.locator("header.topbar"))["height"] <= 72
    # room for the links other pages will add (Analytics, account pages) before it wraps
    last = box(links.nth(links.count() - 1))
    assert box(page.locator("header .who"))["x"] - (last["x"] + last["width"]) >= 200


# ------------------------------------------------------------------ month calendar on a phone


def test_the_month_calendar_on_a_phone_shows_counts_and_the_days_list(
    open_page, customer, mechanic, now
):
    start = first_slot(mechanic, after=now + timedelta(days=1), minutes=15, now=now)
    book(customer, mechanic, start=start, now=now)
    day = start.astimezone(mechanic.user.zone).date()
    page = open_page(mechanic.user, viewport=PHONE)
    page.goto(f"/booking/calendar/?view=month&date={day:%Y-%m-%d}")
    cell = page.locator(f'.cal-month [data-day="{day:%Y-%m-%d}"]')
    expect(cell.locator(".marker")).to_contain_text("1")
    expect(cell.locator(".ev").first).to_be_hidden()  # no words squeezed into the cell
    day_list = page.locator("#day-list")
    expect(day_list).to_contain_text("Casey Driver")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


# ------------------------------------------------------------------ after paying


def test_paying_lands_on_a_youre_booked_confirmation(open_page, customer, mechanic, now):
    start = first_slot(mechanic, after=now + timedelta(days=2), minutes=15, now=now)
    intake = services.intake_validate(customer=customer, plan="free", concern="Brakes squeal")
    hold = services.reservation_hold(
        customer=customer, intake=intake, mechanic_id=mechanic.pk, starts_at=start
    )
    page = open_page(customer, viewport=PHONE)
    page.goto(f"/payments/checkout/{hold.pk}/")
    page.check("input[name=waiver_accepted]")
    page.get_by_role("button", name="Confirm my free session").click()
    expect(page.locator("h1")).to_have_text("You're booked")
    main = page.locator("main")
    expect(main).to_contain_text(re.compile(r"\d\d:\d\d E[SD]T"))  # the customer's zone
    expect(main).to_contain_text(re.compile(r"\d\d:\d\d P[SD]T"))  # Vera's zone
    expect(main).to_contain_text("What happens next")
    for name in ("Download .ics", "Google Calendar", "Outlook", "Reschedule", "Cancel", "Receipt"):
        expect(main.get_by_role("link", name=re.compile(name))).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("Started")


# ------------------------------------------------------------------ start now, accepted


def test_the_waiting_page_turns_into_join_now_once_a_mechanic_accepts(
    open_page, customer, mechanic
):
    intake = services.intake_validate(customer=customer, plan="free", concern="Battery dies")
    session = start_now_published(customer, intake)
    page = open_page(customer, viewport=PHONE)
    page.goto(f"/booking/sessions/{session.pk}/waiting/")
    expect(page.locator("h1")).to_have_text("Finding your mechanic")
    offer = Offer.objects.get(session=session, kind=OfferKind.TARGETED, mechanic=mechanic)
    services.offer_accept(offer_id=offer.pk, mechanic=mechanic)
    expect(page.locator("h1")).to_have_text("Vera Ortiz accepted — join now", timeout=12_000)
    expect(page.get_by_role("button", name="Stop waiting and cancel")).to_have_count(0)
    expect(page.get_by_role("link", name="Join now")).to_be_visible()

    desk = open_page(mechanic.user, viewport=DESKTOP)
    desk.goto(f"/booking/sessions/{session.pk}/")
    status = desk.locator(".session-summary .badge").first
    expect(status).not_to_have_text("Waiting")
    expect(status).to_contain_text("Accepted")


# ------------------------------------------------------------------ cancelling


def test_cancelling_says_what_the_refund_will_be_before_confirming(
    open_page, customer, mechanic, now
):
    start = first_slot(mechanic, after=now + timedelta(hours=10), minutes=30, now=now)
    session = book(customer, mechanic, start=start, plan="advice", now=now)
    page = open_page(customer, viewport=PHONE)
    page.goto("/booking/sessions/")
    page.locator(f"#session-{session.pk}").get_by_role("link", name="Cancel").click()
    main = page.locator("main")
    expect(main).to_contain_text("50 % back as credits: $16.94 CAD")  # of 33.89 with HST
    page.get_by_role("button", name="Cancel session").click()
    expect(page.locator("#flash")).to_contain_text("cancelled")
    session.refresh_from_db()
    assert session.status == SessionStatus.CANCELLED


# ------------------------------------------------------------------ the wizard


def walk_to_when(page) -> None:
    page.goto("/booking/")
    page.get_by_role("button", name="Continue").click()  # the saved vehicle
    page.click("text=Quick question")
    page.get_by_role("button", name="Continue").click()


def test_the_slot_wall_is_grouped_states_the_zone_once_and_is_short_on_a_phone(
    open_page, customer, mechanic
):
    page = open_page(customer, viewport=PHONE)
    walk_to_when(page)
    page.click("text=Schedule for later")
    # A whole day (today may have only its evening left).
    pick_day(page, page.locator("#slot-picker a.day.has-slots").nth(1))
    slots = page.locator("#day-slots")
    expect(slots.get_by_text("Morning", exact=False).first).to_be_visible()
    expect(slots).to_contain_text("Afternoon")
    expect(slots).to_contain_text("Evening")
    labels = slots.locator("label.slot")
    assert labels.count() > 0
    assert not re.search(r"E[SD]T", labels.first.inner_text())  # the zone is said once
    assert page.evaluate("document.documentElement.scrollHeight") < 2600
    heading = slots.locator("h3").inner_text()
    next_day(page)
    expect(page.locator("#day-slots h3")).not_to_have_text(heading)


def test_the_mechanic_step_explains_matches_and_any_mechanic_picks_as_it_says(
    open_page, customer, mechanic
):
    page = open_page(customer, viewport=DESKTOP)
    walk_to_when(page)
    page.click("text=Schedule for later")
    page.locator("#day-slots label.slot").first.click()
    page.get_by_role("button", name="Continue").click()
    main = page.locator("main")
    expect(main).not_to_contain_text(re.compile(r"match \d+"))
    expect(main).not_to_contain_text("Next free slot")
    anyone = page.locator("label", has_text="Any mechanic")
    expect(anyone).to_contain_text("best match free at")
    expect(anyone).to_contain_text("Vera Ortiz")
    anyone.click()
    page.get_by_role("button", name="Continue").click()
    page.fill("textarea[name=concern]", "Squeal from the front brakes")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("table.review")).to_contain_text("Vera Ortiz")


def test_the_offers_inbox_says_what_each_offer_pays_and_why_it_is_empty(
    open_page, customer, mechanic
):
    other = MechanicFactory(user__full_name="Otto Idle")
    empty = open_page(other.user, viewport=PHONE)
    empty.goto("/booking/offers/")
    expect(empty.locator("main")).to_contain_text("first 2 minutes")

    intake = services.intake_validate(
        customer=customer, plan="quick", concern="Odd noise from the engine"
    )
    start_now_published(customer, intake)
    page = open_page(mechanic.user, viewport=PHONE)
    page.goto("/booking/offers/")
    card = page.locator("article.offer").first
    expect(card).to_contain_text("You earn $10.49 CAD")
    expect(card).not_to_contain_text("Match score")


# ------------------------------------------------------------------ workshops


def test_an_affiliated_mechanics_earnings_say_paid_to_the_workshop(open_page, customer, now):
    workshop = WorkshopFactory(name="Northside Garage")
    workshop_hours(workshop, days=range(7), open_=0, close=24 * 60)
    affiliated = MechanicFactory(affiliated=True, workshop=workshop)
    start = first_slot(affiliated, after=now + timedelta(days=1), minutes=30, now=now)
    book(customer, affiliated, start=start, plan="advice", now=now)
    page = open_page(affiliated.user, viewport=PHONE)
    page.goto("/payments/earnings/")
    main = page.locator("main")
    expect(main).to_contain_text("paid to Northside Garage")
    expect(main).to_contain_text("$20.99 CAD")


def test_an_independent_owner_reaches_the_workshop_hours_and_the_editor_reads_right(open_page):
    owner = UserFactory(role=Role.MECHANIC, full_name="Ivan Owner")
    workshop = WorkshopFactory(owner=owner, name="Ivan's Garage")
    MechanicFactory(independent=True, workshop=workshop, user=owner)
    workshop_hours(workshop, days=range(1, 6), open_=9 * 60, close=17 * 60)
    workshop_hours(workshop, days=[0, 6], open_=9 * 60, close=17 * 60)
    workshop.hours.filter(day_of_week__in=[0, 6]).update(is_open=False)
    page = open_page(owner, viewport=DESKTOP)
    page.locator("header").get_by_role("link", name="Hours", exact=True).click()
    expect(page.locator("h1")).to_contain_text("opening hours")
    sunday = page.locator("tr", has_text="Sunday")
    expect(sunday.locator("input[name$='-open']")).to_have_value("")
    expect(sunday.locator("input[name$='-close']")).to_have_value("")
    expect(page.locator("input[placeholder='24:00']")).to_have_count(0)


# ------------------------------------------------------------------ admin


def test_admin_lists_show_times_with_their_zone(open_page, customer, mechanic, now):
    start = first_slot(mechanic, after=now + timedelta(days=1), minutes=15, now=now)
    book(customer, mechanic, start=start, now=now)
    admin = UserFactory(
        role=Role.ADMIN, is_staff=True, is_superuser=True, time_zone="America/Toronto"
    )
    page = open_page(admin, viewport=DESKTOP)
    page.goto("/admin/booking/session/")
    expect(page.locator("#result_list tbody tr").first).to_contain_text(re.compile(r"E[SD]T"))
