"""The waitlist's pages and API through the test client: "Join the waitlist" on a day
without times, My waitlist (leave), the claim page on to checkout, /api/waitlist.
The clock is frozen at NOW (Monday 30 Nov 2026, 07:00 in Toronto)."""

from datetime import timedelta

import pytest
import time_machine

from autodoctor.booking import services, waitlist
from autodoctor.booking.models import Reservation, WaitlistEntry, WaitlistStatus
from tests.factories import CustomerFactory, MechanicFactory, VehicleFactory, weekly_hours

from .conftest import NOW, SLOT

pytestmark = pytest.mark.django_db

WIZARD = "/booking/new/"


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def busy_mechanic(db, hold):
    """Free only 10:00–10:30 Toronto, and SLOT (Tuesday's) taken by someone else."""
    mechanic = MechanicFactory()
    weekly_hours(mechanic, days=[2], start=10 * 60, end=10 * 60 + 30)  # Tuesdays
    other = CustomerFactory()
    VehicleFactory(customer=other)
    taken = hold(other.user, mechanic)
    return mechanic, taken, other.user


def body(response) -> str:
    return response.content.decode()


def start_wizard(client, customer, mechanic):
    vehicle = customer.customer_profile.vehicles.get()
    client.get(f"/booking/?mechanic={mechanic.pk}")
    assert client.post(f"{WIZARD}vehicle/", {"vehicle": vehicle.pk}).status_code == 302
    plan = {"plan": "advice", "session_type": "video"}
    assert client.post(f"{WIZARD}plan/", plan).status_code == 302


def test_a_day_without_times_offers_the_waitlist_and_joining_lists_it(
    login, booking_customer, busy_mechanic
):
    mechanic, _taken, _other = busy_mechanic
    client = login(booking_customer)
    start_wizard(client, booking_customer, mechanic)
    page = body(client.get(f"{WIZARD}when/?mode=scheduled&month=2026-12&day=2026-12-01"))
    assert "No free times on this day." in page
    assert "Join the waitlist" in page and "/booking/waitlist/join/?day=2026-12-01" in page

    form = body(client.get("/booking/waitlist/join/?day=2026-12-01"))
    assert 'value="2026-12-01"' in form and 'value="2026-12-07"' in form
    assert "Any mechanic" in form and "10 minutes" in form
    response = client.post(
        "/booking/waitlist/join/",
        {
            "mechanic": str(mechanic.pk),
            "first_day": "2026-12-01",
            "last_day": "2026-12-01",
            "concern": "Grinding noise when braking at low speed",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/booking/waitlist/"
    entry = WaitlistEntry.objects.get(customer=booking_customer)
    assert (entry.mechanic, entry.plan.code, entry.status) == (mechanic, "advice", "waiting")
    mine = body(client.get("/booking/waitlist/"))
    assert "Tue 1 Dec" in mine and str(mechanic) in mine and "Waiting" in mine
    assert f"/booking/waitlist/{entry.pk}/leave/" in mine


def test_the_join_form_says_what_is_wrong_with_the_range(login, booking_customer, busy_mechanic):
    mechanic, _taken, _other = busy_mechanic
    client = login(booking_customer)
    start_wizard(client, booking_customer, mechanic)
    response = client.post(
        "/booking/waitlist/join/",
        {
            "mechanic": "any",
            "first_day": "2026-12-01",
            "last_day": "2027-03-01",
            "concern": "Grinding noise when braking at low speed",
        },
    )
    assert response.status_code == 422
    assert "Wait for at most 60 days at once." in body(response)
    assert not WaitlistEntry.objects.exists()


def test_the_claim_page_shows_the_held_time_and_leads_to_checkout(
    login, booking_customer, busy_mechanic, intake
):
    mechanic, taken, other = busy_mechanic
    entry = waitlist.waitlist_join(
        customer=booking_customer,
        intake=intake(booking_customer),
        mechanic_id=mechanic.pk,
        first_day=SLOT.date(),
        last_day=SLOT.date(),
        now=NOW,
    )
    services.reservation_release(reservation_id=taken.pk, customer=other, now=NOW)
    assert waitlist.waitlist_offer_next(now=NOW) == 1
    entry.refresh_from_db()
    hold = Reservation.objects.get(session_id=entry.claim_session_id)
    client = login(booking_customer)
    page = body(client.get(f"/booking/waitlist/claims/{entry.claim_session_id}/"))
    assert "A time is held for you" in page and "Tue 1 Dec 2026, 10:00" in page
    assert f'href="/payments/checkout/{hold.pk}/"' in page
    assert "Continue to checkout" in page
    mine = body(client.get("/booking/waitlist/"))
    assert "See the time" in mine
    # Leaving from the claim page releases the time.
    response = client.post(f"/booking/waitlist/{entry.pk}/leave/")
    assert response.status_code == 302
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.LEFT
    gone = body(client.get(f"/booking/waitlist/claims/{entry.claim_session_id}/"))
    assert "This time is no longer held" in gone
    # Another customer's claim is not theirs to see.
    assert (
        login(other).get(f"/booking/waitlist/claims/{entry.claim_session_id}/").status_code == 404
    )


def test_the_api_joins_lists_and_leaves(login, booking_customer, busy_mechanic):
    mechanic, _taken, _other = busy_mechanic
    client = login(booking_customer)
    created = client.post(
        "/api/waitlist",
        {
            "plan": "advice",
            "concern": "Grinding noise when braking at low speed",
            "mechanic_id": mechanic.pk,
            "first_day": "2026-12-01",
            "last_day": "2026-12-10",
        },
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    entry = created.json()
    assert entry["status"] == "waiting" and entry["mechanic_id"] == mechanic.pk
    assert entry["plan"] == "advice" and entry["reservation_id"] is None
    listed = client.get("/api/waitlist").json()
    assert [row["id"] for row in listed] == [entry["id"]]
    left = client.delete(f"/api/waitlist/{entry['id']}")
    assert left.status_code == 200 and left.json()["status"] == "left"
    again = client.post(
        "/api/waitlist",
        {
            "plan": "advice",
            "concern": "Grinding noise when braking at low speed",
            "first_day": "2026-12-01",
            "last_day": "2027-03-01",
        },
        content_type="application/json",
    )
    assert again.status_code == 422
    assert again.json()["code"] and "60 days" in again.json()["detail"]


def test_the_api_refuses_another_customers_entry(login, booking_customer, busy_mechanic, intake):
    _mechanic, _taken, other = busy_mechanic
    entry = waitlist.waitlist_join(
        customer=booking_customer,
        intake=intake(booking_customer),
        mechanic_id=None,
        first_day=SLOT.date(),
        last_day=SLOT.date() + timedelta(days=1),
        now=NOW,
    )
    response = login(other).delete(f"/api/waitlist/{entry.pk}")
    assert response.status_code == 404
    assert login(other).get("/api/waitlist").json() == []
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.WAITING
