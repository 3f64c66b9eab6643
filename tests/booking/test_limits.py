"""Per-customer caps: holds and start-now requests cost nothing, so without a cap one
script could hold a mechanic's whole week or fan offers out to every mechanic
(reliability issue, part 1; plan §1.3 "active session" check)."""

from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection

from autodoctor.booking import services
from autodoctor.booking.models import Offer, Reservation, ReservationStatus, Session
from autodoctor.booking.selectors import plain_rows
from autodoctor.errors import Conflict, DomainError
from autodoctor.payments.services import checkout
from tests.factories import CustomerFactory, MechanicFactory, weekly_hours
from tests.racing import race

from .conftest import NOW, SLOT, later

pytestmark = pytest.mark.django_db


@pytest.fixture
def mechanics(db):
    crew = [MechanicFactory() for _ in range(4)]
    for mechanic in crew:
        weekly_hours(mechanic, days=range(7), start=9 * 60, end=17 * 60)
    return crew


def test_a_customer_holds_at_most_three_slots_at_once(booking_customer, mechanics, hold):
    for mechanic in mechanics[:3]:
        hold(booking_customer, mechanic)
    with pytest.raises(DomainError) as refused:
        hold(booking_customer, mechanics[3])
    assert (refused.value.status, refused.value.code) == (429, "hold_limit")
    assert "already holding 3 slots" in refused.value.message
    assert Reservation.objects.count() == 3


def test_an_expired_or_released_hold_no_longer_counts(booking_customer, mechanics, hold):
    first = hold(booking_customer, mechanics[0])
    for mechanic in mechanics[1:3]:
        hold(booking_customer, mechanic)
    services.reservation_release(reservation_id=first.pk, customer=booking_customer, now=later(1))
    assert hold(booking_customer, mechanics[3], now=later(2)).status == ReservationStatus.RESERVED
    # 16 minutes on, every hold above has expired (no sweeper ran): a fresh one is fine.
    assert hold(booking_customer, mechanics[0], now=later(17)).status == ReservationStatus.RESERVED


def test_a_customer_holds_at_most_two_slots_of_one_mechanic_on_one_day(
    booking_customer, mechanics, hold
):
    mechanic = mechanics[0]
    hold(booking_customer, mechanic, start=SLOT)
    hold(booking_customer, mechanic, start=SLOT + timedelta(hours=2))
    with pytest.raises(DomainError) as refused:
        hold(booking_customer, mechanic, start=SLOT + timedelta(hours=4))
    assert refused.value.code == "hold_limit" and "that day" in refused.value.message
    # the next day is another day
    assert hold(booking_customer, mechanic, start=SLOT + timedelta(days=1)).pk


def test_the_limits_are_settings(settings, booking_customer, mechanics, hold):
    settings.HOLDS_PER_CUSTOMER = 1
    hold(booking_customer, mechanics[0])
    with pytest.raises(DomainError):
        hold(booking_customer, mechanics[1])


def _start_now(customer, intake, now=NOW):
    return services.session_create_immediate(
        customer=customer, intake=intake(customer, "trial"), now=now
    )


def test_a_request_out_to_mechanics_blocks_a_second_one_until_it_is_settled(
    booking_customer, mechanics, intake
):
    first = _start_now(booking_customer, intake)
    checkout.payment_with_waiver(
        customer=booking_customer, session_id=first.pk, accepted=True, now=later(1)
    )
    offers_out = Offer.objects.count()
    with pytest.raises(Conflict) as refused:
        _start_now(booking_customer, intake, now=later(2))
    assert refused.value.code == "active_request"
    assert refused.value.data["session_id"] == first.pk
    assert Offer.objects.count() == offers_out  # nobody was offered anything more
    services.session_cancel(session_id=first.pk, user=booking_customer, now=later(3))
    assert _start_now(booking_customer, intake, now=later(4)).pk


def test_at_most_three_unpaid_start_now_requests(booking_customer, intake):
    for minute in range(3):
        _start_now(booking_customer, intake, now=later(minute))
    with pytest.raises(DomainError) as refused:
        _start_now(booking_customer, intake, now=later(4))
    assert (refused.value.status, refused.value.code) == (429, "request_limit")
    assert Session.objects.count() == 3


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("guarded", [False, True], ids=["canary-without-lock", "with-lock"])
def test_racing_holds_of_one_customer_never_exceed_the_cap(
    monkeypatch, guarded, booking_customer, intake
):
    """Eight holds of one customer on eight mechanics at once. Without the customer-row
    lock, PostgreSQL lets several transactions count "fewer than 3" together (SQLite's
    IMMEDIATE write transactions serialise them anyway, so the canary needs PostgreSQL)."""
    if not guarded and connection.vendor != "postgresql":
        pytest.skip("SQLite serialises write transactions: the race needs PostgreSQL")
    crew = [MechanicFactory() for _ in range(8)]
    for mechanic in crew:
        weekly_hours(mechanic, days=range(7), start=9 * 60, end=17 * 60)
    if not guarded:
        # The count-then-insert without the customer-row lock.
        monkeypatch.setattr(services, "_lock_customer", lambda customer: None)
    intakes = [intake(booking_customer) for _ in crew]

    def work(i: int):
        return services.reservation_hold(
            customer=booking_customer,
            intake=intakes[i],
            mechanic_id=crew[i].pk,
            starts_at=SLOT,
            now=NOW,
        )

    outcomes = race(len(crew), work)
    held = Reservation.objects.filter(status=ReservationStatus.RESERVED).count()
    if guarded:
        assert outcomes == Counter({"ok": 3, "DomainError": 5}), outcomes
        assert held == 3
    else:
        assert held > 3, outcomes


def test_a_customers_live_holds_are_read_by_their_sessions_whatever_the_statistics(
    booking_customer, mechanics, hold
):
    """The hold cap reads the customer's own few holds, not everyone's: statistics taken
    while holds were rare, then a burst of 1,200 other customers' live holds (a sale, the
    hold bench) once made PostgreSQL scan every live hold on the platform for each new hold.
    Fails with the plain join on PostgreSQL (verified: its plan read the (status,
    expires_at) index and filtered every live hold by session)."""
    mine = hold(booking_customer, mechanics[0])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    other = CustomerFactory().user
    sessions = Session.objects.bulk_create(
        Session(customer=other, mechanic=mine.mechanic, plan=mine.session.plan, duration_minutes=30)
        for _ in range(1200)
    )
    Reservation.objects.bulk_create(
        Reservation(
            mechanic=mechanics[k % 4],
            session=session,
            starts_at=SLOT + timedelta(days=2, hours=k),
            ends_at=SLOT + timedelta(days=2, hours=k, minutes=30),
            blocked_until=SLOT + timedelta(days=2, hours=k, minutes=30),
            status=ReservationStatus.RESERVED,
            expires_at=NOW + timedelta(minutes=15),
        )
        for k, session in enumerate(sessions)
    )
    params = [booking_customer.pk, ReservationStatus.RESERVED, NOW, 10]
    sql = services._CUSTOMER_LIVE_HOLDS[connection.vendor == "postgresql"]
    explain = "EXPLAIN " if connection.vendor == "postgresql" else "EXPLAIN QUERY PLAN "
    plan = "\n".join(str(row) for row in plain_rows(explain + sql, params))
    assert "booking_reservation_session_id" in plan, plan
    assert "reservation_status" not in plan and "booking_res_status" not in plan, plan
    live = [(m, services.db_instant(start)) for m, start in plain_rows(sql, params)]
    assert live == [(mine.mechanic_id, mine.starts_at)]
