"""Booking pages through the Django test client: each page and htmx partial renders for
its role and refuses everyone else; the wizard's journeys; My sessions; the offers inbox;
the mechanic's calendar; the session page.

The clock is frozen at NOW (Monday 30 Nov 2026, 07:00 in Toronto); SLOT is Tuesday
1 Dec 2026, 10:00 EST. Test users live in America/Toronto.
"""

from datetime import timedelta

import pytest
import time_machine
from django.test import override_settings

from autodoctor.availability.models import TimeOff, TimeOffStatus
from autodoctor.booking import services
from autodoctor.booking import views as booking_views
from autodoctor.booking.models import (
    Offer,
    OfferKind,
    OfferStatus,
    Reservation,
    ReservationStatus,
    Session,
    SessionStatus,
)
from autodoctor.booking.wizard import SESSION_KEY
from autodoctor.payments.policy import WAIVER_TEXT_VERSION
from tests.factories import CustomerFactory, MechanicFactory, start_now_published

from .conftest import NOW, SLOT, later

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
WIZARD = "/booking/new/"


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture(autouse=True)
def no_payments_checkout(monkeypatch):
    """These tests exercise the wizard's own confirm fallback (free plans); the payments
    checkout hand-over has its own test."""
    monkeypatch.setattr(booking_views, "checkout_url", lambda reservation: None)


@pytest.fixture
def customer_client(login, booking_customer):
    return login(booking_customer)


@pytest.fixture
def booked(booking_customer, available_mechanic, hold):
    """A confirmed (scheduled) free-plan session at SLOT."""
    reservation = hold(booking_customer, available_mechanic, plan="free")
    services.reservation_confirm(reservation_id=reservation.pk, customer=booking_customer, now=NOW)
    return Session.objects.get(pk=reservation.session_id)


def body(response) -> str:
    return response.content.decode()


def answer_steps(client, vehicle_id, *, plan="free", mode="now", start=None, mechanic=None):
    """Walk the wizard up to the review step; each answer must move on."""
    steps = [
        ("vehicle", {"vehicle": str(vehicle_id)}),
        ("plan", {"plan": plan, "session_type": "video"}),
        ("when", {"mode": mode, "start": start.isoformat() if start else ""}),
        ("mechanic", {"mechanic": mechanic} if mechanic else {}),
        ("concern", {"concern": "Grinding noise when braking at low speed"}),
    ]
    for step, data in steps:
        response = client.post(f"{WIZARD}{step}/", data)
        assert response.status_code == 302, (step, body(response)[:2000])


# --------------------------------------------------------------------------- access


def test_anonymous_visitors_are_sent_to_login_from_every_booking_page():
    from django.test import Client

    for url in ["/booking/", "/booking/sessions/", "/booking/offers/", "/booking/calendar/"]:
        response = Client().get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url


def test_mechanics_cannot_open_the_booking_wizard(login, available_mechanic):
    response = login(available_mechanic.user).get(f"{WIZARD}vehicle/")
    assert response.status_code == 403
    assert "This page is for customers." in body(response)


def test_customers_cannot_open_the_offers_inbox_or_the_mechanic_calendar(customer_client):
    for url in ["/booking/offers/", "/booking/calendar/"]:
        response = customer_client.get(url)
        assert response.status_code == 403, url
        assert "This page is for mechanics." in body(response)


def test_a_mechanic_cannot_open_another_mechanics_session(login, booked):
    stranger = MechanicFactory()
    response = login(stranger.user).get(f"/booking/sessions/{booked.pk}/")
    assert response.status_code == 404


def test_a_customer_cannot_open_someone_elses_session_or_hold(login, booked):
    other = login(CustomerFactory().user)
    assert other.get(f"/booking/sessions/{booked.pk}/").status_code == 404
    reservation = booked.reservations.get()
    assert other.get(f"/booking/holds/{reservation.pk}/").status_code == 404
    response = other.post(f"/booking/sessions/{booked.pk}/cancel/", {"reason": "mine now"})
    assert response.status_code == 302
    booked.refresh_from_db()
    assert booked.status == SessionStatus.SCHEDULED


# --------------------------------------------------------------------------- wizard


def test_the_wizard_starts_at_the_vehicle_step_with_the_saved_vehicle_offered(customer_client):
    response = customer_client.get("/booking/", follow=True)
    assert response.redirect_chain[-1][0] == f"{WIZARD}vehicle/"
    assert "2018 Honda Civic" in body(response)


def test_a_later_step_cannot_be_opened_before_the_earlier_ones(customer_client):
    response = customer_client.get(f"{WIZARD}review/")
    assert response["Location"] == f"{WIZARD}vehicle/"


def test_plan_cards_show_the_cad_price_and_duration(customer_client, booking_customer):
    vehicle = booking_customer.customer_profile.vehicles.get()
    customer_client.post(f"{WIZARD}vehicle/", {"vehicle": vehicle.pk})
    page = body(customer_client.get(f"{WIZARD}plan/"))
    assert "$29.99 CAD" in page and "30 minutes" in page
    assert "Free" in page and "60 minutes" in page


def test_when_step_defaults_to_start_now(customer_client, booking_customer):
    vehicle = booking_customer.customer_profile.vehicles.get()
    customer_client.post(f"{WIZARD}vehicle/", {"vehicle": vehicle.pk})
    customer_client.post(f"{WIZARD}plan/", {"plan": "free", "session_type": "video"})
    page = body(customer_client.get(f"{WIZARD}when/"))
    assert 'value="now" checked' in page
    assert 'id="slot-picker"' not in page  # the calendar appears only when asked for


def test_immediate_booking_is_confirmed_at_checkout_then_waits_on_a_page_that_polls(
    customer_client, booking_customer, available_mechanic
):
    vehicle = booking_customer.customer_profile.vehicles.get()
    answer_steps(customer_client, vehicle.pk)
    review = body(customer_client.get(f"{WIZARD}review/"))
    assert "Start session now" in review and "2018 Honda Civic" in review
    response = customer_client.post(f"{WIZARD}review/")
    session = Session.objects.get(customer=booking_customer)
    # Not offered to anyone until the (free) plan's waiver is accepted at checkout.
    assert response["Location"] == f"/payments/start/{session.pk}/"
    assert session.status == SessionStatus.PENDING and session.scheduled_for is None
    assert session.awaiting_payment and not session.offers.exists()
    assert customer_client.session.get(SESSION_KEY) is None  # the wizard is done
    unpaid = body(customer_client.get(f"/booking/sessions/{session.pk}/waiting/"))
    assert f'href="/payments/start/{session.pk}/"' in unpaid
    assert 'hx-trigger="every 5s"' not in unpaid  # nothing to wait for yet
    mine = body(customer_client.get("/booking/sessions/"))
    assert "Not sent out yet (waiver needed)" in mine and "Confirm to send it out" in mine

    checkout = body(customer_client.get(response["Location"]))
    assert "When:</strong> now" in checkout and 'name="waiver_accepted"' in checkout
    accepted = customer_client.post(
        f"/payments/start/{session.pk}/waiver/",
        {"waiver_accepted": "yes", "waiver_version": WAIVER_TEXT_VERSION},
    )
    assert accepted["Location"] == f"/booking/sessions/{session.pk}/waiting/"
    assert session.offers.filter(kind=OfferKind.TARGETED, mechanic=available_mechanic).exists()

    waiting = body(customer_client.get(accepted["Location"]))
    assert 'hx-trigger="every 5s"' in waiting
    assert "If nobody takes it within 30 minutes we close it." in waiting  # free: no refund
    assert "Not sent out yet" not in body(customer_client.get("/booking/sessions/"))
    partial = body(customer_client.get(accepted["Location"], **HTMX))
    assert "<html" not in partial and 'id="waiting-status"' in partial


def test_the_waiting_page_shows_the_mechanic_once_one_accepts(
    customer_client, booking_customer, available_mechanic, intake
):
    session = start_now_published(booking_customer, intake(booking_customer))
    offer = session.offers.get(mechanic=available_mechanic)
    services.offer_accept(offer_id=offer.pk, mechanic=available_mechanic)
    partial = body(customer_client.get(f"/booking/sessions/{session.pk}/waiting/", **HTMX))
    assert f"{available_mechanic} accepted — join now" in partial and "/room/" in partial
    assert "every 5s" not in partial  # polling stops


def test_scheduled_booking_with_a_free_plan_goes_through_to_the_confirmation(
    customer_client, booking_customer, available_mechanic
):
    vehicle = booking_customer.customer_profile.vehicles.get()
    customer_client.post(f"{WIZARD}vehicle/", {"vehicle": vehicle.pk})
    customer_client.post(f"{WIZARD}plan/", {"plan": "free", "session_type": "video"})

    calendar = body(
        customer_client.get(f"{WIZARD}when/?mode=scheduled&month=2026-12&day=2026-12-01")
    )
    assert "December 2026" in calendar and "32 free" in calendar
    assert "<span>10:00</span>" in calendar and "America/Toronto (EST)" in calendar
    assert "Morning" in calendar and "Afternoon" in calendar  # the slot wall's groups
    assert f'value="{SLOT.isoformat()}"' in calendar

    response = customer_client.post(
        f"{WIZARD}when/", {"mode": "scheduled", "start": SLOT.isoformat()}
    )
    assert response["Location"] == f"{WIZARD}mechanic/"
    page = body(customer_client.get(f"{WIZARD}mechanic/"))
    assert str(available_mechanic) in page
    assert "Honda specialist" in page  # the score's reasons in plain words
    assert "Next free slot" not in page  # a time is chosen: everyone listed is free then
    assert "We book the best match free at 10:00 EST" in page

    customer_client.post(f"{WIZARD}mechanic/", {"mechanic": str(available_mechanic.pk)})
    customer_client.post(f"{WIZARD}concern/", {"concern": "Grinding noise when braking"})
    review = body(customer_client.get(f"{WIZARD}review/"))
    assert "Tue 1 Dec 2026, 10:00 EST" in review and "Hold this time" in review

    response = customer_client.post(f"{WIZARD}review/")
    reservation = Reservation.objects.get(session__customer=booking_customer)
    assert reservation.status == ReservationStatus.RESERVED and reservation.starts_at == SLOT
    assert response["Location"] == f"/booking/holds/{reservation.pk}/"
    hold_page = body(customer_client.get(response["Location"]))
    assert "Held until 07:15 EST" in hold_page  # the JS-free countdown text
    assert 'data-expires="2026-11-30T12:15:00+00:00"' in hold_page

    response = customer_client.post(
        f"/booking/holds/{reservation.pk}/confirm/", {"waiver_accepted": "yes"}, follow=True
    )
    assert (
        response.redirect_chain[-1][0] == f"/booking/sessions/{reservation.session_id}/confirmed/"
    )
    page = body(response)
    assert "You're booked" in page and "Tue 1 Dec 2026, 10:00 EST" in page
    reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.CONFIRMED
    assert reservation.session.status == SessionStatus.SCHEDULED


def test_any_mechanic_holds_the_best_match_free_at_the_chosen_time(
    customer_client, booking_customer, available_mechanic
):
    vehicle = booking_customer.customer_profile.vehicles.get()
    answer_steps(customer_client, vehicle.pk, mode="scheduled", start=SLOT, mechanic="any")
    review = body(customer_client.get(f"{WIZARD}review/"))
    assert "Tue 1 Dec 2026, 10:00 EST" in review and "the best match free then" in review
    customer_client.post(f"{WIZARD}review/")
    reservation = Reservation.objects.get(session__customer=booking_customer)
    assert reservation.mechanic == available_mechanic and reservation.starts_at == SLOT


def test_the_hold_goes_to_the_payments_checkout_once_it_exists(
    customer_client, booking_customer, available_mechanic, monkeypatch
):
    monkeypatch.setattr(booking_views, "checkout_url", lambda r: f"/payments/checkout/{r.pk}/")
    vehicle = booking_customer.customer_profile.vehicles.get()
    answer_steps(
        customer_client,
        vehicle.pk,
        plan="advice",
        mode="scheduled",
        start=SLOT,
        mechanic=str(available_mechanic.pk),
    )
    response = customer_client.post(f"{WIZARD}review/")
    reservation = Reservation.objects.get(session__customer=booking_customer)
    assert response["Location"] == f"/payments/checkout/{reservation.pk}/"


def test_the_htmx_calendar_panel_switches_months_and_days(customer_client, booking_customer):
    vehicle = booking_customer.customer_profile.vehicles.get()
    customer_client.post(f"{WIZARD}vehicle/", {"vehicle": vehicle.pk})
    customer_client.post(f"{WIZARD}plan/", {"plan": "advice", "session_type": "video"})
    MechanicFactory()  # no hours: contributes nothing
    from tests.factories import weekly_hours

    weekly_hours(MechanicFactory(), days=[2])  # Tuesdays 09:00–17:00
    panel = body(customer_client.get("/booking/new/slots/?month=2026-12&day=2026-12-01", **HTMX))
    assert "<html" not in panel and 'id="slot-picker"' in panel
    assert "Tuesday 1 December 2026" in panel and "<span>09:00</span>" in panel
    assert "America/Toronto (EST)" in panel  # the zone, said once for the day
    assert body(customer_client.get("/booking/new/slots/?mode=now", **HTMX)) == ""


def test_a_short_concern_is_refused_next_to_the_field_and_nothing_is_written(
    customer_client, booking_customer
):
    vehicle = booking_customer.customer_profile.vehicles.get()
    customer_client.post(f"{WIZARD}vehicle/", {"vehicle": vehicle.pk})
    customer_client.post(f"{WIZARD}plan/", {"plan": "advice", "session_type": "video"})
    customer_client.post(f"{WIZARD}when/", {"mode": "now"})
    customer_client.post(f"{WIZARD}mechanic/", {})
    response = customer_client.post(f"{WIZARD}concern/", {"concern": "noise"})
    assert response.status_code == 422
    assert "Describe the problem in at least 10 characters." in body(response)
    assert 'class="errorlist"' in body(response)
    assert Session.objects.count() == 0
    assert "concern" not in customer_client.session[SESSION_KEY]["done"]


def test_urgent_accepts_a_five_character_concern(customer_client, booking_customer):
    vehicle = booking_customer.customer_profile.vehicles.get()
    customer_client.post(f"{WIZARD}vehicle/", {"vehicle": vehicle.pk})
    customer_client.post(f"{WIZARD}plan/", {"plan": "urgent", "session_type": "video"})
    customer_client.post(f"{WIZARD}when/", {"mode": "now"})
    customer_client.post(f"{WIZARD}mechanic/", {})
    assert "at least 5 characters" in body(customer_client.get(f"{WIZARD}concern/"))
    response = customer_client.post(f"{WIZARD}concern/", {"concern": "smoke"})
    assert response.status_code == 302


def test_another_vehicle_needs_year_make_and_model(customer_client):
    response = customer_client.post(f"{WIZARD}vehicle/", {"vehicle": "new", "year": "2019"})
    assert response.status_code == 422
    assert body(response).count("Needed for another vehicle.") == 2
    assert SESSION_KEY not in customer_client.session


def test_a_typed_vehicle_is_kept_as_year_make_model(customer_client):
    customer_client.post(
        f"{WIZARD}vehicle/", {"vehicle": "new", "year": "2019", "make": "Toyota", "model": "RAV4"}
    )
    state = customer_client.session[SESSION_KEY]
    assert state["vehicle_label"] == "2019 Toyota RAV4" and state["brand"] == "Toyota"


def test_schedule_for_later_without_a_time_asks_for_one(customer_client, booking_customer):
    vehicle = booking_customer.customer_profile.vehicles.get()
    customer_client.post(f"{WIZARD}vehicle/", {"vehicle": vehicle.pk})
    customer_client.post(f"{WIZARD}plan/", {"plan": "free", "session_type": "video"})
    response = customer_client.post(f"{WIZARD}when/", {"mode": "scheduled"})
    assert response.status_code == 422
    assert "Pick a day, then one of its free times." in body(response)
    assert 'id="slot-picker"' in body(response)


def test_answers_survive_a_refresh_and_the_back_button(customer_client, booking_customer):
    vehicle = booking_customer.customer_profile.vehicles.get()
    answer_steps(customer_client, vehicle.pk, plan="premium")
    page = body(customer_client.get(f"{WIZARD}plan/"))  # "back" to the plan step
    assert 'value="premium" checked' in page
    concern = body(customer_client.get(f"{WIZARD}concern/"))
    assert "Grinding noise when braking at low speed" in concern


def test_changing_the_plan_forgets_the_chosen_time(
    customer_client, booking_customer, available_mechanic
):
    vehicle = booking_customer.customer_profile.vehicles.get()
    answer_steps(
        customer_client,
        vehicle.pk,
        mode="scheduled",
        start=SLOT,
        mechanic=str(available_mechanic.pk),
    )
    customer_client.post(f"{WIZARD}plan/", {"plan": "premium", "session_type": "video"})
    state = customer_client.session[SESSION_KEY]
    assert state["start"] == "" and state["mechanic"] == ""
    assert customer_client.get(f"{WIZARD}review/")["Location"] == f"{WIZARD}when/"


def test_a_slot_taken_meanwhile_sends_the_customer_back_to_the_calendar(
    customer_client, booking_customer, available_mechanic, hold
):
    vehicle = booking_customer.customer_profile.vehicles.get()
    answer_steps(
        customer_client,
        vehicle.pk,
        mode="scheduled",
        start=SLOT,
        mechanic=str(available_mechanic.pk),
    )
    rival = CustomerFactory().user
    hold(rival, available_mechanic, plan="free")
    response = customer_client.post(f"{WIZARD}review/", follow=True)
    assert response.redirect_chain[-1][0] == f"{WIZARD}when/"
    page = body(response)
    assert "That slot was just taken" in page and "Next free:" in page and "EST" in page
    assert not Session.objects.filter(customer=booking_customer).exists()


def test_releasing_a_hold_frees_the_time(
    customer_client, booking_customer, available_mechanic, hold
):
    reservation = hold(booking_customer, available_mechanic, plan="free")
    customer_client.post(f"/booking/holds/{reservation.pk}/release/")
    reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.RELEASED


def test_an_expired_hold_says_so(customer_client, booking_customer, available_mechanic, hold):
    reservation = hold(booking_customer, available_mechanic, plan="free")
    with time_machine.travel(later(16), tick=False):
        page = body(customer_client.get(f"/booking/holds/{reservation.pk}/"))
    assert "Your hold has expired" in page


# --------------------------------------------------------------------------- my sessions


def test_my_sessions_lists_upcoming_with_zone_and_badge_and_past(
    customer_client, booking_customer, available_mechanic, booked, hold
):
    pending_hold = hold(booking_customer, available_mechanic, start=SLOT + timedelta(hours=2))
    gone = hold(booking_customer, available_mechanic, start=SLOT + timedelta(days=1))
    services.reservation_release(reservation_id=gone.pk, customer=booking_customer)
    page = body(customer_client.get("/booking/sessions/"))
    upcoming, past = page.split("<h2>Past</h2>")
    assert "Tue 1 Dec 2026, 10:00 EST" in upcoming and 'badge ok">Booked' in upcoming
    assert "held until 07:15 EST" in upcoming and f"/booking/holds/{pending_hold.pk}/" in upcoming
    assert f"/booking/sessions/{booked.pk}/reschedule/" in upcoming
    assert 'badge err">Cancelled' in past


def test_reschedule_offers_the_same_mechanics_free_slots_and_moves_the_session(
    customer_client, booked
):
    page = body(customer_client.get(f"/booking/sessions/{booked.pk}/reschedule/?day=2026-12-02"))
    new_start = SLOT + timedelta(days=1, hours=1)  # Wed 2 Dec, 11:00 EST
    assert f'value="{new_start.isoformat()}"' in page and "<span>11:00</span>" in page
    partial = body(
        customer_client.get(f"/booking/sessions/{booked.pk}/reschedule/?day=2026-12-02", **HTMX)
    )
    assert "<html" not in partial and "Wednesday 2 December 2026" in partial
    response = customer_client.post(
        f"/booking/sessions/{booked.pk}/reschedule/",
        {"start": new_start.isoformat(), "next": "/booking/sessions/"},
        follow=True,
    )
    assert "Moved to Wed 2 Dec 2026, 11:00 EST." in body(response)
    booked.refresh_from_db()
    assert booked.scheduled_for == new_start and booked.reschedule_count == 1


def test_rescheduling_into_a_taken_slot_keeps_the_booking_and_explains(
    customer_client, booked, available_mechanic, hold
):
    taken = SLOT + timedelta(days=1)
    hold(CustomerFactory().user, available_mechanic, start=taken)
    response = customer_client.post(
        f"/booking/sessions/{booked.pk}/reschedule/",
        {"start": taken.isoformat()},
        HTTP_REFERER=f"/booking/sessions/{booked.pk}/reschedule/",
        follow=True,
    )
    assert "That slot was just taken" in body(response)
    booked.refresh_from_db()
    assert booked.scheduled_for == SLOT


def test_cancel_from_my_sessions_with_a_reason_frees_the_slot(customer_client, booked):
    response = customer_client.post(
        f"/booking/sessions/{booked.pk}/cancel/",
        {"reason": "Fixed it myself", "next": "/booking/sessions/"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/booking/sessions/"
    assert "cancelled" in body(response)
    booked.refresh_from_db()
    assert booked.status == SessionStatus.CANCELLED
    assert booked.cancellation_reason == "Fixed it myself"
    assert booked.reservations.get().status == ReservationStatus.RELEASED


# --------------------------------------------------------------------------- offers inbox


@pytest.fixture
def immediate(booking_customer, available_mechanic):
    intake = services.intake_validate(
        customer=booking_customer,
        plan="advice",
        concern="Grinding noise when braking at low speed",
        vehicle_id=booking_customer.customer_profile.vehicles.get().pk,
    )
    return start_now_published(booking_customer, intake)


def test_the_inbox_shows_each_offer_with_its_score_reasons_and_no_penalty_note(
    login, available_mechanic, immediate
):
    client = login(available_mechanic.user)
    page = body(client.get("/booking/offers/"))
    assert "Advice session" in page and "Grinding noise when braking" in page
    assert "2018 Honda Civic" in page and "Honda specialist" in page
    assert "Now (immediate session)" in page
    assert "no penalty" in page and 'hx-trigger="every 10s"' in page
    partial = body(client.get("/booking/offers/", **HTMX))
    assert "<html" not in partial and 'id="offers-list"' in partial


def test_a_scheduled_request_shows_its_time_in_the_mechanics_zone(
    login, booking_customer, available_mechanic, hold
):
    from autodoctor.availability.models import MechanicSettings

    MechanicSettings.objects.filter(mechanic=available_mechanic).update(allow_instant_booking=False)
    reservation = hold(booking_customer, available_mechanic, plan="free")
    services.reservation_confirm(reservation_id=reservation.pk, customer=booking_customer, now=NOW)
    available_mechanic.user.time_zone = "America/Vancouver"
    available_mechanic.user.save()
    page = body(login(available_mechanic.user).get("/booking/offers/"))
    assert "Tue 1 Dec 2026, 07:00 PST" in page and "Booking request" in page


def test_accepting_from_the_inbox_with_htmx_claims_the_session(
    login, available_mechanic, immediate
):
    offer = immediate.offers.get(mechanic=available_mechanic)
    response = login(available_mechanic.user).post(f"/booking/offers/{offer.pk}/accept/", **HTMX)
    assert response.status_code == 200
    assert "Accepted. The session is yours." in body(response)
    immediate.refresh_from_db()
    assert immediate.status == SessionStatus.WAITING and immediate.mechanic == available_mechanic


def test_declining_from_the_inbox_is_free_and_removes_the_offer(
    login, available_mechanic, immediate
):
    offer = immediate.offers.get(mechanic=available_mechanic)
    client = login(available_mechanic.user)
    response = client.post(f"/booking/offers/{offer.pk}/decline/", **HTMX)
    assert "no penalty" in body(response)
    offer.refresh_from_db()
    assert offer.status == OfferStatus.DECLINED
    assert f'id="offer-{offer.pk}"' not in body(client.get("/booking/offers/", **HTMX))


def test_a_late_accept_is_told_nicely_that_the_session_is_taken(login, booking_customer, intake):
    first, second = MechanicFactory(), MechanicFactory()
    session = start_now_published(booking_customer, intake(booking_customer))
    services.offer_accept(offer_id=session.offers.get(mechanic=first).pk, mechanic=first)
    late = session.offers.get(mechanic=second)
    response = login(second.user).post(f"/booking/offers/{late.pk}/accept/", **HTMX)
    assert response.status_code == 200
    assert "no longer available" in body(response) or "already took" in body(response)
    assert Offer.objects.filter(session=session, status=OfferStatus.ACCEPTED).count() == 1


def test_accept_without_javascript_redirects_to_the_session(login, available_mechanic, immediate):
    offer = immediate.offers.get(mechanic=available_mechanic)
    response = login(available_mechanic.user).post(f"/booking/offers/{offer.pk}/accept/")
    assert response["Location"] == f"/booking/sessions/{immediate.pk}/"


# --------------------------------------------------------------------------- calendar


@pytest.mark.parametrize("view", ["day", "week", "month"])
def test_the_calendar_shows_sessions_availability_and_time_off(
    login, available_mechanic, booked, view
):
    TimeOff.objects.create(
        mechanic=available_mechanic,
        starts_at=SLOT + timedelta(days=1),
        ends_at=SLOT + timedelta(days=1, hours=3),
        reason="Dentist",
        status=TimeOffStatus.APPROVED,
    )
    anchor = "2026-12-02" if view == "day" else "2026-12-01"
    page = body(login(available_mechanic.user).get(f"/booking/calendar/?view={view}&date={anchor}"))
    assert "America/Toronto" in page
    assert "Time off: Dentist" in page
    if view != "day":
        # the booked session: on the week's hour grid (zone said above), in the month's list
        assert ("10:00–10:15" if view == "week" else "10:00 EST–10:15 EST") in page
        assert f"/booking/sessions/{booked.pk}/" in page
    assert "available" in page.lower()
    assert "Previous" in page and "Next" in page


def test_calendar_navigation_moves_by_the_view(login, available_mechanic):
    page = body(login(available_mechanic.user).get("/booking/calendar/?view=week&date=2026-12-01"))
    assert "?view=week&amp;date=2026-11-24" in page and "?view=week&amp;date=2026-12-08" in page


def test_clicking_a_session_in_the_calendar_loads_its_details_with_actions(
    login, available_mechanic, booked
):
    client = login(available_mechanic.user)
    partial = body(client.get(f"/booking/sessions/{booked.pk}/?next=/booking/calendar/", **HTMX))
    assert "<html" not in partial and "Tue 1 Dec 2026, 10:00 EST" in partial
    assert f"/booking/sessions/{booked.pk}/cancel/" in partial and "Can be started from" in partial


# --------------------------------------------------------------------------- session page


def test_both_parties_see_the_session_in_their_own_zone_with_history(
    login, booking_customer, available_mechanic, booked
):
    available_mechanic.user.time_zone = "America/Vancouver"
    available_mechanic.user.save()
    customer_page = body(login(booking_customer).get(f"/booking/sessions/{booked.pk}/"))
    mechanic_page = body(login(available_mechanic.user).get(f"/booking/sessions/{booked.pk}/"))
    assert "Tue 1 Dec 2026, 10:00 EST" in customer_page
    assert "Tue 1 Dec 2026, 07:00 PST" in mechanic_page
    assert "Time held for checkout" in customer_page and "Booking confirmed" in customer_page
    assert "Reschedule" in customer_page


def test_a_mechanic_must_give_a_reason_to_cancel(login, available_mechanic, booked):
    client = login(available_mechanic.user)
    cancel_page = body(client.get(f"/booking/sessions/{booked.pk}/cancel/"))
    assert "required" in cancel_page.split("Reason")[1][:80]
    response = client.post(
        f"/booking/sessions/{booked.pk}/cancel/",
        {"reason": ""},
        HTTP_REFERER=f"/booking/sessions/{booked.pk}/",
        follow=True,
    )
    assert "Tell the customer why you cancel." in body(response)
    booked.refresh_from_db()
    assert booked.status == SessionStatus.SCHEDULED


def test_a_scheduled_session_can_be_started_from_ten_minutes_before(
    login, available_mechanic, booked
):
    client = login(available_mechanic.user)
    with time_machine.travel(SLOT - timedelta(minutes=10), tick=False):
        page = body(client.get(f"/booking/sessions/{booked.pk}/"))
        assert "Start session" in page
        client.post(f"/booking/sessions/{booked.pk}/start/")
    booked.refresh_from_db()
    assert booked.status == SessionStatus.LIVE
    assert "End session" in body(client.get(f"/booking/sessions/{booked.pk}/"))
    client.post(f"/booking/sessions/{booked.pk}/end/")
    booked.refresh_from_db()
    assert booked.status == SessionStatus.COMPLETED


def test_starting_too_early_is_refused_with_a_message(login, available_mechanic, booked):
    response = login(available_mechanic.user).post(
        f"/booking/sessions/{booked.pk}/start/",
        HTTP_REFERER=f"/booking/sessions/{booked.pk}/",
        follow=True,
    )
    assert "can be started from" in body(response)
    booked.refresh_from_db()
    assert booked.status == SessionStatus.SCHEDULED


# --------------------------------------------------------------------------- home


def test_home_lists_upcoming_sessions_for_customer_and_mechanic(
    login, booking_customer, available_mechanic, booked
):
    page = body(login(booking_customer).get("/"))
    assert "Upcoming sessions" in page and "Tue 1 Dec 2026, 10:00 EST" in page
    page = body(login(available_mechanic.user).get("/"))
    tomorrow = page.split("<h3>Tomorrow</h3>")[1].split("</section>")[0]
    assert "10:00 EST" in tomorrow and f"/booking/sessions/{booked.pk}/room/" in tomorrow
    assert "No sessions today." in page and "still open for booking" in page


def test_paid_plans_cannot_be_confirmed_on_the_fallback_page(
    customer_client, booking_customer, available_mechanic, hold
):
    reservation = hold(booking_customer, available_mechanic, plan="advice")
    with override_settings(BOOKING_CONFIRM_WITHOUT_PAYMENT=False):
        response = customer_client.post(
            f"/booking/holds/{reservation.pk}/confirm/",
            HTTP_REFERER=f"/booking/holds/{reservation.pk}/",
            follow=True,
        )
    assert "This plan is paid" in body(response) and "flash-error" in body(response)
    reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.RESERVED


def test_an_open_hold_is_sent_on_to_the_payments_checkout_when_it_exists(
    customer_client, booking_customer, available_mechanic, hold, monkeypatch
):
    monkeypatch.setattr(booking_views, "checkout_url", lambda r: f"/payments/checkout/{r.pk}/")
    reservation = hold(booking_customer, available_mechanic, plan="advice")
    response = customer_client.get(f"/booking/holds/{reservation.pk}/")
    assert response["Location"] == f"/payments/checkout/{reservation.pk}/"


def test_arriving_from_a_mechanics_profile_shows_their_times_and_picks_them(
    customer_client, booking_customer, available_mechanic
):
    from tests.factories import weekly_hours

    weekly_hours(MechanicFactory(), days=range(7), start=7 * 60, end=8 * 60)  # someone else
    customer_client.get(f"/booking/?mechanic={available_mechanic.pk}")
    vehicle = booking_customer.customer_profile.vehicles.get()
    customer_client.post(f"{WIZARD}vehicle/", {"vehicle": vehicle.pk})
    customer_client.post(f"{WIZARD}plan/", {"plan": "free", "session_type": "video"})
    page = body(customer_client.get(f"{WIZARD}when/?mode=scheduled&day=2026-12-01"))
    assert "<span>09:00</span>" in page and "<span>07:00</span>" not in page  # only theirs
    customer_client.post(f"{WIZARD}when/", {"mode": "scheduled", "start": SLOT.isoformat()})
    page = body(customer_client.get(f"{WIZARD}mechanic/"))
    assert f'value="{available_mechanic.pk}" checked' in page


def test_my_sessions_costs_the_same_for_two_sessions_as_for_ten(
    customer_limits_lifted, customer_client, booking_customer, intake
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert customer_client.get("/booking/sessions/").status_code == 200
        return len(captured)

    for _ in range(2):
        services.session_create_immediate(
            customer=booking_customer, intake=intake(booking_customer)
        )
    two = queries()
    for _ in range(8):
        services.session_create_immediate(
            customer=booking_customer, intake=intake(booking_customer)
        )
    assert queries() == two
