"""What a customer, a mechanic and an admin do, end to end in chromium, each at a desktop
(1280×800) and a phone (390×844) size, asserting what a person sees: text, visibility
and the size of what they tap.

- customer, start now: wizard → card checkout (simulated provider) → waiting page →
  "<name> accepted — join now" → room → Join → live with the video link;
- customer, scheduled: wizard → credits → "You're booked" → add to calendar (.ics, Google,
  Outlook) → reschedule → cancel with the refund shown, and that refund is what happens;
- mechanic: a mistake in the hours shows next to the field, then the fix; accept an offer
  (it says what it pays); join the room; end the session there;
- admin: drag a session to a new time on the hour grid (desktop); the keyboard "Move…"
  link to the reschedule page (phone).

Real clock and live server; dates derive from one `now`. Vera works 00:00–24:00 Sunday
to Friday (Saturday is free for the hours edit), so the pages find times at any hour.
"""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from autodoctor.accounts.models import Role
from autodoctor.booking import room, services
from autodoctor.booking.models import Offer, OfferKind, Session, SessionStatus
from autodoctor.payments import selectors as payment_selectors
from tests.factories import (
    CustomerFactory,
    MechanicFactory,
    UserFactory,
    VehicleFactory,
    start_now_published,
    weekly_hours,
)

from .helpers import VIEWPORTS, book, box, first_slot, grant_credits, next_day, pick_day

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

sizes = pytest.mark.parametrize(("size", "viewport"), VIEWPORTS, ids=[v[0] for v in VIEWPORTS])


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
    mechanic = MechanicFactory(is_online=True, rating="4.8", user__full_name="Vera Ortiz")
    weekly_hours(mechanic, days=range(6), start=0, end=24 * 60)
    return mechanic


def tap_size(locator) -> None:
    """What a person taps is at least 44 px tall (plan §10.1)."""
    expect(locator).to_be_visible()
    assert box(locator)["height"] >= 44, locator


def no_sideways_scroll(page, viewport) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]


def open_menu(page, viewport) -> None:
    if viewport["width"] < 1100:
        page.get_by_role("button", name="Menu").click()


def wizard_start(page) -> None:
    page.goto("/booking/")
    tap_size(page.get_by_role("button", name="Continue"))
    page.get_by_role("button", name="Continue").click()  # the saved vehicle


@sizes
def test_customer_starts_now_is_accepted_and_joins(
    open_page, customer, mechanic, settings, live_server, size, viewport
):
    settings.SIMULATED_PAYMENTS_ALLOWED = True  # the offline card provider
    settings.STRIPE_SECRET_KEY = ""
    settings.SITE_URL = live_server.url
    page = open_page(customer, viewport=viewport)
    wizard_start(page)
    page.click("text=Quick question")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_label("Start now")).to_be_checked()  # the default
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("main")).to_contain_text("Vera Ortiz")
    expect(page.locator("main")).to_contain_text("Why: Online now")
    page.get_by_role("button", name="Continue").click()
    page.fill("textarea[name=concern]", "Check engine light came on this morning")
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Start session now").click()
    expect(page.locator("h1")).to_have_text("Confirm and pay")
    page.get_by_role("button", name="Pay $16.94 CAD by card").click()  # 14.99 + 13 % HST
    page.get_by_role("button", name="Pay", exact=True).click()
    expect(page.locator("h1")).to_have_text("Finding your mechanic")
    tap_size(page.get_by_role("button", name="Stop waiting and cancel"))
    no_sideways_scroll(page, viewport)

    session = Session.objects.get(customer=customer)
    offer = Offer.objects.get(session=session, kind=OfferKind.TARGETED, mechanic=mechanic)
    services.offer_accept(offer_id=offer.pk, mechanic=mechanic)
    expect(page.locator("h1")).to_have_text("Vera Ortiz accepted — join now", timeout=12_000)
    expect(page.get_by_role("button", name="Stop waiting and cancel")).to_have_count(0)
    page.get_by_role("link", name="Join now").click()

    expect(page.locator("h1")).to_have_text("Session room")
    join = page.get_by_role("button", name="Join", exact=True)
    tap_size(join)
    join.click()
    expect(page.locator("#flash")).to_contain_text("goes live when the other side joins")
    expect(page.locator("#room-status")).to_contain_text("You are in the room")
    room.session_join(session_id=session.pk, user=mechanic.user)  # Vera joins too
    expect(page.locator("#room-status")).to_contain_text("The session is live", timeout=12_000)
    video = page.get_by_role("link", name="Open the video / chat")
    tap_size(video)
    assert video.get_attribute("href") == f"/booking/sessions/{session.pk}/room/call/"
    expect(page.locator(".room-end")).to_have_count(0)  # ending is the mechanic's
    no_sideways_scroll(page, viewport)


@sizes
def test_customer_books_adds_to_calendar_reschedules_and_cancels_with_the_refund_shown(
    open_page, customer, mechanic, size, viewport
):
    grant_credits(customer, 3389)  # 29.99 + 13 % HST
    page = open_page(customer, viewport=viewport)
    wizard_start(page)
    page.click("text=Advice session")
    page.get_by_role("button", name="Continue").click()
    page.click("text=Schedule for later")
    pick_day(page, page.locator("#slot-picker a.day.has-slots").nth(1))
    slot = page.locator("#day-slots details[open] label.slot").first
    tap_size(slot)
    expect(slot).to_have_text(re.compile(r"^\d\d:\d\d$"))  # the zone is said once, above
    expect(page.locator("#day-slots")).to_contain_text("America/Toronto")
    slot.click()
    page.get_by_role("button", name="Continue").click()
    page.locator("label", has_text="Vera Ortiz").first.click()
    page.get_by_role("button", name="Continue").click()
    page.fill("textarea[name=concern]", "Squeal from the front brakes when stopping")
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Hold this time").click()
    page.get_by_role("button", name="Pay $33.89 CAD with credits").click()

    expect(page.locator("h1")).to_have_text("You're booked")
    main = page.locator("main")
    expect(main).to_contain_text(re.compile(r"\d\d:\d\d E[SD]T"))
    expect(main).to_contain_text("What happens next")
    ics = main.get_by_role("link", name="Download .ics")
    tap_size(ics)
    download = page.request.get(ics.get_attribute("href"))
    assert download.status == 200 and "BEGIN:VCALENDAR" in download.text()
    session = Session.objects.get(customer=customer)
    assert f"/booking/sessions/{session.pk}/room/" in download.text().replace("\r\n ", "")
    google = main.get_by_role("link", name="Google Calendar")
    assert google.get_attribute("href").startswith("https://calendar.google.com/calendar/render?")
    assert "dates=" in google.get_attribute("href")
    outlook = main.get_by_role("link", name="Outlook")
    assert "outlook.live.com" in outlook.get_attribute("href")
    expect(main.get_by_role("link", name="Receipt")).to_be_visible()
    no_sideways_scroll(page, viewport)

    main.get_by_role("link", name="Reschedule").click()
    expect(page.locator("h1")).to_have_text("Reschedule")
    next_day(page)
    target = page.locator("#day-slots details[open] label.slot").nth(2)
    new_time = target.inner_text()
    target.click()
    page.get_by_role("button", name="Move to this time").click()
    expect(page.locator("#flash")).to_contain_text("Moved to")
    expect(page.locator("#flash")).to_contain_text(new_time)

    page.locator(f"#session-{session.pk}").get_by_role("link", name="Cancel").click()
    expect(page.locator("h1")).to_have_text("Cancel this session?")
    refund = page.locator(".refund")
    # $33.89 paid: the $29.99 plan + 13 % Ontario HST; a late cancel gives half of it back.
    expect(refund).to_have_text(re.compile(r"(100|50) % back as credits: \$(33\.89|16\.9[45]) CAD"))
    shown = refund.inner_text().split("$")[1].split(" ")[0]
    tap_size(page.get_by_role("button", name="Cancel session"))
    page.get_by_role("button", name="Cancel session").click()
    expect(page.locator("#flash")).to_contain_text("cancelled")
    session.refresh_from_db()
    assert session.status == SessionStatus.CANCELLED
    # what the page promised is what the cancellation gave back
    assert payment_selectors.credit_balance_cents(customer) == round(float(shown) * 100)


@sizes
def test_mechanic_fixes_a_mistake_in_the_hours_accepts_an_offer_joins_and_ends(
    open_page, customer, mechanic, size, viewport
):
    page = open_page(mechanic.user, viewport=viewport)
    expect(page.locator("main")).to_contain_text("still open for booking")
    open_menu(page, viewport)
    page.locator("header").get_by_role("link", name="Availability", exact=True).click()
    form = page.locator("#week form.row")
    form.get_by_label("Day").select_option(label="Saturday")
    form.get_by_label("From").fill("25:00")
    form.get_by_label("To").fill("12:00")
    form.get_by_role("button", name="Add hours").click()
    error = form.locator(".field-error")
    expect(error).to_contain_text("is not a time of day")
    expect(form.get_by_label("From")).to_have_value("25:00")  # what was typed stays
    form.get_by_label("From").fill("08:00")
    form.get_by_role("button", name="Add hours").click()
    expect(page.locator("#week")).to_contain_text("Added")
    expect(page.locator("#week tr", has_text="Saturday")).to_contain_text("08:00–12:00")
    expect(page.locator("#week .field-error")).to_have_count(0)

    intake = services.intake_validate(customer=customer, plan="quick", concern="Odd noise at idle")
    session = start_now_published(customer, intake)
    open_menu(page, viewport)
    page.locator("header").get_by_role("link", name="Offers", exact=True).click()
    card = page.locator("article.offer:has-text('Odd noise at idle')")
    expect(card).to_contain_text("You earn $10.49 CAD")
    expect(card).to_contain_text("Sent to you first because")
    tap_size(card.get_by_role("button", name="Accept"))
    card.get_by_role("button", name="Accept").click()
    expect(page.locator("#flash")).to_contain_text("Accepted. The session is yours.")
    page.get_by_role("link", name="Open the session").click()
    expect(page.locator(".session-summary .badge").first).to_have_text("Accepted · ready to join")
    page.get_by_role("link", name="Session room").click()

    room.session_join(session_id=session.pk, user=customer)  # Casey is already in
    expect(page.locator("#room-status")).to_contain_text(
        "Casey Driver is in the room", timeout=12_000
    )
    page.get_by_role("button", name="Join", exact=True).click()
    expect(page.locator("#flash")).to_contain_text("The session is live")
    end = page.locator(".room-end").get_by_role("button", name="End session")
    tap_size(end)
    end.click()
    expect(page.locator("#room-status")).to_contain_text("This session is completed")
    session.refresh_from_db()
    assert session.status == SessionStatus.COMPLETED
    no_sideways_scroll(page, viewport)


@pytest.fixture
def admin():
    return UserFactory(role=Role.ADMIN, is_staff=True, is_superuser=True, full_name="Ada Admin")


def booked_at_ten(customer, mechanic, now):
    """A session three or more days ahead, on a working day (not Saturday), at 10:00
    Toronto time (the admin's and the mechanic's zone)."""
    day = (now + timedelta(days=3)).astimezone(mechanic.user.zone).date()
    if day.weekday() == 5:
        day += timedelta(days=1)
    from autodoctor.availability.service import local_instant

    start = local_instant(day, 10 * 60, mechanic.user.time_zone)
    assert first_slot(mechanic, after=start, minutes=15, now=now) == start
    return book(customer, mechanic, start=start, now=now), day


def test_admin_drags_a_session_to_a_new_time(open_page, admin, customer, mechanic, now):
    session, day = booked_at_ten(customer, mechanic, now)
    page = open_page(admin, viewport=VIEWPORTS[0][1])
    page.locator("header").get_by_role("link", name="Schedule").click()
    page.goto(f"/booking/schedule/?mechanic={mechanic.pk}&view=week&date={day:%Y-%m-%d}")
    block = page.locator(f'.blk[data-session-id="{session.pk}"]')
    expect(block).to_contain_text("Casey Driver")
    column = page.locator(f'.hour-col[data-day="{day:%Y-%m-%d}"] .hour-body')
    # 14:00 is 14 × 48 px down the grid; grab the block by its top edge.
    block.drag_to(column, source_position={"x": 5, "y": 1}, target_position={"x": 20, "y": 673})
    expect(page.locator("#flash")).to_contain_text(f"Session #{session.pk} moved to")
    expect(page.locator("#flash")).to_contain_text("14:00")
    session.refresh_from_db()
    assert session.scheduled_for.astimezone(mechanic.user.zone).hour == 14
    assert session.reschedule_count == 1


def test_admin_on_a_phone_moves_a_session_with_the_keyboard(
    open_page, admin, customer, mechanic, now
):
    session, day = booked_at_ten(customer, mechanic, now)
    viewport = VIEWPORTS[1][1]
    page = open_page(admin, viewport=viewport)
    page.goto(f"/booking/schedule/?mechanic={mechanic.pk}&view=day&date={day:%Y-%m-%d}")
    move = page.locator(f'.blk[data-session-id="{session.pk}"]').get_by_role("link", name="Move…")
    move.focus()
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Reschedule")
    target = page.locator("#day-slots details[open] label.slot").nth(3)
    new_time = target.inner_text()
    target.click()
    page.get_by_role("button", name="Move to this time").click()
    expect(page.locator("#flash")).to_contain_text(new_time)
    session.refresh_from_db()
    assert session.reschedule_count == 1
    no_sideways_scroll(page, viewport)
