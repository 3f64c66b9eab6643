"""Sessions that move on the clock (booking/lifecycle.py, issue 18): both joined → live,
past the end plus the grace → completed unless the mechanic extended it, never started →
a no-show of the side that did not join; one active session per customer. The clock is
moved with time_machine; every move is checked for history, notifications and for the
job running twice and late."""

from datetime import timedelta

import pytest

from autodoctor.booking import lifecycle, room, services
from autodoctor.booking.events import session_event_record
from autodoctor.booking.models import Reservation, ReservationStatus, Session, SessionStatus
from autodoctor.errors import Conflict, NotAllowed, SlotUnavailable
from autodoctor.notifications.models import Notification
from autodoctor.notifications.rendering import message_render
from autodoctor.payments.models import CreditAccount, Refund
from autodoctor.payments.services import checkout, credits
from tests.factories import CustomerFactory, UserFactory, VehicleFactory

from .conftest import NOW, SLOT

pytestmark = pytest.mark.django_db

ADVICE_CENTS = 3389  # the advice plan, $29.99 + 13 % Ontario HST (the factories live in Toronto)
MINUTES = 30  # the advice plan
END = SLOT + timedelta(minutes=MINUTES)


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


@pytest.fixture
def book(hold, clock):
    def _book(customer, mechanic, start=SLOT, pay=False):
        reservation = hold(customer, mechanic, start=start, plan="advice")
        if pay:
            admin = UserFactory(role="admin", is_staff=True, is_superuser=True)
            credits.credits_grant(
                customer=customer, amount_cents=ADVICE_CENTS, note="", granted_by=admin
            )
            checkout.payment_with_credits(reservation_id=reservation.pk, customer=customer, now=NOW)
        else:
            services.reservation_confirm(reservation_id=reservation.pk, customer=customer, now=NOW)
        session = Session.objects.get(pk=reservation.session_id)
        assert session.status == SessionStatus.SCHEDULED
        return session

    return _book


@pytest.fixture
def booked(book, booking_customer, available_mechanic):
    return book(booking_customer, available_mechanic)


def live(session, customer, mechanic, clock, at=SLOT):
    clock.move_to(at, tick=False)
    room.session_join(session_id=session.pk, user=customer, now=at)
    room.session_join(session_id=session.pk, user=mechanic.user, now=at)
    session.refresh_from_db()
    assert session.status == SessionStatus.LIVE
    return session


def advance(clock, at):
    clock.move_to(at, tick=False)
    return lifecycle.sessions_advance(now=at)


def actions(session) -> list[str]:
    return list(session.events.values_list("action", flat=True))


def kinds_for(session, user) -> list[str]:
    return sorted(
        Notification.objects.filter(session=session, recipient=user).values_list("kind", flat=True)
    )


def balance(customer) -> int:
    account = CreditAccount.objects.filter(customer=customer).first()
    return account.balance_cents if account else 0


# --------------------------------------------------------------------------- live


def test_both_joined_goes_live_by_the_clock_once_however_often_it_runs(
    booked, booking_customer, available_mechanic, clock
):
    # Joins recorded without the move (e.g. held back while the customer was in another
    # session): the job brings it live, once.
    for user, party in ((booking_customer, "customer"), (available_mechanic.user, "mechanic")):
        session_event_record(session=booked, action=room.JOINED, actor=user, data={"party": party})
    assert advance(clock, SLOT)["live"] == 1
    assert advance(clock, SLOT + timedelta(minutes=1))["live"] == 0
    booked.refresh_from_db()
    assert booked.status == SessionStatus.LIVE and booked.started_at == SLOT
    started = booked.events.get(action="booking.session.started")
    assert started.data == {"from": "scheduled", "to": "live", "by": "clock"}
    assert "session_live" in kinds_for(booked, booking_customer)
    assert "session_live" in kinds_for(booked, available_mechanic.user)


def test_one_party_joined_does_not_go_live(booked, booking_customer, clock):
    room.session_join(session_id=booked.pk, user=booking_customer, now=SLOT)
    assert advance(clock, SLOT + timedelta(minutes=5)) == {"live": 0, "completed": 0, "no_show": 0}
    booked.refresh_from_db()
    assert booked.status == SessionStatus.SCHEDULED


# --------------------------------------------------------------------------- complete


def test_a_live_session_completes_after_its_duration_plus_the_grace(
    booked, booking_customer, available_mechanic, clock, settings
):
    settings.SESSION_END_GRACE_MINUTES = 10
    session = live(booked, booking_customer, available_mechanic, clock)
    assert advance(clock, END + timedelta(minutes=9, seconds=59))["completed"] == 0
    assert advance(clock, END + timedelta(minutes=10))["completed"] == 1
    assert advance(clock, END + timedelta(minutes=11))["completed"] == 0  # twice: nothing more
    session.refresh_from_db()
    assert session.status == SessionStatus.COMPLETED
    assert session.ended_at == END + timedelta(minutes=10)
    completed = session.events.get(action="booking.session.completed")
    assert completed.data["by"] == "clock" and completed.data["due_at"] == END.isoformat()
    assert "completed" in kinds_for(session, booking_customer)
    assert "session_ended" in kinds_for(session, available_mechanic.user)


def test_a_job_that_runs_hours_late_completes_the_session_once(
    booked, booking_customer, available_mechanic, clock
):
    session = live(booked, booking_customer, available_mechanic, clock)
    late = END + timedelta(hours=5)
    assert advance(clock, late)["completed"] == 1
    assert advance(clock, late)["completed"] == 0
    session.refresh_from_db()
    assert session.status == SessionStatus.COMPLETED
    assert actions(session).count("booking.session.completed") == 1
    assert Notification.objects.filter(session=session, kind="completed").count() == 1


def test_the_duration_runs_from_when_it_went_live(
    booked, booking_customer, available_mechanic, clock, settings
):
    settings.SESSION_END_GRACE_MINUTES = 10
    session = live(
        booked, booking_customer, available_mechanic, clock, at=SLOT + timedelta(minutes=10)
    )
    assert advance(clock, END + timedelta(minutes=10))["completed"] == 0
    assert advance(clock, END + timedelta(minutes=20))["completed"] == 1
    session.refresh_from_db()
    assert session.status == SessionStatus.COMPLETED


# --------------------------------------------------------------------------- extend


def test_the_mechanic_extends_by_15_minutes_and_the_reservation_moves_with_it(
    booked, booking_customer, available_mechanic, clock, settings
):
    settings.SESSION_END_GRACE_MINUTES = 10
    session = live(booked, booking_customer, available_mechanic, clock)
    reservation = Reservation.objects.get(session=session, status=ReservationStatus.CONFIRMED)
    buffer = reservation.blocked_until - reservation.ends_at
    clock.move_to(END - timedelta(minutes=2), tick=False)
    lifecycle.session_extend(session_id=session.pk, user=available_mechanic.user)
    reservation.refresh_from_db()
    assert reservation.ends_at == END + timedelta(minutes=15)
    assert reservation.blocked_until == END + timedelta(minutes=15) + buffer
    assert advance(clock, END + timedelta(minutes=10))["completed"] == 0  # the old due time
    assert advance(clock, END + timedelta(minutes=25))["completed"] == 1
    extended = session.events.get(action="booking.session.extended")
    assert extended.data == {"minutes": 15, "ends_at": (END + timedelta(minutes=15)).isoformat()}
    note = Notification.objects.get(
        session=session, kind="session_extended", recipient=booking_customer
    )
    rendered = message_render(note)
    assert "extended by 15 minutes" in rendered.subject
    assert "extended your video session" in rendered.body
    assert Notification.objects.filter(session=session, kind="session_extended").count() == 2


def test_an_extension_into_the_mechanics_next_booking_is_refused(
    book, booked, booking_customer, available_mechanic, clock
):
    other = CustomerFactory()
    VehicleFactory(customer=other)
    buffer = Reservation.objects.get(session=booked).blocked_until - END
    book(other.user, available_mechanic, start=END + buffer)  # right after, buffer apart
    session = live(booked, booking_customer, available_mechanic, clock)
    with pytest.raises(SlotUnavailable) as refused:
        lifecycle.session_extend(session_id=session.pk, user=available_mechanic.user, now=END)
    assert refused.value.code == "extension_blocked" and refused.value.status == 409
    session.refresh_from_db()
    assert lifecycle.EXTENDED_KEY not in session.metadata
    assert Reservation.objects.get(session=session).ends_at == END
    assert "booking.session.extended" not in actions(session)


def test_only_the_mechanic_extends_and_only_a_live_session(
    booked, booking_customer, available_mechanic, clock
):
    with pytest.raises(Conflict):
        lifecycle.session_extend(session_id=booked.pk, user=available_mechanic.user, now=SLOT)
    live(booked, booking_customer, available_mechanic, clock)
    with pytest.raises(NotAllowed):
        lifecycle.session_extend(session_id=booked.pk, user=booking_customer, now=SLOT)


# --------------------------------------------------------------------------- no-shows


def test_the_mechanic_not_joining_is_a_mechanic_no_show_refunded_in_full(
    book, booking_customer, available_mechanic, clock
):
    session = book(booking_customer, available_mechanic, pay=True)
    assert balance(booking_customer) == 0
    room.session_join(session_id=session.pk, user=booking_customer, now=SLOT)
    assert advance(clock, SLOT + services.START_GRACE)["no_show"] == 0  # still in the grace
    assert advance(clock, SLOT + services.START_GRACE + timedelta(seconds=1))["no_show"] == 1
    assert advance(clock, SLOT + timedelta(hours=2))["no_show"] == 0  # twice, late: nothing
    session.refresh_from_db()
    assert session.status == SessionStatus.CANCELLED and session.cancelled_by == "system"
    cancelled = session.events.get(action="booking.session.cancelled")
    assert cancelled.data["no_show"] == "mechanic" and cancelled.data["mechanic_no_show"]
    assert balance(booking_customer) == ADVICE_CENTS  # 100 % back to the credits paid with
    assert Refund.objects.get(payment__session=session).reason == "mechanic_no_show"
    assert not Reservation.objects.filter(
        session=session, status=ReservationStatus.CONFIRMED
    ).exists()
    for user in (booking_customer, available_mechanic.user):
        kinds = kinds_for(session, user)
        assert "no_show" in kinds and "cancelled" not in kinds
    note = Notification.objects.get(session=session, kind="no_show", recipient=booking_customer)
    rendered = message_render(note)
    assert "did not join" in rendered.body and "refunded in full" in rendered.body


def test_the_customer_not_joining_is_a_customer_no_show_under_the_cancellation_policy(
    book, booking_customer, available_mechanic, clock
):
    session = book(booking_customer, available_mechanic, pay=True)
    room.session_join(session_id=session.pk, user=available_mechanic.user, now=SLOT)
    assert advance(clock, SLOT + timedelta(minutes=20))["no_show"] == 1
    session.refresh_from_db()
    cancelled = session.events.get(action="booking.session.cancelled")
    assert cancelled.data["no_show"] == "customer" and cancelled.data["customer_no_show"]
    assert not cancelled.data.get("mechanic_no_show")
    # The late-cancellation rule: half, as credits.
    assert balance(booking_customer) == ADVICE_CENTS // 2
    assert Refund.objects.get(payment__session=session).reason == "customer_no_show"
    note = Notification.objects.get(session=session, kind="no_show", recipient=booking_customer)
    assert "You did not join" in message_render(note).body


def test_nobody_joining_gives_the_customer_the_benefit_of_the_doubt(booked, clock):
    assert advance(clock, SLOT + timedelta(minutes=16))["no_show"] == 1
    booked.refresh_from_db()
    assert booked.events.get(action="booking.session.cancelled").data["no_show"] == "mechanic"


def test_a_session_that_went_live_is_never_a_no_show(
    booked, booking_customer, available_mechanic, clock, settings
):
    settings.SESSION_END_GRACE_MINUTES = 60  # still live when the no-show rule would apply
    live(booked, booking_customer, available_mechanic, clock)
    assert advance(clock, SLOT + timedelta(minutes=20))["no_show"] == 0
    booked.refresh_from_db()
    assert booked.status == SessionStatus.LIVE


# --------------------------------------------------------------------------- one at a time


def test_a_customer_cannot_start_a_second_session_while_one_is_live(
    book, booked, booking_customer, available_mechanic, clock
):
    from tests.factories import MechanicFactory, weekly_hours

    second_mechanic = MechanicFactory()
    weekly_hours(second_mechanic, days=range(7), start=9 * 60, end=17 * 60)
    later_start = END + timedelta(hours=1)
    second = book(booking_customer, second_mechanic, start=later_start)
    first = live(booked, booking_customer, available_mechanic, clock)
    clock.move_to(later_start - timedelta(minutes=10), tick=False)  # first ran long? still live
    with pytest.raises(Conflict) as refused:
        services.session_start(session_id=second.pk, user=booking_customer)
    assert refused.value.code == "active_session" and refused.value.status == 409
    assert f"#{first.pk}" in refused.value.message
    with pytest.raises(Conflict):
        room.session_join(session_id=second.pk, user=booking_customer)
    # The mechanic's join is recorded, but the session waits for the first one to end.
    room.session_join(session_id=second.pk, user=second_mechanic.user)
    second.refresh_from_db()
    assert second.status == SessionStatus.SCHEDULED


def test_a_booking_that_overlaps_another_booked_session_is_refused(
    booked, booking_customer, hold, clock
):
    from tests.factories import MechanicFactory, weekly_hours

    other = MechanicFactory()
    weekly_hours(other, days=range(7), start=9 * 60, end=17 * 60)
    with pytest.raises(Conflict) as refused:
        hold(booking_customer, other, start=SLOT + timedelta(minutes=15))
    assert refused.value.code == "active_session" and f"#{booked.pk}" in refused.value.message
    hold(booking_customer, other, start=END + timedelta(hours=1))  # later the same day is fine


def test_start_now_is_refused_while_a_session_is_live(
    booked, booking_customer, available_mechanic, intake, clock
):
    live(booked, booking_customer, available_mechanic, clock)
    with pytest.raises(Conflict) as refused:
        services.session_create_immediate(
            customer=booking_customer, intake=intake(booking_customer)
        )
    assert refused.value.code == "active_session"


# --------------------------------------------------------------------------- the room


def test_the_mechanic_extends_from_the_room_and_sees_the_new_end(
    login, booked, booking_customer, available_mechanic, clock
):
    live(booked, booking_customer, available_mechanic, clock)
    client = login(available_mechanic.user)
    page = client.get(f"/booking/sessions/{booked.pk}/room/").content.decode()
    assert "Extend by 15 minutes" in page and "ends on its own at" in page
    response = client.post(f"/booking/sessions/{booked.pk}/extend/", follow=True)
    assert "Extended by 15 minutes: it now ends at" in response.content.decode()
    booked.refresh_from_db()
    assert booked.metadata[lifecycle.EXTENDED_KEY] == 15
    customer_page = login(booking_customer).get(f"/booking/sessions/{booked.pk}/room/")
    assert "Extend by 15 minutes" not in customer_page.content.decode()


def test_the_api_refuses_an_extension_by_the_customer(
    login, booked, booking_customer, available_mechanic, clock
):
    live(booked, booking_customer, available_mechanic, clock)
    response = login(booking_customer).post(f"/api/sessions/{booked.pk}/extend")
    assert response.status_code == 403 and response.json()["code"]
    ok = login(available_mechanic.user).post(f"/api/sessions/{booked.pk}/extend")
    assert ok.status_code == 200 and ok.json()["status"] == "live"
