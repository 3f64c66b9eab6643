"""axe-core (from the npm package ./dev unpacks into var/axe-core/, never a CDN) run in
chromium on the main pages at phone size; no serious or critical finding is allowed.
The same pages must not scroll sideways at 360 px."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from tests.factories import CustomerFactory, MechanicFactory, VehicleFactory, weekly_hours

from .helpers import book, first_slot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parents[2] / "var" / "axe-core" / "axe.min.js"
NARROW = {"width": 360, "height": 800}


def serious_findings(page) -> list[str]:
    page.add_script_tag(content=AXE.read_text())
    result = page.evaluate(
        "async () => JSON.stringify(await axe.run(document, {resultTypes: ['violations']}))"
    )
    return [
        f"{page.url}: {v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in json.loads(result)["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.fixture
def people():
    now = timezone.now()
    profile = CustomerFactory(user__full_name="Casey Driver")
    VehicleFactory(customer=profile)
    mechanic = MechanicFactory(is_online=True, user__full_name="Vera Ortiz")
    weekly_hours(mechanic, days=range(7), start=0, end=24 * 60)
    start = first_slot(mechanic, after=now + timedelta(days=1), minutes=15, now=now)
    session = book(profile.user, mechanic, start=start, now=now)
    return profile.user, mechanic, session


def test_main_pages_have_no_serious_accessibility_findings(open_page, people):
    if not AXE.exists():
        pytest.skip("axe-core is not unpacked (./dev test fetches it into var/axe-core/)")
    customer, mechanic, session = people
    findings = []
    page = open_page(customer, viewport=NARROW, bypass_csp=True)
    for path in (
        "/",
        "/booking/new/vehicle/",
        f"/booking/sessions/{session.pk}/confirmed/",
        "/booking/sessions/",
        f"/booking/sessions/{session.pk}/room/",
        f"/booking/sessions/{session.pk}/cancel/",
    ):
        page.goto(path)
        findings += serious_findings(page)
        assert page.evaluate("document.documentElement.scrollWidth") <= NARROW["width"], path
    page = open_page(mechanic.user, viewport=NARROW, bypass_csp=True)
    for path in (
        "/",
        "/booking/calendar/?view=week",
        "/booking/calendar/?view=month",
        "/booking/offers/",
        "/availability/",
    ):
        page.goto(path)
        findings += serious_findings(page)
        assert page.evaluate("document.documentElement.scrollWidth") <= NARROW["width"], path
    assert findings == [], "\n".join(findings)
