"""Races against a real database with real threads and processes (STYLE: canary first).

The canary removes the database guarantee and shows that the application's own
availability check lets overlapping holds through when clients race; with the
guarantee in place exactly one client wins and the rest get a clean 409.
"""

import multiprocessing
import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings

from autodoctor.booking import services
from autodoctor.booking.models import Offer, OfferKind, Reservation, ReservationStatus, Session
from autodoctor.errors import Conflict, SlotUnavailable
from tests.factories import CustomerFactory, MechanicFactory, VehicleFactory, start_now_published
from tests.racing import race

from .conftest import NOW, SLOT, later
from .race_worker import hold_in_child

pytestmark = [pytest.mark.race, pytest.mark.django_db(transaction=True)]

CLIENTS = 20


def overlapping_active_pairs(mechanic_id: int) -> int:
    rows = list(
        Reservation.objects.filter(
            mechanic_id=mechanic_id, status__in=["reserved", "confirmed"]
        ).values_list("starts_at", "blocked_until")
    )
    return sum(1 for i, a in enumerate(rows) for b in rows[i + 1 :] if a[0] < b[1] and b[0] < a[1])


@pytest.fixture
def mechanic_with_hours(db):
    from tests.factories import weekly_hours

    mechanic = MechanicFactory()
    weekly_hours(mechanic, days=range(7))
    return mechanic


@pytest.fixture
def customers(db):
    result = []
    for _ in range(CLIENTS):
        profile = CustomerFactory()
        VehicleFactory(customer=profile)
        result.append(profile.user)
    return result


def _hold_for(customers, mechanic, intake):
    intakes = [intake(c) for c in customers]

    def work(i: int):
        return services.reservation_hold(
            customer=customers[i],
            intake=intakes[i],
            mechanic_id=mechanic.pk,
            starts_at=SLOT,
            now=NOW,
        )

    return work


def _drop_guard() -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE booking_reservation DROP CONSTRAINT reservation_no_overlap")
        else:
            cursor.execute("DROP TRIGGER reservation_no_overlap_insert")


def _restore_guard() -> None:
    import importlib

    guard = importlib.import_module("autodoctor.booking.migrations.0002_overlap_guard_and_plans")
    statements = guard.PG_FORWARD if connection.vendor == "postgresql" else guard.SQLITE_FORWARD[:1]
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


@pytest.fixture
def everyone_passes_the_check_first(monkeypatch):
    """Every client passes the friendly availability check before anyone inserts:
    exactly the window a check-then-insert design leaves open. The canary and the
    guarded race below share it, so they differ only in the database guard."""
    barrier = threading.Barrier(CLIENTS)
    real_check = services._slot_refusal

    def check_then_wait(*args, **kwargs):
        try:
            return real_check(*args, **kwargs)
        finally:
            barrier.wait(30)

    monkeypatch.setattr(services, "_slot_refusal", check_then_wait)


def test_canary_without_the_database_guard_racing_holds_double_book(
    mechanic_with_hours, customers, intake, everyone_passes_the_check_first
):
    _drop_guard()
    try:
        outcomes = race(CLIENTS, _hold_for(customers, mechanic_with_hours, intake))
        assert outcomes["ok"] > 1, outcomes
        assert overlapping_active_pairs(mechanic_with_hours.pk) > 0
    finally:
        # The canary's overlapping rows would stop PostgreSQL from re-adding the constraint.
        Reservation.objects.update(status=ReservationStatus.RELEASED)
        _restore_guard()


def test_twenty_clients_holding_the_same_slot_give_exactly_one_reservation(
    mechanic_with_hours, customers, intake, everyone_passes_the_check_first
):
    outcomes = race(CLIENTS, _hold_for(customers, mechanic_with_hours, intake))
    assert outcomes == Counter({"ok": 1, "SlotUnavailable": CLIENTS - 1}), outcomes
    assert Reservation.objects.filter(status="reserved").count() == 1
    assert overlapping_active_pairs(mechanic_with_hours.pk) == 0
    # the losers' sessions were rolled back with their holds: nothing half-written
    assert Session.objects.count() == 1


def test_clients_racing_over_an_expired_hold_give_exactly_one_reservation(
    mechanic_with_hours, customers, intake, everyone_passes_the_check_first
):
    # Every racer meets the lapsed hold in its way: one expires it, exactly one wins,
    # and nobody ends "busy" (issue 15: an insert-first variant deadlocked here on PG).
    stale_customer = customers[-1]
    services.run_booking_transaction(  # a hold that lapsed a minute ago (no pre-check)
        lambda: services.reservation_hold_locked(
            customer=stale_customer,
            intake=intake(stale_customer),
            mechanic=mechanic_with_hours,
            starts_at=SLOT,
            expires_at=NOW - timedelta(minutes=1),
            now=NOW - timedelta(minutes=16),
        )
    )
    outcomes = race(CLIENTS, _hold_for(customers, mechanic_with_hours, intake))
    assert outcomes == Counter({"ok": 1, "SlotUnavailable": CLIENTS - 1}), outcomes
    assert Reservation.objects.filter(status="reserved").count() == 1
    assert Reservation.objects.filter(status="expired").count() == 1
    assert overlapping_active_pairs(mechanic_with_hours.pk) == 0
    assert Session.objects.count() == 2  # the expired hold's pending session + the winner's


def test_ten_mechanics_accepting_one_broadcast_make_exactly_one_assignment(
    customers, intake, monkeypatch
):
    mechanics = [MechanicFactory() for _ in range(10)]
    customer = customers[0]
    monkeypatch.setattr(services, "mechanics_ranked", lambda *a, **k: [])  # broadcast only
    with override_settings(TARGETED_OFFER_SECONDS=0):
        session = start_now_published(customer, intake(customer))
        broadcast = Offer.objects.get(session=session, kind=OfferKind.BROADCAST)
        outcomes = race(
            10, lambda i: services.offer_accept(offer_id=broadcast.pk, mechanic=mechanics[i])
        )
    assert outcomes["ok"] == 1, outcomes
    assert sum(outcomes.values()) == 10 and set(outcomes) <= {"ok", "Conflict"}
    session.refresh_from_db()
    assert session.mechanic_id is not None
    assert Offer.objects.filter(session=session, status="accepted").count() == 1
    assert Reservation.objects.filter(session=session).count() == 1


def test_reschedule_racing_a_new_booking_into_the_same_slot_has_one_winner(
    mechanic_with_hours, customers, intake
):
    first = services.reservation_hold(
        customer=customers[0],
        intake=intake(customers[0]),
        mechanic_id=mechanic_with_hours.pk,
        starts_at=SLOT,
        now=NOW,
    )
    services.reservation_confirm(reservation_id=first.pk, customer=customers[0], now=later(1))
    target = SLOT + timedelta(hours=3)
    newcomer_intake = intake(customers[1])

    def work(i: int):
        if i == 0:
            return services.session_reschedule(
                session_id=first.session_id, user=customers[0], new_start=target, now=later(2)
            )
        return services.reservation_hold(
            customer=customers[1],
            intake=newcomer_intake,
            mechanic_id=mechanic_with_hours.pk,
            starts_at=target,
            now=later(2),
        )

    for _ in range(3):  # a few rounds: the interleaving differs between runs
        outcomes = race(2, work)
        assert outcomes["ok"] == 1 and outcomes["SlotUnavailable"] == 1, outcomes
        assert overlapping_active_pairs(mechanic_with_hours.pk) == 0
        Reservation.objects.filter(starts_at=target).exclude(session_id=first.session_id).update(
            status="released"
        )
        session = Session.objects.get(pk=first.session_id)
        if session.scheduled_for == target:
            services.session_reschedule(
                session_id=session.pk, user=customers[0], new_start=SLOT, now=later(2)
            )


# ---------------------------------------------------------------- separate processes


def _test_database_url() -> str:
    s = connection.settings_dict
    if connection.vendor == "postgresql":
        return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    return f"sqlite:///{s['NAME']}"


def test_separate_processes_holding_one_slot_give_one_winner(mechanic_with_hours, customers):
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    url = _test_database_url()
    procs = [
        ctx.Process(
            target=hold_in_child,
            args=(
                url,
                customers[i].pk,
                mechanic_with_hours.pk,
                SLOT.isoformat(),
                NOW.isoformat(),
                queue,
            ),
        )
        for i in range(4)
    ]
    for p in procs:
        p.start()
    results = Counter(queue.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(60)
    assert results == Counter({"ok": 1, "SlotUnavailable": 3}), results
    assert overlapping_active_pairs(mechanic_with_hours.pk) == 0


def test_racing_losers_never_see_a_server_error(mechanic_with_hours, customers, intake):
    # Without the barrier: natural contention. Any outcome other than ok/409 is a bug.
    outcomes = race(CLIENTS, _hold_for(customers, mechanic_with_hours, intake))
    assert set(outcomes) <= {"ok", "SlotUnavailable"}, outcomes
    assert outcomes["ok"] == 1
    assert isinstance(SlotUnavailable("x"), Conflict)
    assert Reservation.objects.filter(status=ReservationStatus.RESERVED).count() == 1


@pytest.mark.parametrize(
    "lock_customer",
    [services._lock_customer, services._open_start_now_limit],
    ids=["hold cap", "start-now cap"],
)
def test_a_customers_cap_lock_lets_other_transactions_write_rows_about_that_customer(
    customers, lock_customer
):
    # The caps lock the customer's row to make their count and insert one step. Another
    # transaction must still be able to insert a row referencing that customer (a
    # hold-expired notification from whoever expires their hold): FOR UPDATE blocked that
    # insert's key-share lock and, with the two transactions waiting on each other,
    # PostgreSQL deadlocked (3-18 times a run of the expired-hold race, hidden by retries).
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite's one write lock queues everything")
    from django.db import transaction

    from autodoctor.notifications.models import Notification

    customer = customers[0]
    outcome: list[str] = []

    def write_about_customer() -> None:
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '3s'")
                Notification.objects.create(
                    recipient=customer, kind="hold_expired", dedupe_key="lock-probe"
                )
            outcome.append("written")
        except Exception as exc:
            outcome.append(type(exc).__name__)
        finally:
            connection.close()

    with transaction.atomic():
        lock_customer(customer)
        writer = threading.Thread(target=write_about_customer)
        writer.start()
        writer.join(10)
    assert outcome == ["written"]
    assert Notification.objects.filter(recipient=customer, dedupe_key="lock-probe").count() == 1
