"""A customer on a phone (390 px) finds a mechanic and books them: search by brand →
the mechanic's card → their public profile → "Book this mechanic" → the booking wizard
with that mechanic preselected → booked with them. Real clock and live server."""

import re

import pytest
from playwright.sync_api import expect

from autodoctor.booking.models import Session
from tests.factories import CustomerFactory, MechanicFactory, VehicleFactory, weekly_hours

from .helpers import PHONE, box, grant_credits, pick_day

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_customer_on_a_phone_searches_opens_a_profile_and_books_that_mechanic(open_page):
    profile = CustomerFactory(user__full_name="Casey Driver")
    VehicleFactory(customer=profile, year=2018, make="Honda", model="Civic")
    customer = profile.user
    vera = MechanicFactory(
        user__full_name="Vera Ortiz",
        brands=["Honda"],
        languages=["English", "Spanish"],
        bio="Twenty years on Japanese cars.",
        rating="4.8",
    )
    weekly_hours(vera, days=range(7), start=0, end=24 * 60)
    other = MechanicFactory(user__full_name="Otto Other", brands=["Honda"], rating="4.9")
    weekly_hours(other, days=range(7), start=0, end=24 * 60)
    MechanicFactory(user__full_name="Fiona Ford", brands=["Ford"])
    grant_credits(customer, 3389)  # the $29.99 advice plan + 13 % Ontario HST
    assert PHONE["width"] == 390

    page = open_page(customer, viewport=PHONE)
    page.goto("/mechanics/")
    page.get_by_role("textbox", name="Brand", exact=True).fill("honda")
    page.get_by_role("textbox", name="Language", exact=True).fill("Spanish")
    search = page.get_by_role("button", name="Search")
    assert box(search)["height"] >= 44
    search.click()
    results = page.locator(".mechanic-result")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("Vera Ortiz")
    expect(results.first).to_contain_text(re.compile(r"Next free: .+ E[SD]T"))
    expect(page.locator("main")).not_to_contain_text("Fiona Ford")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    results.first.get_by_role("link", name="View profile").click()
    expect(page.locator("h1")).to_have_text("Vera Ortiz")
    main = page.locator("main")
    expect(main).to_contain_text("Twenty years on Japanese cars.")
    expect(main).to_contain_text("English, Spanish")
    expect(page.locator("#next-free li").first).to_contain_text(re.compile(r"\d\d:\d\d E[SD]T"))
    expect(main).not_to_contain_text(vera.user.email)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    page.get_by_role("link", name="Book this mechanic").click()
    page.get_by_role("button", name="Continue").click()  # the saved vehicle
    page.click("text=Advice session")
    page.get_by_role("button", name="Continue").click()
    page.click("text=Schedule for later")
    pick_day(page, page.locator("#slot-picker a.day.has-slots").nth(1))
    page.locator("#day-slots details[open] label.slot").first.click()
    page.get_by_role("button", name="Continue").click()
    chosen = page.locator("label", has_text="Vera Ortiz").first.locator("input")
    expect(chosen).to_be_checked()  # preselected from the profile
    page.get_by_role("button", name="Continue").click()
    page.fill("textarea[name=concern]", "Squeal from the front brakes when stopping")
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Hold this time").click()
    page.get_by_role("button", name="Pay $33.89 CAD with credits").click()
    expect(page.locator("h1")).to_have_text("You're booked")
    assert Session.objects.get(customer=customer).mechanic_id == vera.pk
