"""The analytics pages in chromium at a phone (390×844) and a desktop (1280×800) size:
the charts are drawn (SVG with a size), each chart's table carries the numbers of a small
history built here, a mechanic sees only their own figures, and nothing scrolls sideways.

Real clock and live server: the history derives from one `now`. Ada and Bo each have one
advance booking made 3 days ago for 2 days ago (lead 1 day: the "1–3 days" bucket), 45
and 30 minutes long; Ada also has a start-now request paid 1 day ago (not an advance
booking, so not in the lead-time table).
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from autodoctor.accounts.models import Role
from tests.analytics.conftest import booking
from tests.factories import MechanicFactory, UserFactory, weekly_hours

from .helpers import VIEWPORTS, box

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

sizes = pytest.mark.parametrize(("size", "viewport"), VIEWPORTS, ids=[v[0] for v in VIEWPORTS])


@pytest.fixture
def history():
    now = timezone.now()
    ada = MechanicFactory(user__full_name="Ada Visible")
    bo = MechanicFactory(user__full_name="Bo Elsewhere")
    for mechanic, minutes in ((ada, 45), (bo, 30)):
        weekly_hours(mechanic, days=range(7), start=0, end=24 * 60)
        booking(
            mechanic,
            created=now - timedelta(days=3),
            scheduled_for=now - timedelta(days=2),
            minutes=minutes,
        )
    day_ago = now - timedelta(days=1)
    booking(ada, created=day_ago, offered_at=day_ago, status="completed")
    return {"ada": ada, "bo": bo}


def no_sideways_scroll(page, viewport) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]


def row_cells(page, section: str, header: str) -> list[str]:
    """The texts of the cells of the row headed `header` in the section with id `section`."""
    row = page.locator(f"#{section} tr", has=page.locator("th", has_text=header)).first
    expect(row).to_be_visible()
    return [text.strip() for text in row.locator("td").all_inner_texts()]


def charts_drawn(page, section: str) -> None:
    """Every bar chart of the section is an SVG laid out with a non-zero size."""
    charts = page.locator(f"#{section} svg.bar")
    assert charts.count() > 0, section
    for index in range(charts.count()):
        size = box(charts.nth(index))
        assert size["width"] > 0 and size["height"] > 0, (section, index, size)


@sizes
def test_an_admin_sees_the_charts_and_their_numbers(open_page, history, size, viewport):
    admin = UserFactory(role=Role.ADMIN, is_staff=True)
    page = open_page(admin, viewport=viewport)
    page.goto("/analytics/?days=7")
    expect(page.get_by_role("heading", name="Platform analytics")).to_be_visible()

    charts_drawn(page, "utilization")
    charts_drawn(page, "lead-time")
    # Utilization per mechanic: the booked minutes of each one's reservation.
    assert row_cells(page, "utilization", "Ada Visible")[0] == "45"
    assert row_cells(page, "utilization", "Bo Elsewhere")[0] == "30"
    # Lead time: both advance bookings were made a day ahead.
    assert row_cells(page, "lead-time", "1–3 days")[0] == "2"
    assert row_cells(page, "lead-time", "< 2 h")[0] == "0"
    expect(page.locator("#lead-time")).to_contain_text("2 advance bookings")
    # Advance vs start-now: 2 advance, 1 start-now.
    expect(page.locator("#booking-mix")).to_contain_text("2 advance, 1 start-now")
    # The heatmaps are tables with a caption and a cell per hour.
    heatmaps = page.locator("#peak-times table.heatmap")
    assert heatmaps.count() == 2
    expect(heatmaps.first.locator("caption")).to_be_visible()
    no_sideways_scroll(page, viewport)


@sizes
def test_a_mechanic_sees_their_own_numbers_only(open_page, history, size, viewport):
    page = open_page(history["ada"].user, viewport=viewport)
    page.goto("/analytics/mine/?days=7")
    expect(page.get_by_role("heading", name="My numbers")).to_be_visible()

    expect(page.locator("#utilization")).to_contain_text("45 booked of")
    charts_drawn(page, "lead-time")
    assert row_cells(page, "lead-time", "1–3 days")[0] == "1"
    expect(page.locator("#booking-mix")).to_contain_text("1 advance, 1 start-now")
    expect(page.locator("main")).not_to_contain_text("Bo Elsewhere")
    no_sideways_scroll(page, viewport)


@sizes
def test_an_admin_reads_the_compliance_rules_and_the_one_that_broke(
    open_page, history, size, viewport
):
    """Ada's start-now session of yesterday has her as its mechanic but no offer she
    accepted (the history is hand-built): the page says so; every other rule holds."""
    admin = UserFactory(role=Role.ADMIN, is_staff=True)
    page = open_page(admin, viewport=viewport)
    page.goto("/analytics/")
    page.get_by_role("link", name="Contractor-law compliance").click()
    expect(page.get_by_role("heading", name="Contractor-law compliance")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("A rule did not hold")
    assert row_cells(page, "compliance", "without accepting it") == [
        "1 start-now sessions with a mechanic; 1 without that mechanic’s acceptance.",
        "No",
    ]
    assert row_cells(page, "compliance", "pay goes to their workshop")[-1] == "Yes"
    assert row_cells(page, "compliance", "their own hours")[-1] == "Yes"
    for cell in page.locator("#compliance td").all():
        size_of = box(cell)
        assert size_of["width"] > 0 and size_of["height"] > 0
    no_sideways_scroll(page, viewport)
