"""Races on workshop visits against a real database with real threads (STYLE: canary
first). The canary removes the bay guard and shows that the application's own free-bay
check lets visits through into one bay when clients race; with the guard in place, 50
customers asking for the last free bay give exactly one request and 49 clean 409s that
carry the next free times."""

import importlib
import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection

from autodoctor.errors import SlotUnavailable
from autodoctor.workshops import services
from autodoctor.workshops.models import Visit
from autodoctor.workshops.services import VisitRequest
from tests.racing import race

from .conftest import HOUR, NOW, TUESDAY_10

pytestmark = [pytest.mark.race, pytest.mark.django_db(transaction=True)]

CLIENTS = 50
_guard = importlib.import_module("autodoctor.workshops.migrations.0002_bay_guard")


def bay_overlaps(workshop_id: int) -> int:
    rows = list(
        Visit.objects.filter(
            workshop_id=workshop_id,
            status__in=["requested", "countered", "confirmed", "checked_in"],
        ).values_list("bay", "starts_at", "ends_at")
    )
    return sum(
        1
        for i, a in enumerate(rows)
        for b in rows[i + 1 :]
        if a[0] == b[0] and a[1] < b[2] and b[1] < a[2]
    )


@pytest.fixture
def last_bay(workshop, completed_session):
    """The 2-bay workshop with bay 1 taken at Tuesday 10:00 and 50 customers who each
    finished a session: one bay left for all of them."""
    services.visit_request_from_session(
        customer=(first := completed_session()).customer,
        session_id=first.pk,
        request=VisitRequest(workshop_id=workshop.pk, starts_at=TUESDAY_10),
        now=NOW,
    )
    return workshop, [completed_session() for _ in range(CLIENTS)]


def _request_for(workshop, sessions):
    def work(i: int):
        return services.visit_request_from_session(
            customer=sessions[i].customer,
            session_id=sessions[i].pk,
            request=VisitRequest(workshop_id=workshop.pk, starts_at=TUESDAY_10),
            now=NOW,
        )

    return work


@pytest.fixture
def everyone_passes_the_check_first(monkeypatch):
    """Every client passes the friendly time check before anyone writes: the window a
    check-then-insert design leaves open. Canary and guarded race share it."""
    barrier = threading.Barrier(CLIENTS)
    real_check = services._time_refusal

    def check_then_wait(*args, **kwargs):
        try:
            return real_check(*args, **kwargs)
        finally:
            barrier.wait(60)

    monkeypatch.setattr(services, "_time_refusal", check_then_wait)


def test_canary_without_the_bay_guard_racing_requests_overbook(
    last_bay, everyone_passes_the_check_first, monkeypatch
):
    workshop, sessions = last_bay
    # A design whose free-bay check ran before the others wrote (the check every
    # client passed above): without the database guard nothing else stops them.
    monkeypatch.setattr(services, "_free_bays", lambda visit, now: [2])
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE workshops_visit DROP CONSTRAINT visit_bay_no_overlap")
        else:
            cursor.execute("DROP TRIGGER visit_bay_no_overlap_insert")
            cursor.execute("DROP TRIGGER visit_bay_no_overlap_update")
    try:
        outcomes = race(CLIENTS, _request_for(workshop, sessions))
        assert outcomes["ok"] > 1, outcomes
        assert bay_overlaps(workshop.pk) > 0
    finally:
        # The canary's overlapping rows would stop PostgreSQL from re-adding the guard.
        Visit.objects.update(status="cancelled")
        forward = _guard.PG_FORWARD if connection.vendor == "postgresql" else _guard.SQLITE_FORWARD
        with connection.cursor() as cursor:
            for sql in forward:
                cursor.execute(sql)


def test_fifty_customers_asking_for_the_last_bay_give_one_request(
    last_bay, everyone_passes_the_check_first
):
    workshop, sessions = last_bay
    refusals = []

    def work(i: int):
        try:
            return _request_for(workshop, sessions)(i)
        except SlotUnavailable as exc:
            refusals.append(exc.data.get("next_free_slots"))
            raise

    outcomes = race(CLIENTS, work)
    assert outcomes == Counter({"ok": 1, "SlotUnavailable": CLIENTS - 1}), outcomes
    assert Visit.objects.filter(workshop=workshop, status="requested").count() == 2
    assert bay_overlaps(workshop.pk) == 0
    assert all(nxt and nxt[0] == (TUESDAY_10 + HOUR).isoformat() for nxt in refusals)


def test_confirm_against_the_customers_cancel(workshop, shop_mechanic, completed_session):
    session = completed_session()
    visit = services.visit_request_from_session(
        customer=session.customer,
        session_id=session.pk,
        request=VisitRequest(workshop_id=workshop.pk, starts_at=TUESDAY_10),
        now=NOW,
    )
    staff = workshop.staff_user

    def work(i: int):
        if i == 0:
            return services.visit_confirm(
                user=staff, visit_id=visit.pk, mechanic_id=shop_mechanic.pk, now=NOW
            )
        return services.visit_cancel(user=session.customer, visit_id=visit.pk, now=NOW)

    outcomes = race(2, work)
    visit.refresh_from_db()
    # Both may succeed in either order (cancel after confirm is allowed); never a 500,
    # and a cancelled visit never keeps the mechanic's time.
    assert set(outcomes) <= {"ok", "InvalidTransition"}, outcomes
    if visit.status == "cancelled":
        assert not shop_mechanic.reservations.filter(status="confirmed").exists()
    else:
        assert visit.status == "confirmed" and outcomes["InvalidTransition"] == 1


def test_accepting_another_time_against_its_expiry(workshop, completed_session):
    session = completed_session()
    visit = services.visit_request_from_session(
        customer=session.customer,
        session_id=session.pk,
        request=VisitRequest(workshop_id=workshop.pk, starts_at=TUESDAY_10),
        now=NOW,
    )
    visit = services.visit_counter(
        user=workshop.staff_user,
        visit_id=visit.pk,
        starts_at=TUESDAY_10 + 2 * HOUR,
        now=NOW,
    )
    deadline = visit.expires_at

    def work(i: int):
        if i == 0:
            return services.visit_counter_accept(
                customer=session.customer, visit_id=visit.pk, now=deadline - timedelta(seconds=1)
            )
        return services.visits_expire(now=deadline)

    outcomes = race(2, work)
    visit.refresh_from_db()
    events = list(visit.events.values_list("action", flat=True))
    assert outcomes["ok"] >= 1, outcomes
    if visit.status == "confirmed":
        assert "workshops.visit.expired" not in events
    else:
        assert visit.status == "expired" and outcomes["InvalidTransition"] == 1
        assert "workshops.visit.counter_accepted" not in events
