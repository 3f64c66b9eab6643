"""The session room: Join from 15 minutes before, live when both joined or either
started it, the mechanic ends it there; the video link from SESSION_ROOM_URL_TEMPLATE."""

from datetime import timedelta

import pytest
import time_machine

from autodoctor.booking import room, services
from autodoctor.booking.models import Session, SessionStatus
from autodoctor.errors import Conflict, NotAllowed, NotFound
from tests.factories import CustomerFactory, UserFactory

from .conftest import NOW, SLOT

pytestmark = pytest.mark.django_db


@pytest.fixture
def booked(booking_customer, available_mechanic, hold):
    reservation = hold(booking_customer, available_mechanic, plan="free")
    services.reservation_confirm(reservation_id=reservation.pk, customer=booking_customer, now=NOW)
    return Session.objects.get(pk=reservation.session_id)


def test_join_opens_15_minutes_before_the_start(booked, booking_customer):
    with pytest.raises(Conflict) as refused:
        room.session_join(
            session_id=booked.pk, user=booking_customer, now=SLOT - timedelta(minutes=16)
        )
    assert refused.value.code == "too_early"
    joined = room.session_join(
        session_id=booked.pk, user=booking_customer, now=SLOT - timedelta(minutes=15)
    )
    assert joined.status == SessionStatus.SCHEDULED  # the mechanic is not in yet
    assert room.joined_parties(joined) == {"customer"}


def test_the_session_goes_live_when_both_have_joined_and_joining_twice_changes_nothing(
    booked, booking_customer, available_mechanic
):
    at = SLOT - timedelta(minutes=5)
    room.session_join(session_id=booked.pk, user=booking_customer, now=at)
    room.session_join(session_id=booked.pk, user=booking_customer, now=at)
    live = room.session_join(session_id=booked.pk, user=available_mechanic.user, now=at)
    assert live.status == SessionStatus.LIVE
    assert live.events.filter(action=room.JOINED).count() == 2
    assert live.events.filter(action="booking.session.started").count() == 1


def test_either_party_may_start_it_without_waiting(booked, booking_customer):
    started = services.session_start(
        session_id=booked.pk, user=booking_customer, now=SLOT - timedelta(minutes=10)
    )
    assert started.status == SessionStatus.LIVE


def test_strangers_and_admins_do_not_join(booked):
    with pytest.raises(NotFound):
        room.session_join(session_id=booked.pk, user=CustomerFactory().user, now=SLOT)
    admin = UserFactory(role="admin", is_staff=True, is_superuser=True)
    with pytest.raises(NotAllowed):
        room.session_join(session_id=booked.pk, user=admin, now=SLOT)


def test_the_video_link_is_the_placeholder_page_unless_a_template_is_set(booked, settings):
    assert room.call_url(booked) == f"/booking/sessions/{booked.pk}/room/call/"
    settings.SESSION_ROOM_URL_TEMPLATE = "https://meet.example/{room}?s={session_id}"
    url = room.call_url(booked)
    assert url.startswith(f"https://meet.example/autodoctor-{booked.pk}-")
    assert url.endswith(f"?s={booked.pk}") and room.room_key(booked.pk) in url


def body(response) -> str:
    return response.content.decode()


def test_the_room_page_shows_when_join_opens_then_the_join_button(
    login, booked, booking_customer, available_mechanic
):
    client = login(booking_customer)
    with time_machine.travel(SLOT - timedelta(minutes=30), tick=False):
        page = body(client.get(f"/booking/sessions/{booked.pk}/room/"))
    assert "Join opens at Tue 1 Dec 2026, 09:45 EST" in page and "disabled" in page
    with time_machine.travel(SLOT - timedelta(minutes=14), tick=False):
        page = body(client.get(f"/booking/sessions/{booked.pk}/room/"))
        assert f'action="/booking/sessions/{booked.pk}/room/join/"' in page
        assert "End session" not in page
        response = client.post(f"/booking/sessions/{booked.pk}/room/join/", follow=True)
        assert "goes live when the other side joins" in body(response)
        mechanic = login(available_mechanic.user)
        mechanic.post(f"/booking/sessions/{booked.pk}/room/join/")
        page = body(mechanic.get(f"/booking/sessions/{booked.pk}/room/"))
    assert "The session is live" in page and "Open the video / chat" in page
    assert 'class="card room-end"' in page and "End session" in page
    partial = body(client.get(f"/booking/sessions/{booked.pk}/room/", HTTP_HX_REQUEST="true"))
    assert "<html" not in partial and 'id="room-status"' in partial


def test_a_stranger_gets_not_found_for_the_room(login, booked):
    response = login(CustomerFactory().user).get(f"/booking/sessions/{booked.pk}/room/")
    assert response.status_code == 404
