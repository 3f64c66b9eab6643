"""Workshop visit pages through the Django test client: what each person sees (times in
the workshop's zone, counts in tabs), refusals for everyone else, and every action form."""

from datetime import timedelta

import pytest
import time_machine

from autodoctor.workshops import services
from autodoctor.workshops.models import Visit, VisitStatus
from autodoctor.workshops.services import VisitRequest
from tests.factories import CustomerFactory, MechanicFactory, UserFactory, WorkshopFactory

from .conftest import HOUR, NOW, TUESDAY_10

pytestmark = pytest.mark.django_db

TUESDAY = "2026-12-01"


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def body(response) -> str:
    return response.content.decode()


def flashed(client, response) -> str:
    """The page a refused form post returns to (the flash message on it)."""
    assert response.status_code == 302, response.status_code
    return body(client.get(response["Location"]))


@pytest.fixture
def session(completed_session):
    return completed_session()


@pytest.fixture
def visit(session, workshop):
    return services.visit_request_from_session(
        customer=session.customer,
        session_id=session.pk,
        request=VisitRequest(workshop_id=workshop.pk, starts_at=TUESDAY_10, notes="Pads too?"),
        now=NOW,
    )


@pytest.fixture
def confirmed(visit, workshop):
    return services.visit_confirm(user=workshop.staff_user, visit_id=visit.pk, now=NOW)


def visit_url(visit, action=""):
    return f"/workshops/visits/{visit.pk}/" + (f"{action}/" if action else "")


# --------------------------------------------------------------------------- booking


def test_a_completed_session_offers_its_customer_an_in_person_visit(login, session):
    page = body(login(session.customer).get(f"/booking/sessions/{session.pk}/"))
    assert "Book an in-person visit" in page and f"/workshops/visits/new/{session.pk}/" in page
    mechanic_page = body(login(session.mechanic.user).get(f"/booking/sessions/{session.pk}/"))
    assert "Book an in-person visit" not in mechanic_page


def test_the_workshop_list_is_nearest_first_with_hours_bays_and_the_mechanic(
    login, session, workshop
):
    far = WorkshopFactory(name="Aardvark Auto", city="Vancouver", postal_code="V6B 1A1")
    session.mechanic.workshop = workshop
    session.mechanic.save()
    page = body(login(session.customer).get(f"/workshops/visits/new/{session.pk}/"))
    assert page.index(workshop.name) < page.index(far.name)
    assert "Same city" in page and "Farther away" in page
    assert "Mon–Sun 08:00–17:00" in page and "2 bays" in page
    assert "Your mechanic works here" in page and "12 King St W" in page


def test_only_the_sessions_customer_books_from_it(login, session, workshop):
    other = CustomerFactory().user
    assert login(other).get(f"/workshops/visits/new/{session.pk}/").status_code == 404
    url = f"/workshops/visits/new/{session.pk}/{workshop.pk}/"
    assert login(other).get(url).status_code == 404
    assert login(session.mechanic.user).get(url).status_code == 403
    assert login(workshop.staff_user).get(url).status_code == 403


def test_the_time_step_shows_the_workshops_times_labelled_with_its_zone(login, session, workshop):
    session.customer.time_zone = "America/Vancouver"
    session.customer.save()
    client = login(session.customer)
    page = body(client.get(f"/workshops/visits/new/{session.pk}/{workshop.pk}/?day={TUESDAY}"))
    assert "Times in America/Toronto (EST)" in page
    assert "you are in America/Vancouver (PST)" in page
    # 08:00–17:00, 1 h visits every 30 min: 08:00 … 16:00 = 17 times on Tuesday.
    assert f'data-day="{TUESDAY}">1<span class="count">17 free</span>' in page
    assert f'value="{TUESDAY_10.isoformat()}"' in page and ">10:00<" in page
    # Pre-filled from the session, not asked again.
    assert "2018 Honda Civic" in page and "Grinding noise" in page
    assert 'name="concern"' not in page
    partial = client.get(
        f"/workshops/visits/new/{session.pk}/{workshop.pk}/?month=2026-12&day=2026-12-02",
        headers={"HX-Request": "true"},
    )
    assert "<html" not in body(partial) and "Wednesday 2 December 2026" in body(partial)


def test_sending_the_request_holds_the_time_and_opens_the_visit_page(login, session, workshop):
    client = login(session.customer)
    response = client.post(
        f"/workshops/visits/new/{session.pk}/{workshop.pk}/",
        {"start": TUESDAY_10.isoformat(), "mode": "wait", "notes": "Check the pads"},
    )
    visit = Visit.objects.get(session=session)
    assert response["Location"] == visit_url(visit)
    assert (visit.status, visit.mode, visit.customer_notes) == (
        "requested",
        "wait",
        "Check the pads",
    )
    page = body(client.get(visit_url(visit)))
    assert "Tue 1 Dec 2026, 10:00 EST" in page and "12 King St W" in page
    assert "Waiting for the workshop until Tue 1 Dec 2026, 07:00 EST" in page
    assert "Check the pads" in page and "Wait on site" in page


def test_a_full_time_is_refused_with_the_next_free_times(
    login, session, workshop, completed_session
):
    for _ in range(2):  # both bays at 10:00
        other = completed_session()
        services.visit_request_from_session(
            customer=other.customer,
            session_id=other.pk,
            request=VisitRequest(workshop_id=workshop.pk, starts_at=TUESDAY_10),
            now=NOW,
        )
    client = login(session.customer)
    url = f"/workshops/visits/new/{session.pk}/{workshop.pk}/"
    page = flashed(client, client.post(url, {"start": TUESDAY_10.isoformat(), "mode": "wait"}))
    assert "no free bay" in page and "Next free: Tue 1 Dec 2026, 11:00 EST" in page
    assert not Visit.objects.filter(session=session).exists()


# --------------------------------------------------------------------------- visit page


def test_the_visit_page_is_for_its_customer_workshop_and_mechanic_only(
    login, visit, workshop, shop_mechanic
):
    assert login(CustomerFactory().user).get(visit_url(visit)).status_code == 404
    assert login(WorkshopFactory().owner).get(visit_url(visit)).status_code == 404
    assert login(shop_mechanic.user).get(visit_url(visit)).status_code == 404
    staff_page = body(login(workshop.staff_user).get(visit_url(visit)))
    assert "Answer by Tue 1 Dec 2026, 07:00 EST" in staff_page
    assert 'name="mechanic"' in staff_page and 'name="bay"' in staff_page
    services.visit_assign(user=workshop.staff_user, visit_id=visit.pk, mechanic_id=shop_mechanic.pk)
    mechanic_page = body(login(shop_mechanic.user).get(visit_url(visit)))
    assert "Tue 1 Dec 2026, 10:00 EST" in mechanic_page and "Confirm" not in mechanic_page


def test_staff_confirm_with_a_mechanic_and_a_bay(login, visit, workshop, shop_mechanic):
    client = login(workshop.staff_user)
    response = client.post(visit_url(visit, "confirm"), {"mechanic": shop_mechanic.pk, "bay": 2})
    assert response["Location"] == visit_url(visit)
    visit.refresh_from_db()
    assert (visit.status, visit.bay, visit.assigned_mechanic_id) == (
        "confirmed",
        2,
        shop_mechanic.pk,
    )
    page = body(client.get(visit_url(visit)))
    assert "Confirmed." in page and str(shop_mechanic) in page and "Check in" in page


def test_the_customer_cannot_confirm_their_own_request(login, visit):
    client = login(visit.customer)
    page = flashed(client, client.post(visit_url(visit, "confirm"), {}))
    assert "Only the workshop" in page
    visit.refresh_from_db()
    assert visit.status == VisitStatus.REQUESTED


def test_the_workshop_offers_another_time_and_the_customer_accepts(login, visit, workshop):
    staff = login(workshop.staff_user)
    page = body(staff.get(visit_url(visit, "counter") + f"?day={TUESDAY}"))
    assert "Times in America/Toronto (EST)" in page and ">14:00<" in page
    later = TUESDAY_10 + 4 * HOUR
    staff.post(visit_url(visit, "counter"), {"start": later.isoformat(), "reason": "Busy morning"})
    visit.refresh_from_db()
    assert visit.status == VisitStatus.COUNTERED and visit.starts_at == later
    customer = login(visit.customer)
    page = body(customer.get(visit_url(visit)))
    assert (
        "Answer by" in page
        and "Busy morning" in page
        and "Accept Tue 1 Dec 2026, 14:00 EST" in page
    )
    customer.post(visit_url(visit, "accept"))
    visit.refresh_from_db()
    assert visit.status == VisitStatus.CONFIRMED


def test_the_customer_declines_an_offered_time(login, visit, workshop):
    services.visit_counter(
        user=workshop.staff_user, visit_id=visit.pk, starts_at=TUESDAY_10 + 2 * HOUR, now=NOW
    )
    login(visit.customer).post(visit_url(visit, "decline-offer"))
    visit.refresh_from_db()
    assert visit.status == VisitStatus.CANCELLED


def test_declining_needs_a_reason_the_customer_then_sees(login, visit, workshop):
    client = login(workshop.staff_user)
    page = flashed(client, client.post(visit_url(visit, "decline"), {"reason": ""}))
    assert "Say why you decline" in page
    client.post(visit_url(visit, "decline"), {"reason": "We do not service hybrids"})
    visit.refresh_from_db()
    assert visit.status == VisitStatus.DECLINED
    assert "We do not service hybrids" in body(login(visit.customer).get(visit_url(visit)))


def test_check_in_then_complete_with_notes(login, confirmed, workshop):
    client = login(workshop.staff_user)
    with time_machine.travel(TUESDAY_10 - timedelta(minutes=5), tick=False):
        client.post(visit_url(confirmed, "check-in"))
        confirmed.refresh_from_db()
        assert confirmed.status == VisitStatus.CHECKED_IN
        assert "Complete the visit" in body(client.get(visit_url(confirmed)))
        client.post(visit_url(confirmed, "complete"), {"notes": "Pads replaced"})
    confirmed.refresh_from_db()
    assert (confirmed.status, confirmed.workshop_notes) == ("completed", "Pads replaced")


def test_a_no_show_waits_fifteen_minutes_after_the_start(login, confirmed, workshop):
    client = login(workshop.staff_user)
    page = flashed(client, client.post(visit_url(confirmed, "no-show")))
    assert "15 minutes after its start" in page
    with time_machine.travel(TUESDAY_10 + timedelta(minutes=20), tick=False):
        assert "No-show" in body(client.get(visit_url(confirmed)))
        client.post(visit_url(confirmed, "no-show"))
    confirmed.refresh_from_db()
    assert confirmed.status == VisitStatus.NO_SHOW


def test_staff_assign_another_mechanic_and_bay(login, confirmed, workshop, shop_mechanic):
    login(workshop.staff_user).post(
        visit_url(confirmed, "assign"), {"mechanic": shop_mechanic.pk, "bay": "2"}
    )
    confirmed.refresh_from_db()
    assert (confirmed.assigned_mechanic_id, confirmed.bay) == (shop_mechanic.pk, 2)


def test_the_customer_cancels_with_a_reason(login, confirmed):
    login(confirmed.customer).post(visit_url(confirmed, "cancel"), {"reason": "Sold the car"})
    confirmed.refresh_from_db()
    assert (confirmed.status, confirmed.cancelled_by) == ("cancelled", "customer")


def test_the_customer_moves_a_confirmed_visit_and_it_waits_for_the_workshop(login, confirmed):
    client = login(confirmed.customer)
    assert "Ask for another time" in body(client.get(visit_url(confirmed)))
    page = body(client.get(visit_url(confirmed, "move") + f"?day={TUESDAY}"))
    assert "Times in America/Toronto (EST)" in page
    # The visit's own time does not count against it: 10:00 is still offered.
    assert f'value="{TUESDAY_10.isoformat()}"' in page
    later = TUESDAY_10 + 3 * HOUR
    client.post(visit_url(confirmed, "move"), {"start": later.isoformat()})
    confirmed.refresh_from_db()
    assert (confirmed.status, confirmed.starts_at) == ("requested", later)


def test_the_workshop_reschedules_a_confirmed_visit(login, confirmed, workshop):
    client = login(workshop.staff_user)
    later = TUESDAY_10 + timedelta(days=1)
    client.post(visit_url(confirmed, "move"), {"start": later.isoformat()})
    confirmed.refresh_from_db()
    assert (confirmed.status, confirmed.starts_at) == ("confirmed", later)
    assert "Rescheduled" in body(client.get(visit_url(confirmed)))


def test_a_closed_time_for_a_move_says_so(login, confirmed):
    client = login(confirmed.customer)
    closed = TUESDAY_10 + 8 * HOUR  # 18:00, after closing
    page = flashed(client, client.post(visit_url(confirmed, "move"), {"start": closed.isoformat()}))
    assert "no free bay" in page and "Next free" in page
    confirmed.refresh_from_db()
    assert confirmed.starts_at == TUESDAY_10


def test_a_move_page_for_a_finished_visit_is_refused(login, visit, workshop):
    services.visit_decline(user=workshop.staff_user, visit_id=visit.pk, reason="Full", now=NOW)
    assert login(visit.customer).get(visit_url(visit, "move")).status_code == 403


# --------------------------------------------------------------------------- lists


def test_my_visits_lists_upcoming_first_and_past_below(login, visit, workshop, completed_session):
    old = completed_session(customer=visit.customer)
    past = services.visit_request_from_session(
        customer=visit.customer,
        session_id=old.pk,
        request=VisitRequest(workshop_id=workshop.pk, starts_at=TUESDAY_10 + 2 * HOUR),
        now=NOW,
    )
    services.visit_cancel(user=visit.customer, visit_id=past.pk, now=NOW)
    page = body(login(visit.customer).get("/workshops/visits/"))
    assert (
        page.index(f'id="visit-{visit.pk}"')
        < page.index("Past")
        < page.index(f'id="visit-{past.pk}"')
    )
    assert "Waiting for the workshop until" in page and "Tue 1 Dec 2026, 10:00 EST" in page
    assert "Workshop visits" not in page
    assert body(login(CustomerFactory().user).get("/workshops/visits/")).count("visit-") == 0


def test_an_assigned_mechanic_sees_their_workshop_visits(login, confirmed, workshop, shop_mechanic):
    services.visit_assign(
        user=workshop.staff_user, visit_id=confirmed.pk, mechanic_id=shop_mechanic.pk
    )
    page = body(login(shop_mechanic.user).get("/workshops/visits/"))
    assert "Workshop visits" in page and f'id="assigned-{confirmed.pk}"' in page
    assert "bay 1" in page
    assert f'id="assigned-{confirmed.pk}"' not in body(
        login(MechanicFactory().user).get("/workshops/visits/")
    )


def test_appointments_tabs_show_counts_and_the_tabs_visits(
    login, visit, workshop, completed_session
):
    other = completed_session()
    second = services.visit_request_from_session(
        customer=other.customer,
        session_id=other.pk,
        request=VisitRequest(workshop_id=workshop.pk, starts_at=TUESDAY_10 + HOUR),
        now=NOW,
    )
    services.visit_confirm(user=workshop.staff_user, visit_id=second.pk, now=NOW)
    client = login(workshop.staff_user)
    page = body(client.get("/workshops/appointments/"))
    assert 'Pending <span class="count">1</span>' in page
    assert 'Confirmed <span class="count">1</span>' in page
    assert 'Completed <span class="count">0</span>' in page
    assert f'id="visit-{visit.pk}"' in page and f'id="visit-{second.pk}"' not in page
    assert "Answer by Tue 1 Dec 2026, 07:00 EST" in page
    confirmed_tab = body(client.get("/workshops/appointments/?tab=confirmed"))
    assert (
        f'id="visit-{second.pk}"' in confirmed_tab and f'id="visit-{visit.pk}"' not in confirmed_tab
    )


def test_staff_of_two_workshops_pick_one_and_nobody_else_gets_in(login, visit, workshop):
    second = WorkshopFactory(name="Second Shop")
    second.staff.add(workshop.staff_user)
    client = login(workshop.staff_user)
    page = body(client.get(f"/workshops/appointments/?workshop={second.pk}"))
    assert "Appointments · Second Shop" in page and 'name="workshop"' in page
    assert f'id="visit-{visit.pk}"' not in page
    stranger = login(WorkshopFactory().owner)
    assert stranger.get(f"/workshops/appointments/?workshop={workshop.pk}").status_code == 404
    assert login(visit.customer).get("/workshops/appointments/").status_code == 403
    assert login(visit.customer).get("/workshops/appointments/board/").status_code == 403


def test_the_bay_board_shows_confirmed_visits_in_their_bay_row(login, confirmed, workshop):
    client = login(workshop.staff_user)
    day = body(client.get(f"/workshops/appointments/board/?date={TUESDAY}"))
    assert "Bay 1" in day and "Bay 2" in day and "08:00" in day and "16:00" in day
    assert "10:00–11:00" in day and "Times in America/Toronto (EST)" in day
    assert "1 visit on the board" in day
    week = body(client.get(f"/workshops/appointments/board/?view=week&date={TUESDAY}"))
    assert "Tue 1" in week and "Sun 29" in week and "10:00–11:00" in week
    empty = body(client.get("/workshops/appointments/board/?date=2026-12-03"))
    assert "0 visits on the board" in empty


def test_the_menu_links_my_visits_and_appointments(login, visit, workshop):
    assert 'href="/workshops/visits/"' in body(login(visit.customer).get("/"))
    staff_home = body(login(workshop.staff_user).get("/"))
    assert 'href="/workshops/appointments/"' in staff_home
    owner = UserFactory(role="workshop_staff")
    workshop.owner = owner
    workshop.save()
    assert 'href="/workshops/appointments/"' in body(login(owner).get("/"))
