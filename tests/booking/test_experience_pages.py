"""Issue 13 pages through the Django test client: the cancel page's refund (the
payments policy's answer), the admin's drag-and-drop move, and what the calendar and
the wizard's "When" step cost (queries stay flat as sessions grow; pages stay light).

The clock is frozen at NOW (Monday 30 Nov 2026, 07:00 in Toronto); SLOT is Tuesday
1 Dec 2026, 10:00 EST.
"""

from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from autodoctor.booking import services
from autodoctor.booking.models import Session, SessionStatus
from autodoctor.payments.selectors import credit_balance_cents
from tests.browser.helpers import grant_credits
from tests.factories import CustomerFactory, UserFactory

from .conftest import NOW, SLOT

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def body(response) -> str:
    return response.content.decode()


def paid_session(customer, mechanic, start, *, hold):
    from autodoctor.payments.services import checkout

    grant_credits(customer, 3389)  # 29.99 + 13 % HST
    reservation = hold(customer, mechanic, start=start, plan="advice")
    checkout.payment_with_credits(customer=customer, reservation_id=reservation.pk, now=NOW)
    return Session.objects.get(pk=reservation.session_id)


def test_cancelling_early_shows_and_gives_everything_back(
    login, booking_customer, available_mechanic, hold
):
    session = paid_session(
        booking_customer, available_mechanic, SLOT + timedelta(days=1), hold=hold
    )
    client = login(booking_customer)
    page = body(client.get(f"/booking/sessions/{session.pk}/cancel/"))
    assert "100 % back as credits: $33.89 CAD" in page
    client.post(f"/booking/sessions/{session.pk}/cancel/", {"reason": ""})
    assert credit_balance_cents(booking_customer) == 3389


def test_cancelling_late_shows_and_gives_half_as_credits(
    login, booking_customer, available_mechanic, hold
):
    session = paid_session(booking_customer, available_mechanic, SLOT, hold=hold)  # 27 h ahead
    client = login(booking_customer)
    with time_machine.travel(SLOT - timedelta(hours=5), tick=False):
        page = body(client.get(f"/booking/sessions/{session.pk}/cancel/"))
        assert "50 % back as credits: $16.94 CAD" in page and "Less than 24 hours" in page
        client.post(f"/booking/sessions/{session.pk}/cancel/", {"reason": ""})
    assert credit_balance_cents(booking_customer) == 1694


def test_a_mechanic_cancelling_sees_the_customer_gets_everything(
    login, booking_customer, available_mechanic, hold
):
    session = paid_session(booking_customer, available_mechanic, SLOT, hold=hold)
    page = body(login(available_mechanic.user).get(f"/booking/sessions/{session.pk}/cancel/"))
    assert "100 % back as credits: $33.89 CAD" in page and "required" in page


def test_the_cancel_page_of_someone_elses_session_is_not_found(
    login, booking_customer, available_mechanic, hold
):
    session = paid_session(booking_customer, available_mechanic, SLOT, hold=hold)
    response = login(CustomerFactory().user).get(f"/booking/sessions/{session.pk}/cancel/")
    assert response.status_code == 404


# --------------------------------------------------------------------------- admin schedule


@pytest.fixture
def admin(db):
    return UserFactory(role="admin", is_staff=True, is_superuser=True)


def test_the_admin_moves_a_session_by_day_and_minute_through_the_reschedule_service(
    login, admin, booking_customer, available_mechanic, hold
):
    session = paid_session(booking_customer, available_mechanic, SLOT, hold=hold)
    client = login(admin)
    page = body(client.get(f"/booking/schedule/?mechanic={available_mechanic.pk}&date=2026-12-01"))
    assert f'data-session-id="{session.pk}" draggable="true"' in page and "Move…" in page
    response = client.post(
        "/booking/schedule/move/",
        {"session": session.pk, "day": "2026-12-01", "minute": 14 * 60},
        follow=True,
    )
    assert f"Session #{session.pk} moved to Tue 1 Dec 2026, 14:00 EST" in body(response)
    session.refresh_from_db()
    assert session.scheduled_for == SLOT + timedelta(hours=4) and session.reschedule_count == 1


def test_a_drop_outside_the_hours_is_refused_with_the_reschedule_services_message(
    login, admin, booking_customer, available_mechanic, hold
):
    session = paid_session(booking_customer, available_mechanic, SLOT, hold=hold)
    response = login(admin).post(
        "/booking/schedule/move/",
        {"session": session.pk, "day": "2026-12-01", "minute": 20 * 60},  # after 17:00
        HTTP_REFERER="/booking/schedule/",
        follow=True,
    )
    assert "is not available then (outside their hours or time off)" in body(response)
    session.refresh_from_db()
    assert session.scheduled_for == SLOT and session.status == SessionStatus.SCHEDULED


def test_the_schedule_is_for_admins_only(login, available_mechanic, booking_customer):
    for user in (available_mechanic.user, booking_customer):
        assert login(user).get("/booking/schedule/").status_code == 404
        refused = login(user).post("/booking/schedule/move/", {}, follow=True)
        assert "No such page." in body(refused)  # a refused post: flash and back


# --------------------------------------------------------------------------- costs

STATIC = Path(__file__).resolve().parents[2] / "autodoctor" / "web" / "static" / "web"


def queries_for(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def book_many(customer, mechanic, count: int, *, hold) -> None:
    for i in range(count):
        reservation = hold(customer, mechanic, start=SLOT + timedelta(minutes=30 * i), plan="free")
        services.reservation_confirm(reservation_id=reservation.pk, customer=customer, now=NOW)


@pytest.mark.parametrize("view", ["week", "month"])
def test_the_calendar_costs_the_same_queries_for_2_or_10_sessions(
    login, available_mechanic, booking_customer, hold, view
):
    client = login(available_mechanic.user)
    url = f"/booking/calendar/?view={view}&date=2026-12-01"
    book_many(booking_customer, available_mechanic, 2, hold=hold)
    few = queries_for(client, url)
    other = CustomerFactory().user
    for i in range(8):
        reservation = hold(
            other, available_mechanic, start=SLOT + timedelta(hours=2, minutes=30 * i), plan="free"
        )
        services.reservation_confirm(reservation_id=reservation.pk, customer=other, now=NOW)
    many = queries_for(client, url)
    assert few == many, (few, many)
    assert many <= 20


def test_the_calendar_and_wizard_pages_stay_light(
    login, available_mechanic, booking_customer, hold
):
    book_many(booking_customer, available_mechanic, 6, hold=hold)
    week = login(available_mechanic.user).get("/booking/calendar/?view=week&date=2026-12-01")
    assert len(week.content) < 60_000, len(week.content)
    client = login(booking_customer)
    vehicle = booking_customer.customer_profile.vehicles.get()
    client.post("/booking/new/vehicle/", {"vehicle": vehicle.pk})
    client.post("/booking/new/plan/", {"plan": "quick", "session_type": "video"})
    with CaptureQueriesContext(connection) as captured:
        when = client.get("/booking/new/when/?mode=scheduled&day=2026-12-01")
    assert when.status_code == 200 and len(when.content) < 40_000, len(when.content)
    assert len(captured) <= 25, len(captured)
    # what every page loads besides its HTML: one stylesheet, htmx and app.js
    assets = sum((STATIC / name).stat().st_size for name in ("app.css", "app.js", "htmx.min.js"))
    assert assets < 100_000, assets
