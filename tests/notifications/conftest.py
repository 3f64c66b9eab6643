"""Notification fixtures: the booking fixtures, a fixed site URL, an in-memory SMS sink,
and helpers that drive a real booking through the booking services."""

from datetime import timedelta

import pytest
import time_machine

from autodoctor.booking import services as booking
from autodoctor.notifications.channels.sms import MemorySmsSender
from tests.booking import conftest as booking_fixtures
from tests.booking.conftest import NOW, SLOT

# The booking fixtures, re-used as they are (plans is autouse).
plans = booking_fixtures.plans
booking_customer = booking_fixtures.booking_customer
available_mechanic = booking_fixtures.available_mechanic
intake = booking_fixtures.intake
hold = booking_fixtures.hold

SITE = "https://autodoctor.example"


@pytest.fixture(autouse=True)
def notification_settings(settings):
    settings.SITE_URL = SITE
    settings.SMS_BACKEND = "autodoctor.notifications.channels.sms.MemorySmsSender"
    settings.TWILIO_ACCOUNT_SID = settings.TWILIO_AUTH_TOKEN = settings.TWILIO_FROM_NUMBER = ""
    MemorySmsSender.outbox.clear()
    yield
    MemorySmsSender.outbox.clear()


@pytest.fixture
def sms_outbox():
    return MemorySmsSender.outbox


@pytest.fixture
def clock():
    """Freeze the wall clock at NOW (event and row timestamps) and move it on demand."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def book(hold, clock):
    """book(customer, mechanic, start=SLOT) -> a confirmed (scheduled) session."""

    def _book(customer, mechanic, start=SLOT):
        reservation = hold(customer, mechanic, start=start)
        booking.reservation_confirm(
            reservation_id=reservation.pk, customer=customer, now=NOW + timedelta(minutes=1)
        )
        session = reservation.session
        session.refresh_from_db()
        return session

    return _book


@pytest.fixture
def scheduled_session(booking_customer, available_mechanic):
    """scheduled_session(start=SLOT) -> a scheduled Session made directly with the ORM
    (no availability check, no events): for tests of the outbox and reminders alone."""
    from autodoctor.booking.models import Plan, Session, SessionStatus

    def _make(start=SLOT, customer=None, mechanic=None):
        return Session.objects.create(
            customer=customer or booking_customer,
            mechanic=mechanic or available_mechanic,
            plan=Plan.objects.get(code="advice"),
            concern="Grinding noise when braking at low speed",
            vehicle_label="2018 Honda Civic",
            scheduled_for=start,
            duration_minutes=30,
            status=SessionStatus.SCHEDULED,
        )

    return _make


@pytest.fixture
def queue_message():
    """queue_message(session, recipient, kind="confirmation") -> Notification (+ outbox rows)."""
    from autodoctor.notifications.facts import role_of, session_facts
    from autodoctor.notifications.services import notification_create

    counter = iter(range(1, 10_000))

    def _queue(session, recipient, kind="confirmation", now=NOW):
        return notification_create(
            recipient=recipient,
            kind=kind,
            session=session,
            context={
                **session_facts(session),
                "stamp": now.isoformat(),
                "role": role_of(session, recipient.pk),
            },
            dedupe_key=f"{kind}:{session.pk}:{recipient.pk}:t{next(counter)}",
            now=now,
        )

    return _queue
