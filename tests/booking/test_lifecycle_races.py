"""The lifecycle job completing a session while its mechanic extends it, at the same
moment, with real threads on the real database: either the extension wins (the session
stays live, its reservation longer) or the completion wins (the extension gets a 409 and
nothing moved). Never both, never a half-written mix."""

from collections import Counter
from datetime import timedelta

import pytest

from autodoctor.booking import lifecycle, room, services
from autodoctor.booking.models import Reservation, Session, SessionStatus
from tests.racing import race

from .conftest import SLOT

pytestmark = [pytest.mark.race, pytest.mark.django_db(transaction=True)]

MINUTES = 30  # the advice plan


def test_the_job_completing_and_the_mechanic_extending_at_once_agree(
    booking_customer, available_mechanic, hold, time_machine, settings
):
    settings.SESSION_END_GRACE_MINUTES = 10
    reservation = hold(booking_customer, available_mechanic)
    services.reservation_confirm(
        reservation_id=reservation.pk, customer=booking_customer, now=SLOT - timedelta(days=1)
    )
    time_machine.move_to(SLOT, tick=False)
    for user in (booking_customer, available_mechanic.user):
        room.session_join(session_id=reservation.session_id, user=user, now=SLOT)
    # The last moment an extension is allowed, which is also when the job may complete.
    at = SLOT + timedelta(minutes=MINUTES + 10) - timedelta(microseconds=1)
    results: dict[str, object] = {}

    def work(i: int):
        if i == 0:
            results["job"] = lifecycle.sessions_advance(now=at + timedelta(microseconds=1))
        else:
            lifecycle.session_extend(
                session_id=reservation.session_id, user=available_mechanic.user, now=at
            )

    outcomes = race(2, work)
    session = Session.objects.get(pk=reservation.session_id)
    pinned = Reservation.objects.get(pk=reservation.pk)
    extended = session.events.filter(action="booking.session.extended").count()
    completed = session.events.filter(action="booking.session.completed").count()
    assert extended + completed == 1, (outcomes, extended, completed)
    if extended:
        assert outcomes == Counter({"ok": 2}) and results["job"]["completed"] == 0
        assert session.status == SessionStatus.LIVE
        assert pinned.ends_at == SLOT + timedelta(minutes=MINUTES + 15)
    else:
        assert outcomes == Counter({"ok": 1, "Conflict": 1}) and results["job"]["completed"] == 1
        assert session.status == SessionStatus.COMPLETED
        assert pinned.ends_at == SLOT + timedelta(minutes=MINUTES)
        assert lifecycle.EXTENDED_KEY not in session.metadata
