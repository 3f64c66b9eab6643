"""What a person does in the browser: book a scheduled session, pay for a start-now
session and have a mechanic accept it while the customer waits, reschedule from My
sessions. Real clock, real chromium, live server.

The mechanic works around the clock (00:00–24:00 every day) so the journeys find free
times whatever hour the suite runs.
"""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from autodoctor.availability import service as availability
from autodoctor.booking import services
from autodoctor.booking.models import ReservationStatus, Session, SessionStatus
from tests.factories import CustomerFactory, MechanicFactory, VehicleFactory, weekly_hours

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# A time with its zone abbreviation, as the pages show it for America/Toronto.
CLOCK_IN_TORONTO = re.compile(r"\d\d:\d\d E[SD]T")


def pick_day(page, day_link) -> None:
    """Click a day in the month calendar and wait until htmx has swapped in its times."""
    day = day_link.get_attribute("data-day")
    page.eval_on_selector("#slot-picker", "picker => { picker.dataset.stale = '1'; }")
    day_link.click()
    expect(page.locator("#slot-picker[data-stale]")).to_have_count(0)
    expect(page.locator(f'#slot-picker a.day.selected[data-day="{day}"]')).to_be_visible()


@pytest.fixture
def customer():
    profile = CustomerFactory()
    VehicleFactory(customer=profile, year=2018, make="Honda", model="Civic")
    return profile.user


@pytest.fixture
def mechanic():
    mechanic = MechanicFactory(is_online=True, rating="4.8")
    weekly_hours(mechanic, days=range(7), start=0, end=24 * 60)
    return mechanic


def test_customer_books_a_scheduled_free_session_end_to_end(open_page, customer, mechanic):
    page = open_page(customer)
    page.click("text=Book a mechanic >> nth=0")

    expect(page.locator("h2")).to_have_text("Which vehicle is it about?")
    expect(page.get_by_label("2018 Honda Civic")).to_be_checked()
    page.get_by_role("button", name="Continue").click()

    page.click("text=Free first look")
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_label("Start now")).to_be_checked()  # the default
    page.click("text=Schedule for later")
    picker = page.locator("#slot-picker")
    expect(picker).to_contain_text("America/Toronto")
    pick_day(page, picker.locator("a.day.has-slots").first)
    first_slot = page.locator("#day-slots label.slot").first
    expect(first_slot).to_have_text(CLOCK_IN_TORONTO)
    first_slot.click()
    page.get_by_role("button", name="Continue").click()

    expect(page.locator(".mechanic-card").first).to_contain_text("Honda specialist")
    page.check(f'input[name=mechanic][value="{mechanic.pk}"]')
    page.get_by_role("button", name="Continue").click()

    page.fill("textarea[name=concern]", "Squeal from the front brakes when stopping")
    page.get_by_role("button", name="Continue").click()

    review = page.locator("table.review")
    expect(review).to_contain_text(CLOCK_IN_TORONTO)
    expect(review).to_contain_text(str(mechanic))
    page.get_by_role("button", name="Hold this time").click()
    page.wait_for_url(re.compile(r"/(payments/checkout|booking/holds)/\d+/$"))

    if "/payments/checkout/" in page.url:  # the payments app's checkout page
        page.check("input[name=waiver_accepted]")
        page.get_by_role("button", name="Confirm my free session").click()
        expect(page.locator("#payment-status")).to_contain_text("Your session is booked")
    else:  # the wizard's own fallback confirm
        expect(page.locator(".countdown")).to_contain_text(re.compile(r"left · Held until"))
        page.check("input[name=waiver_accepted]")
        page.get_by_role("button", name="Confirm booking").click()
        expect(page.locator("h1")).to_have_text("You are booked")

    session = Session.objects.get(customer=customer)
    assert session.status == SessionStatus.SCHEDULED and session.mechanic == mechanic
    page.goto("/booking/sessions/")
    row = page.locator(f"#session-{session.pk}")
    expect(row).to_contain_text("Scheduled")
    expect(row).to_contain_text(CLOCK_IN_TORONTO)


def test_customer_pays_for_a_start_now_session_and_a_mechanic_accepts_it_while_they_wait(
    open_page, customer, mechanic, settings, live_server
):
    settings.SIMULATED_PAYMENTS_ALLOWED = True  # the offline card provider
    settings.STRIPE_SECRET_KEY = ""
    settings.SITE_URL = live_server.url  # where the provider sends the customer back
    waiting = open_page(customer)
    waiting.goto("/booking/")
    waiting.get_by_role("button", name="Continue").click()  # saved vehicle
    waiting.click("text=Quick question")
    waiting.get_by_role("button", name="Continue").click()
    waiting.get_by_role("button", name="Continue").click()  # "Start now" is pre-selected
    expect(waiting.locator("main")).to_contain_text(str(mechanic))  # the best match
    waiting.get_by_role("button", name="Continue").click()
    waiting.fill("textarea[name=concern]", "Check engine light came on this morning")
    waiting.get_by_role("button", name="Continue").click()
    waiting.get_by_role("button", name="Start session now").click()
    # Checkout first: nobody is offered the session before it is paid (plan §1.2).
    expect(waiting.locator("h1")).to_have_text("Confirm and pay")
    expect(waiting.locator("main")).to_contain_text("When: now")
    waiting.get_by_role("button", name="Pay $14.99 CAD by card").click()
    expect(waiting.locator("main")).to_contain_text("Simulated payment provider")
    waiting.get_by_role("button", name="Pay", exact=True).click()
    expect(waiting.locator("h1")).to_have_text("Finding your mechanic")
    expect(waiting.locator("#flash")).to_contain_text("Card: $14.99 CAD")

    inbox = open_page(mechanic.user)
    inbox.goto("/booking/offers/")
    card = inbox.locator("article.offer").first
    expect(card).to_contain_text("Check engine light came on this morning")
    expect(card).to_contain_text("Online now")
    card.get_by_role("button", name="Accept").click()
    expect(inbox.locator("#flash")).to_contain_text("Accepted. The session is yours.")

    # The waiting page polls every 5 s and shows who accepted.
    expect(waiting.locator("#waiting-status")).to_contain_text(
        f"{mechanic} accepted your session", timeout=12_000
    )
    waiting.get_by_role("link", name="Open the session").click()
    expect(waiting.locator(".session-summary")).to_contain_text("Waiting")


def test_customer_reschedules_from_my_sessions(open_page, customer, mechanic):
    now = timezone.now()
    slots = availability.available_slots(
        mechanic, now + timedelta(days=1), now + timedelta(days=2), timedelta(minutes=15), now=now
    )
    intake = services.intake_validate(
        customer=customer, plan="free", concern="Battery drains overnight"
    )
    reservation = services.reservation_hold(
        customer=customer, intake=intake, mechanic_id=mechanic.pk, starts_at=slots[0].start
    )
    services.reservation_confirm(reservation_id=reservation.pk, customer=customer)

    page = open_page(customer)
    page.goto("/booking/sessions/")
    page.locator(f"#session-{reservation.session_id}").get_by_role(
        "link", name="Reschedule"
    ).click()
    expect(page.locator("h1")).to_have_text("Reschedule")
    pick_day(page, page.locator("#slot-picker a.day.has-slots").last)  # latest day this month
    target = page.locator("#day-slots label.slot").nth(4)
    new_time = target.inner_text()
    target.click()
    page.get_by_role("button", name="Move to this time").click()

    expect(page.locator("#flash")).to_contain_text("Moved to")
    expect(page.locator("#flash")).to_contain_text(new_time)
    session = Session.objects.get(pk=reservation.session_id)
    assert session.reschedule_count == 1 and session.scheduled_for != slots[0].start
    assert session.reservations.filter(status=ReservationStatus.CONFIRMED).count() == 1
