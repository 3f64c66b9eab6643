"""The session facts (analytics.facts) never change an answer.

Every metric reads the fact table, refreshed from the dirty sessions the database
triggers mark. On random histories with random writes of every kind that changes a fact
(book, confirm, release, cancel by each side at each lateness, no-shows both ways and by
the clock, reschedule, accept a start-now request, rate and edit a rating, delete, and
admin-style queryset updates of any column), with and without refreshes in between:

- after a refresh the table holds exactly what the one definition (`fact_rows`) computes
  from the raw tables now (so no write escaped the triggers);
- every dashboard figure, for the platform, one mechanic, one workshop and each admin
  filter, equals the raw-table computation (tests/analytics/raw_metrics.py).
"""

import random
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, connections, transaction

from autodoctor.analytics import facts, metrics
from autodoctor.analytics.metrics import MECHANIC, WORKSHOP, Period, Scope
from autodoctor.analytics.models import FactDirty, SessionFact, SessionRating
from autodoctor.booking.models import (
    Offer,
    OfferKind,
    OfferStatus,
    Plan,
    Reservation,
    Session,
    SessionEvent,
    SessionStatus,
)
from tests.factories import CustomerFactory, MechanicFactory, WorkshopFactory

from . import raw_metrics

pytestmark = pytest.mark.django_db

START = datetime(2031, 2, 3, 5, 0, tzinfo=UTC)  # Monday, three weeks
PERIODS = [
    Period(START, START + timedelta(days=21)),
    Period(START + timedelta(days=4, hours=7), START + timedelta(days=11, minutes=30)),
]
NOW = START + timedelta(days=40)
ZONE = "America/Toronto"
CANCEL = "booking.session.cancelled"


def _population():
    shop = WorkshopFactory()
    mechanics = [
        MechanicFactory(postal_code="M4C 1B5"),
        MechanicFactory(postal_code="H2X 1Y4"),
        MechanicFactory(affiliated=True, workshop=shop, postal_code="V5K 0A1"),
        MechanicFactory(independent=True, workshop=shop, postal_code="M5V 2T6"),
    ]
    customers = [CustomerFactory().user for _ in range(3)]
    return shop, mechanics, customers


def _instant(rng: random.Random) -> datetime:
    return START + timedelta(minutes=rng.randint(-2 * 1440, 23 * 1440))


def _book(rng: random.Random, mechanics, customers) -> Session:
    """A session as booking would write it: advance (with a hold, maybe confirmed) or
    start-now (maybe paid and sent out, maybe taken)."""
    created = _instant(rng)
    advance = rng.random() < 0.6
    mechanic = rng.choice(mechanics) if advance or rng.random() < 0.6 else None
    lead = timedelta(minutes=rng.choice([30, 119, 120, 600, 1440, 4000, 10080, 20000]))
    session = Session.objects.create(
        customer=rng.choice(customers),
        mechanic=mechanic,
        plan=rng.choice(list(Plan.objects.all())),
        status=SessionStatus.SCHEDULED
        if advance
        else (SessionStatus.WAITING if mechanic else SessionStatus.PENDING),
        concern="Grinding noise when braking",
        duration_minutes=30,
        scheduled_for=created + lead if advance else None,
        offered_at=None if advance or rng.random() < 0.2 else created + timedelta(minutes=2),
    )
    Session.objects.filter(pk=session.pk).update(created_at=created)
    session.refresh_from_db()
    if advance:
        start = session.scheduled_for
        confirmed = rng.random() < 0.8
        Reservation.objects.create(
            mechanic=mechanic,
            session=session,
            starts_at=start,
            ends_at=start + timedelta(minutes=30),
            blocked_until=start + timedelta(minutes=30),
            status="confirmed" if confirmed else "reserved",
            expires_at=None if confirmed else created + timedelta(minutes=15),
            confirmed_at=created if confirmed else None,
        )
    return session


def _cancel(rng: random.Random, session: Session) -> None:
    who = rng.choice(["customer", "mechanic", "admin", "system"])
    hours = rng.choice([-3.0, -0.5, 0.0, 1.0, 2.0, 10.0, 24.0, 50.0, None])
    data = {"by": who, "hours_before_start": hours}
    if who in ("customer", "mechanic") and rng.random() < 0.4:
        data["mechanic_no_show"] = True
    if who == "system" and rng.random() < 0.5:
        side = rng.choice(["mechanic", "customer"])
        data |= {"no_show": side, f"{side}_no_show": True}
    Session.objects.filter(pk=session.pk).update(status=SessionStatus.CANCELLED, cancelled_by=who)
    Reservation.objects.filter(session=session, status__in=["reserved", "confirmed"]).update(
        status="released", released_at=NOW
    )
    SessionEvent.objects.create(session=session, action=CANCEL, data=data)


def _random_write(rng: random.Random, sessions: list[Session], mechanics, customers) -> str:
    kind = rng.choice(
        ["book", "book", "confirm", "cancel", "cancel", "reschedule", "accept", "rate",
         "rate_edit", "rating_delete", "event_edit", "admin_update", "admin_plan",
         "admin_created", "release", "delete", "bulk", "unrelated"]
    )  # fmt: skip
    if kind == "book" or not sessions:
        sessions.append(_book(rng, mechanics, customers))
        return "book"
    session = rng.choice(sessions)
    if not Session.objects.filter(pk=session.pk).exists():
        sessions.remove(session)
        return "gone"
    session.refresh_from_db()
    if kind == "confirm":
        Reservation.objects.filter(session=session, status="reserved").update(
            status="confirmed", confirmed_at=session.created_at, expires_at=None
        )
    elif kind == "cancel" and session.status != SessionStatus.CANCELLED:
        _cancel(rng, session)
    elif kind == "reschedule" and session.scheduled_for is not None:
        moved = session.scheduled_for + timedelta(hours=rng.choice([-30, 3, 48]))
        session.scheduled_for = moved
        session.reschedule_count += 1
        session.save()
        Reservation.objects.filter(session=session, status="confirmed").update(
            starts_at=moved,
            ends_at=moved + timedelta(minutes=30),
            blocked_until=moved + timedelta(minutes=30),
        )
    elif kind == "accept" and session.scheduled_for is None and session.offered_at is not None:
        mechanic = rng.choice(mechanics)
        if not Offer.objects.filter(session=session, status=OfferStatus.ACCEPTED).exists():
            Offer.objects.create(
                session=session,
                mechanic=mechanic,
                kind=OfferKind.TARGETED,
                status=OfferStatus.ACCEPTED,
                responded_at=session.offered_at + timedelta(seconds=rng.randint(5, 4000)),
            )
            Session.objects.filter(pk=session.pk).update(mechanic=mechanic, status="waiting")
        else:
            Offer.objects.filter(session=session, status=OfferStatus.ACCEPTED).update(
                responded_at=session.offered_at + timedelta(seconds=rng.randint(5, 4000))
            )
    elif kind == "rate" and session.mechanic_id and not hasattr(session, "rating"):
        at = _instant(rng)
        if not SessionRating.objects.filter(session=session).exists():
            SessionRating.objects.create(
                session=session,
                mechanic_id=session.mechanic_id,
                customer=session.customer,
                score=rng.randint(1, 5),
                created_at=at,
                updated_at=at,
            )
    elif kind == "rate_edit":
        SessionRating.objects.filter(session=session).update(score=rng.randint(1, 5))
    elif kind == "rating_delete":
        SessionRating.objects.filter(session=session).delete()
    elif kind == "event_edit":
        event = SessionEvent.objects.filter(session=session, action=CANCEL).first()
        if event:
            event.data = {**event.data, "hours_before_start": rng.choice([-1.0, 1.5, 30.0])}
            event.save()
    elif kind == "admin_update":  # the Django admin or a one-off fix: a queryset update
        Session.objects.filter(pk=session.pk).update(
            mechanic=rng.choice(mechanics),
            offered_at=rng.choice([None, session.created_at]),
            reschedule_count=rng.randint(0, 2),
        )
    elif kind == "admin_plan":
        Session.objects.filter(pk=session.pk).update(plan=rng.choice(list(Plan.objects.all())))
    elif kind == "admin_created":
        Session.objects.filter(pk=session.pk).update(created_at=_instant(rng))
    elif kind == "release":
        Reservation.objects.filter(session=session).update(status="released", released_at=NOW)
    elif kind == "delete":
        session.delete()
        sessions.remove(session)
    elif kind == "bulk":  # bulk_update of several sessions at once
        some = rng.sample(sessions, min(3, len(sessions)))
        for s in some:
            s.refresh_from_db()
            s.cancelled_by = rng.choice(["", "customer", "system"])
        Session.objects.bulk_update(some, ["cancelled_by"])
    elif kind == "unrelated":  # a write no fact depends on: need not mark anything
        Session.objects.filter(pk=session.pk).update(concern="Squeal at low speed")
    return kind


def _facts_now() -> set[tuple]:
    return set(SessionFact.objects.values_list(*facts.COLUMNS))


def _facts_defined() -> set[tuple]:
    return set(facts.fact_rows().values_list(*facts.COLUMNS.values()))


def _scopes(shop, mechanics) -> list[Scope]:
    return [
        Scope(),
        Scope(MECHANIC, mechanics[0].pk),
        Scope(MECHANIC, mechanics[2].pk),
        Scope(WORKSHOP, shop.pk),
        Scope(plan="advice"),
        Scope(mechanic_type="workshop_affiliated"),
        Scope(province="QC"),
    ]


def _assert_dashboards_agree(shop, mechanics) -> None:
    for period in PERIODS:
        for scope in _scopes(shop, mechanics):
            got = metrics.dashboard(period, scope, now=NOW, zone=ZONE)
            want = raw_metrics.reference_dashboard(period, scope, now=NOW, zone=ZONE)
            assert got == want, (period, scope)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_facts_after_random_writes_equal_the_raw_tables(seed):
    rng = random.Random(seed)
    shop, mechanics, customers = _population()
    facts.facts_refresh()  # the migration's full-build marker, if the database kept it
    sessions = [_book(rng, mechanics, customers) for _ in range(25)]
    kinds = set()
    for round_ in range(6):
        for _ in range(rng.randint(5, 25)):
            kinds.add(_random_write(rng, sessions, mechanics, customers))
        if round_ % 2:
            facts.facts_refresh()  # sometimes refreshed between writes, sometimes not
        _assert_dashboards_agree(shop, mechanics)
        assert not FactDirty.objects.exists()  # the dashboard refreshed what was dirty
        assert _facts_now() == _facts_defined()
    assert {"book", "cancel", "accept", "rate", "admin_update", "delete"} <= kinds


def test_each_kind_of_write_marks_its_session_dirty():
    rng = random.Random(7)
    _shop, mechanics, customers = _population()
    sessions = [_book(rng, mechanics, customers) for _ in range(10)]
    facts.facts_refresh()
    for _ in range(80):
        kind = _random_write(rng, sessions, mechanics, customers)
        stale = _facts_now() != _facts_defined()
        if stale:  # a write that changed a fact must have left a dirty row
            assert FactDirty.objects.exists(), kind
        facts.facts_refresh()
        assert _facts_now() == _facts_defined(), kind


def test_a_write_no_fact_depends_on_marks_nothing():
    rng = random.Random(3)
    _shop, mechanics, customers = _population()
    session = _book(rng, mechanics, customers)
    facts.facts_refresh()
    Session.objects.filter(pk=session.pk).update(concern="Squeal at low speed", ended_at=NOW)
    SessionEvent.objects.create(session=session, action="booking.session.viewed")
    assert not FactDirty.objects.exists()


def test_a_dirty_row_without_a_session_rebuilds_every_fact():
    rng = random.Random(4)
    _shop, mechanics, customers = _population()
    for _ in range(5):
        _book(rng, mechanics, customers)
    facts.facts_refresh()
    SessionFact.objects.all().delete()  # lost, e.g. restored from an older backup
    FactDirty.objects.create(session_id=None)
    facts.facts_refresh()
    assert len(_facts_now()) == 5 and _facts_now() == _facts_defined()


def test_a_full_rebuild_equals_the_refreshed_facts():
    rng = random.Random(5)
    _shop, mechanics, customers = _population()
    sessions = [_book(rng, mechanics, customers) for _ in range(15)]
    for _ in range(40):
        _random_write(rng, sessions, mechanics, customers)
    facts.facts_refresh()
    refreshed = _facts_now()
    assert facts.facts_rebuild() == len(refreshed)
    assert _facts_now() == refreshed


# --------------------------------------------------------------------------- the race


def _race_setup():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs one write transaction at a time: no race to lose")
    rng = random.Random(9)
    _shop, mechanics, customers = _population()
    session = None
    while session is None or session.scheduled_for is not None or session.offered_at is None:
        session = _book(rng, mechanics, customers)
    other = _book(rng, mechanics, customers)
    facts.facts_rebuild()
    # Committed before the refresh: something for it to do.
    Session.objects.filter(pk=other.pk).update(cancelled_by="admin")
    return session


def _refresh_while_a_write_commits(session, refresh, *, after: str) -> None:
    """Run `refresh` on this connection; a second connection updates `session` before
    the refresh starts and commits right after the refresh's statement starting with
    `after`, i.e. during the refresh."""
    writer_started, commit_now, committed = threading.Event(), threading.Event(), threading.Event()

    def writer():
        try:
            with transaction.atomic():
                Session.objects.filter(pk=session.pk).update(reschedule_count=5)
                writer_started.set()
                commit_now.wait(10)
            committed.set()
        finally:
            connections.close_all()

    thread = threading.Thread(target=writer)
    thread.start()
    assert writer_started.wait(10)

    def commit_after_the_dirty_read(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.startswith(after) and not commit_now.is_set():
            commit_now.set()
            assert committed.wait(10)
        return result

    with connection.execute_wrapper(commit_after_the_dirty_read):
        refresh()
    thread.join(10)
    assert commit_now.is_set() and committed.is_set()


def _naive_refresh() -> None:
    """A refresh that recomputes, then empties the dirty table at the end: the canary."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT session_id FROM analytics_factdirty")
        ids = [row[0] for row in cursor.fetchall()]
        SessionFact.objects.filter(session_id__in=ids).delete()
        facts._insert(cursor, facts.fact_rows().filter(pk__in=ids))
        cursor.execute("DELETE FROM analytics_factdirty")


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
def test_canary_a_refresh_that_empties_the_dirty_table_at_the_end_loses_a_racing_write():
    session = _race_setup()
    _refresh_while_a_write_commits(
        session, _naive_refresh, after="SELECT session_id FROM analytics_factdirty"
    )
    assert not FactDirty.objects.exists()  # the racing write's mark was thrown away…
    assert _facts_now() != _facts_defined()  # …and its session's facts stay stale
    assert SessionFact.objects.get(session_id=session.pk).is_rescheduled is False


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
def test_a_write_committed_during_a_refresh_stays_dirty():
    session = _race_setup()
    _refresh_while_a_write_commits(
        session, facts.facts_refresh, after='DELETE FROM "analytics_factdirty"'
    )
    assert FactDirty.objects.filter(session_id=session.pk).exists()
    facts.facts_refresh()
    assert SessionFact.objects.get(session_id=session.pk).is_rescheduled is True
    assert _facts_now() == _facts_defined()


def test_the_periodic_task_recomputes_the_dirty_sessions():
    from autodoctor.analytics import tasks
    from autodoctor.periodic import PERIODIC_TASKS

    assert (60, "autodoctor.analytics.tasks.facts_refresh") in PERIODIC_TASKS
    rng = random.Random(6)
    _shop, mechanics, customers = _population()
    _book(rng, mechanics, customers)
    assert FactDirty.objects.exists()
    assert tasks.facts_refresh.call() >= 1
    assert not FactDirty.objects.exists() and _facts_now() == _facts_defined()
