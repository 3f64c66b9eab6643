"""The mechanic's diagnosis at the end of a session (issue 11, item 1): who may write it,
what is refused, completing through the room's one completion rule, the 7-day edit
window, and what the customer sees (session page, completion email)."""

from datetime import timedelta

import pytest
from django.core import mail

from autodoctor.booking import services
from autodoctor.booking.diagnosis import DIAGNOSED, diagnosis_for_user, diagnosis_save
from autodoctor.booking.models import Diagnosis, Session, SessionStatus
from autodoctor.errors import Conflict, InvalidInput, NotAllowed, NotFound
from autodoctor.notifications.models import Notification
from autodoctor.notifications.outbox import outbox_send_due
from tests.factories import MechanicFactory, UserFactory

from .conftest import NOW, SLOT

pytestmark = pytest.mark.django_db

LIVE_AT = SLOT + timedelta(minutes=5)
GOOD = {
    "findings": "Front pads worn to the backing plate; rotor scored on the left.",
    "service_type": "brakes",
    "estimated_labour_minutes": 90,
    "parts": "Front brake pads, two front rotors",
    "urgency": "stop",
}


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(LIVE_AT, tick=False)
    return time_machine


@pytest.fixture
def live(booking_customer, available_mechanic, hold, clock):
    """A scheduled session both parties started: live, at LIVE_AT."""
    reservation = hold(booking_customer, available_mechanic, plan="free")
    services.reservation_confirm(reservation_id=reservation.pk, customer=booking_customer, now=NOW)
    return services.session_start(
        session_id=reservation.session_id, user=available_mechanic.user, now=LIVE_AT
    )


def save(session, user, **changes):
    return diagnosis_save(session_id=session.pk, user=user, **{**GOOD, **changes})


def completion_emails(customer) -> list:
    outbox_send_due(now=LIVE_AT + timedelta(days=30))
    return [m for m in mail.outbox if customer.email in m.to[0] and "complete" in m.subject]


# ---------------------------------------------------------------- who may write it


def test_the_assigned_mechanic_writes_it_and_the_session_stays_live(live, available_mechanic):
    diagnosis = save(live, available_mechanic.user)
    assert diagnosis.written_by == available_mechanic
    assert diagnosis.estimated_labour_minutes == 90 and diagnosis.urgency == "stop"
    live.refresh_from_db()
    assert live.status == SessionStatus.LIVE
    [event] = live.events.filter(action=DIAGNOSED)
    assert event.actor == available_mechanic.user and event.data["first"] is True


def test_another_mechanic_gets_not_found(live):
    with pytest.raises(NotFound):
        save(live, MechanicFactory().user)
    assert not Diagnosis.objects.exists()


def test_the_customer_and_an_admin_may_not_write_it(live, booking_customer):
    admin = UserFactory(role="admin", is_staff=True, is_superuser=True)
    for user in (booking_customer, admin):
        with pytest.raises(NotAllowed):
            save(live, user)
    assert not Diagnosis.objects.exists()


def test_a_scheduled_session_not_yet_started_takes_no_diagnosis(
    booking_customer, available_mechanic, hold, clock
):
    reservation = hold(booking_customer, available_mechanic, plan="free")
    services.reservation_confirm(reservation_id=reservation.pk, customer=booking_customer, now=NOW)
    session = Session.objects.get(pk=reservation.session_id)
    with pytest.raises(Conflict) as refused:
        save(session, available_mechanic.user)
    assert refused.value.data["current_status"] == SessionStatus.SCHEDULED


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"estimated_labour_minutes": 0}, "estimated_labour_minutes"),
        ({"estimated_labour_minutes": 2000}, "estimated_labour_minutes"),
        ({"estimated_labour_minutes": 14}, "estimated_labour_minutes"),
        ({"urgency": "whenever"}, "urgency"),
        ({"service_type": "teleportation"}, "service_type"),
        ({"findings": "   ok   "}, "findings"),
        ({"findings": "x" * 4001}, "findings"),
        ({"parts": "x" * 2001}, "parts"),
    ],
)
def test_bad_input_is_refused_naming_the_field(live, available_mechanic, changes, field):
    with pytest.raises(InvalidInput) as refused:
        save(live, available_mechanic.user, **changes, complete=True)
    assert refused.value.data["field"] == field and refused.value.status == 422
    live.refresh_from_db()
    assert live.status == SessionStatus.LIVE  # nothing half-written
    assert not Diagnosis.objects.exists()


def test_the_labour_limits_are_inclusive(live, available_mechanic):
    assert save(live, available_mechanic.user, estimated_labour_minutes=15).pk
    assert save(live, available_mechanic.user, estimated_labour_minutes=1440).pk


# ---------------------------------------------------------------- completing


def test_complete_completes_the_session_once_and_emails_the_customer_once(
    live, available_mechanic, booking_customer
):
    save(live, available_mechanic.user, complete=True)
    save(live, available_mechanic.user, complete=True, urgency="soon")
    live.refresh_from_db()
    assert live.status == SessionStatus.COMPLETED and live.ended_at == LIVE_AT
    assert live.events.filter(action="booking.session.completed").count() == 1
    assert Diagnosis.objects.get().urgency == "soon"  # the second save edited it
    [email] = completion_emails(booking_customer)
    assert email.subject.startswith("Stop driving: ")  # the diagnosis as it was completed
    assert "STOP DRIVING" in email.body
    assert "Front pads worn to the backing plate" in email.body
    assert "Recommended work:  Brakes" in email.body and "1 h 30 min" in email.body
    assert "Front brake pads, two front rotors" in email.body
    assert f"/booking/sessions/{live.pk}/" in email.body
    assert not Notification.objects.filter(kind="diagnosis_ready").exists()


def test_ending_without_a_diagnosis_then_writing_it_emails_it_once(
    live, available_mechanic, booking_customer
):
    services.session_end(session_id=live.pk, user=available_mechanic.user)
    save(live, available_mechanic.user, urgency="safe")
    save(live, available_mechanic.user, urgency="safe", parts="")
    [completed] = completion_emails(booking_customer)
    assert "has not written a diagnosis summary yet" in completed.body
    [ready] = [m for m in mail.outbox if "wrote the diagnosis" in m.subject]
    assert "Urgency:           Safe to drive" in ready.body
    assert "STOP DRIVING" not in ready.body


def test_the_mechanic_may_edit_for_seven_days_after_completion(live, available_mechanic, clock):
    save(live, available_mechanic.user, complete=True)
    clock.move_to(LIVE_AT + timedelta(days=7), tick=False)
    assert save(live, available_mechanic.user, findings="Rechecked: pads and rotors.").pk
    clock.move_to(LIVE_AT + timedelta(days=7, seconds=1), tick=False)
    with pytest.raises(Conflict) as refused:
        save(live, available_mechanic.user, findings="Too late for this change.")
    assert refused.value.code == "edit_window_closed"
    assert Diagnosis.objects.get().findings == "Rechecked: pads and rotors."


# ---------------------------------------------------------------- reading it


def test_only_the_two_parties_read_it(live, available_mechanic, booking_customer):
    with pytest.raises(NotFound):
        diagnosis_for_user(live.pk, booking_customer)  # none yet
    save(live, available_mechanic.user)
    assert diagnosis_for_user(live.pk, booking_customer).urgency == "stop"
    assert diagnosis_for_user(live.pk, available_mechanic.user).urgency == "stop"
    with pytest.raises(NotFound):
        diagnosis_for_user(live.pk, MechanicFactory().user)


# ---------------------------------------------------------------- the API


def test_the_api_writes_completes_and_reads_it(login, live, available_mechanic, booking_customer):
    url = f"/api/sessions/{live.pk}/diagnosis"
    mechanic = login(available_mechanic.user)
    response = mechanic.put(url, {**GOOD, "complete": True}, content_type="application/json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["urgency_label"] == "Stop driving" and body["session_status"] == "completed"
    read = login(booking_customer).get(url)
    assert read.status_code == 200 and read.json()["service_type_label"] == "Brakes"


@pytest.mark.parametrize(
    ("who", "changes", "status", "code"),
    [
        ("mechanic", {"estimated_labour_minutes": 0}, 422, "invalid"),
        ("mechanic", {"estimated_labour_minutes": 2000}, 422, "invalid"),
        ("mechanic", {"urgency": "later"}, 422, "invalid"),
        ("customer", {}, 403, "forbidden"),
        ("stranger", {}, 404, "not_found"),
        ("anonymous", {}, 401, "unauthenticated"),
    ],
)
def test_the_api_refuses_with_the_error_shape(
    login, client, live, available_mechanic, booking_customer, who, changes, status, code
):
    callers = {
        "mechanic": lambda: login(available_mechanic.user),
        "customer": lambda: login(booking_customer),
        "stranger": lambda: login(MechanicFactory().user),
        "anonymous": lambda: client,
    }
    response = callers[who]().put(
        f"/api/sessions/{live.pk}/diagnosis", {**GOOD, **changes}, content_type="application/json"
    )
    assert response.status_code == status
    assert response.json()["code"] == code
    if status == 422:
        assert response.json()["field"] in changes
    assert not Diagnosis.objects.exists()


def test_a_stranger_cannot_read_it(login, live, available_mechanic):
    save(live, available_mechanic.user)
    response = login(MechanicFactory().user).get(f"/api/sessions/{live.pk}/diagnosis")
    assert response.status_code == 404 and "Front pads" not in response.content.decode()


# ---------------------------------------------------------------- the pages


def page(response) -> str:
    return response.content.decode()


def test_the_mechanic_writes_it_in_the_room_and_the_customer_sees_it(
    login, live, available_mechanic, booking_customer
):
    mechanic = login(available_mechanic.user)
    room = page(mechanic.get(f"/booking/sessions/{live.pk}/room/"))
    assert "Write diagnosis and complete" in room and 'name="urgency" value="stop"' in room
    assert 'name="service_type"' in room and "Heating and A/C" in room
    customer = login(booking_customer)
    assert "Write diagnosis and complete" not in page(
        customer.get(f"/booking/sessions/{live.pk}/room/")
    )
    form = {**GOOD, "complete": "1"}
    response = mechanic.post(f"/booking/sessions/{live.pk}/diagnosis/", form, follow=True)
    assert "Diagnosis saved and the session is completed." in page(response)
    live.refresh_from_db()
    assert live.status == SessionStatus.COMPLETED
    detail = page(customer.get(f"/booking/sessions/{live.pk}/"))
    assert 'role="alert"><strong>Stop driving.</strong>' in detail
    assert "urgency-stop err" in detail and "Front pads worn to the backing plate" in detail
    assert "1 h 30 min" in detail and "Brakes" in detail
    # Still editable after completion: the room keeps the form, prefilled.
    room = page(mechanic.get(f"/booking/sessions/{live.pk}/room/"))
    assert "Save diagnosis" in room and "You can change it until" in room
    assert 'value="stop" required checked' in room


def test_a_refused_form_shows_the_error_next_to_its_field(login, live, available_mechanic):
    mechanic = login(available_mechanic.user)
    room_url = f"/booking/sessions/{live.pk}/room/"
    response = mechanic.post(
        f"/booking/sessions/{live.pk}/diagnosis/",
        {**GOOD, "estimated_labour_minutes": "2000", "complete": "1"},
        HTTP_REFERER=f"http://testserver{room_url}",
    )
    assert response.status_code == 302 and response["Location"].endswith(room_url)
    shown = page(mechanic.get(room_url))
    assert "between 15 and 1440 minutes" in shown
    assert '"field": "estimated_labour_minutes"' in shown  # app.js puts it by the input
    live.refresh_from_db()
    assert live.status == SessionStatus.LIVE


def test_a_word_for_labour_minutes_is_refused_by_the_page(login, live, available_mechanic):
    response = login(available_mechanic.user).post(
        f"/booking/sessions/{live.pk}/diagnosis/",
        {**GOOD, "estimated_labour_minutes": "ninety"},
        HTTP_REFERER="http://testserver/",
    )
    assert response.status_code == 302
    assert not Diagnosis.objects.exists()


def test_the_customer_cannot_post_the_form(login, live, booking_customer):
    response = login(booking_customer).post(
        f"/booking/sessions/{live.pk}/diagnosis/", GOOD, HTTP_REFERER="http://testserver/"
    )
    assert response.status_code == 302
    assert not Diagnosis.objects.exists()
