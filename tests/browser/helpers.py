"""Data setup shared by the browser tests: book through the real services, the way the
pages do, so each test starts where a person would be."""

from datetime import datetime, timedelta

from autodoctor.accounts.models import Role
from autodoctor.availability import service as availability
from autodoctor.booking import services
from autodoctor.booking.models import Session
from autodoctor.payments.services import checkout, credits
from tests.factories import UserFactory

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
VIEWPORTS = [("desktop", DESKTOP), ("phone", PHONE)]


def first_slot(mechanic, *, after: datetime, minutes: int, now: datetime) -> datetime:
    slots = availability.available_slots(
        mechanic, after, after + timedelta(days=2), timedelta(minutes=minutes), now=now
    )
    return slots[0].start


def grant_credits(customer, cents: int) -> None:
    admin = UserFactory(role=Role.ADMIN, is_staff=True)
    credits.credits_grant(customer=customer, amount_cents=cents, note="test", granted_by=admin)


def book(customer, mechanic, *, start: datetime, plan: str = "free", now: datetime) -> Session:
    """A confirmed scheduled session, paid the way the checkout pays (waiver or credits)."""
    intake = services.intake_validate(
        customer=customer, plan=plan, concern="Grinding noise when braking at low speed"
    )
    hold = services.reservation_hold(
        customer=customer, intake=intake, mechanic_id=mechanic.pk, starts_at=start, now=now
    )
    if intake.plan.is_free:
        checkout.payment_with_waiver(
            customer=customer, accepted=True, reservation_id=hold.pk, now=now
        )
    else:
        from autodoctor.payments.tax import customer_tax_quote

        price = customer_tax_quote(customer, intake.plan.price_cents, now=now)
        grant_credits(customer, price.total_cents)
        checkout.payment_with_credits(customer=customer, reservation_id=hold.pk, now=now)
    return Session.objects.get(pk=hold.session_id)


def pick_day(page, day_link) -> None:
    """Click a day in the month calendar and wait until htmx has swapped in its times."""
    from playwright.sync_api import expect

    day = day_link.get_attribute("data-day")
    page.eval_on_selector("#slot-picker", "picker => { picker.dataset.stale = '1'; }")
    day_link.click()
    expect(page.locator("#slot-picker[data-stale]")).to_have_count(0)
    expect(page.locator(f'#slot-picker a.day.selected[data-day="{day}"]')).to_be_visible()


def next_day(page) -> None:
    """Press the slot wall's "Next day" arrow and wait until htmx has swapped the day in."""
    from playwright.sync_api import expect

    page.eval_on_selector("#slot-picker", "picker => { picker.dataset.stale = '1'; }")
    page.get_by_role("link", name="Next day").click()
    expect(page.locator("#slot-picker[data-stale]")).to_have_count(0)


def box(locator) -> dict:
    found = locator.bounding_box()
    assert found is not None, "element is not rendered"
    return found
