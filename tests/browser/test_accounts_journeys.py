"""Accounts in the browser: a new customer signs up (time zone suggested by the browser),
confirms the address from the captured email, adds a vehicle and books; a mechanic
applies, an admin approves, the mechanic sets hours and receives an offer. Real clock,
real chromium, live server; emails go through the real outbox worker."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from autodoctor.accounts.models import User
from autodoctor.booking.models import Offer, Session, SessionStatus
from autodoctor.notifications.outbox import outbox_send_due
from tests.browser.conftest import TIMEOUT_MS
from tests.browser.helpers import pick_day
from tests.factories import (
    CustomerFactory,
    MechanicFactory,
    UserFactory,
    start_now_published,
    weekly_hours,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STRONG = "a-long Passphrase 2026"


def open_menu_link(page, name: str) -> None:
    """Follow a header link, opening the menu first where the header folds into one."""
    menu = page.get_by_role("button", name="Menu")
    if menu.is_visible():
        menu.click()
    page.get_by_role("link", name=name).click()


CLOCK_IN_VANCOUVER = re.compile(r"^\s*\d\d:\d\d\s*$")  # the zone is stated once, above


def emailed_link(subject: str, path_part: str) -> str:
    outbox_send_due()
    message = next(m for m in reversed(mail.outbox) if m.subject == subject)
    return next(u for u in re.findall(r"https?://\S+", message.body) if path_part in u)


def test_a_new_customer_signs_up_confirms_adds_a_vehicle_and_books(browser, live_server, settings):
    settings.SITE_URL = live_server.url
    mechanic = MechanicFactory(is_online=True, brands=["Mazda"])
    weekly_hours(mechanic, days=range(7), start=0, end=24 * 60)
    context = browser.new_context(
        base_url=live_server.url,
        viewport={"width": 390, "height": 844},  # a phone
        timezone_id="America/Vancouver",
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        page.goto("/")
        page.get_by_role("link", name="Sign up").click()
        expect(page.locator("h1")).to_have_text("Create an account")
        page.fill("input[name=full_name]", "Robin Roadster")
        page.fill("input[name=email]", "Robin@Example.test")
        page.fill("input[name=password]", STRONG)
        # zone.js picked the browser's zone for the person.
        expect(page.locator("select[name=time_zone]")).to_have_value("America/Vancouver")
        page.get_by_role("button", name="Create my account").click()
        expect(page.locator("h1")).to_have_text("Check your inbox")
        expect(page.locator("main")).to_contain_text("robin@example.test")

        link = emailed_link("Confirm your email address", "/accounts/verify/")
        page.goto(link.removeprefix(live_server.url))
        page.get_by_role("button", name="Confirm my email address").click()
        expect(page.locator("#flash")).to_contain_text("Your email address is confirmed")
        page.fill("input[name=username]", "robin@example.test")
        page.fill("input[name=password]", STRONG)
        page.click("main form button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")

        page.goto("/profile/")
        page.fill("input[name=year]", "2016")
        page.fill("input[name=make]", "Mazda")
        page.fill("input[name=model]", "CX-5")
        page.fill("input[name=vin]", "1M8GDM9A1KP042788")  # a typo: wrong check digit
        page.get_by_role("button", name="Add vehicle").click()
        expect(page.locator("main")).to_contain_text("check digit is wrong")
        page.fill("input[name=vin]", "1M8GDM9AXKP042788")
        page.get_by_role("button", name="Add vehicle").click()
        expect(page.locator("#flash")).to_contain_text("Added 2016 Mazda CX-5 to your garage")

        page.goto("/booking/")
        expect(page.get_by_label("2016 Mazda CX-5")).to_be_checked()
        page.get_by_role("button", name="Continue").click()
        page.click("text=Free first look")
        page.get_by_role("button", name="Continue").click()
        page.click("text=Schedule for later")
        picker = page.locator("#slot-picker")
        expect(picker).to_contain_text("America/Vancouver")
        pick_day(page, picker.locator("a.day.has-slots").first)  # waits for htmx's swap
        slot = page.locator("#day-slots label.slot").first
        expect(slot).to_have_text(CLOCK_IN_VANCOUVER)
        slot.click()
        page.get_by_role("button", name="Continue").click()
        expect(page.locator(".mechanic-card").first).to_contain_text("Mazda specialist")
        page.check(f'input[name=mechanic][value="{mechanic.pk}"]')
        page.get_by_role("button", name="Continue").click()
        page.fill("textarea[name=concern]", "Rattle from the rear on bumpy roads")
        page.get_by_role("button", name="Continue").click()
        page.get_by_role("button", name="Hold this time").click()
        page.wait_for_url(re.compile(r"/(payments/checkout|booking/holds)/\d+/$"))
        page.check("input[name=waiver_accepted]")
        page.get_by_role("button", name=re.compile("Confirm")).click()
        expect(page.locator("main")).to_contain_text(re.compile("booked", re.IGNORECASE))
    finally:
        context.close()
    robin = User.objects.get(email="robin@example.test")
    assert robin.time_zone == "America/Vancouver" and robin.email_verified
    session = Session.objects.get(customer=robin)
    assert session.status == SessionStatus.SCHEDULED and session.vehicle.model == "CX-5"


def test_a_mechanic_applies_is_approved_sets_hours_and_receives_an_offer(
    open_page, live_server, settings
):
    settings.SITE_URL = live_server.url
    mechanic = MechanicFactory(approval_status="pending", user__full_name="Mo Mechanic")
    admin = UserFactory(role="admin", is_staff=True, is_superuser=True)
    customer = CustomerFactory().user

    page = open_page(mechanic.user)
    open_menu_link(page, "Mechanic profile")
    expect(page.locator("main")).to_contain_text("Not sent yet")
    page.fill("input[name=years_experience]", "11")
    page.fill("input[name=brands]", "Honda, Subaru")
    page.fill("input[name=specialties]", "brakes, electrical")
    page.fill("textarea[name=bio]", "Fifteen years at a dealership.")
    page.fill("input[name=city]", "Toronto")
    page.fill("input[name=postal_code]", "m4c 1b5")
    page.check("input[name=work_mode][value=virtual]")
    page.get_by_role("button", name="Send my application").click()
    expect(page.locator("#flash")).to_contain_text("Application sent")
    expect(page.locator("main")).to_contain_text("Waiting for review")

    # Not approved yet: a customer's start-now request does not reach them.
    from autodoctor.booking import services

    intake = services.intake_validate(customer=customer, plan="free", concern="Brakes squeal a lot")
    first = start_now_published(customer, intake)
    assert not Offer.objects.filter(session=first, mechanic=mechanic).exists()
    page.goto("/booking/offers/")
    expect(page.locator("article.offer")).to_have_count(0)

    review = open_page(admin)
    open_menu_link(review, "Mechanic approvals")
    card = review.locator("section.card", has_text="Mo Mechanic")
    expect(card).to_contain_text("11 years")
    card.get_by_role("button", name="Approve").click()
    expect(review.locator("#flash")).to_contain_text("Mo Mechanic approved; they were emailed")
    outbox_send_due()
    assert any(m.subject.startswith("You are approved") for m in mail.outbox)

    page.goto("/availability/")
    for day in range(7):
        page.select_option("select[name=day_of_week]", str(day))
        page.fill("input[name=start]", "00:00")
        page.fill("input[name=end]", "24:00")
        page.get_by_role("button", name="Add hours").click()
        expect(page.locator("#week .badge.ok")).to_have_count(day + 1)

    services.session_cancel(session_id=first.pk, user=customer)  # one request out at a time
    second = start_now_published(customer, intake)
    assert Offer.objects.filter(session=second, mechanic=mechanic, kind="targeted").exists()
    page.goto("/booking/offers/")
    offer = page.locator("article.offer").first
    expect(offer).to_contain_text("Brakes squeal a lot")
    offer.get_by_role("button", name="Accept").click()
    expect(page.locator("#flash")).to_contain_text("Accepted. The session is yours.")
