"""Ratings raced: two (or more) ratings of one mechanic written at once must leave the
average of all of them (each writer computes it from the table under the mechanic's lock)."""

from decimal import Decimal

import pytest

from autodoctor.analytics import services
from autodoctor.analytics.models import SessionRating
from tests.factories import MechanicFactory
from tests.racing import race

from .conftest import NOW

pytestmark = [pytest.mark.race, pytest.mark.django_db(transaction=True)]

SCORES = [5, 1, 4, 2, 5, 3, 1, 5]


def test_racing_ratings_of_one_mechanic_leave_the_true_average(completed_session):
    mechanic = MechanicFactory(rating=None)
    sessions = [completed_session(mechanic=mechanic) for _ in SCORES]

    def work(i: int):
        session = sessions[i]
        return services.rating_save(
            session_id=session.pk, user=session.customer, score=SCORES[i], now=NOW
        )

    outcomes = race(len(SCORES), work)
    assert outcomes == {"ok": len(SCORES)}, outcomes
    assert SessionRating.objects.filter(mechanic=mechanic).count() == len(SCORES)
    mechanic.refresh_from_db()
    expected = Decimal(sum(SCORES)) / len(SCORES)  # 26 / 8 = 3.25 → 3.3
    assert mechanic.rating == expected.quantize(Decimal("0.1"), rounding="ROUND_HALF_UP")
    assert mechanic.rating == Decimal("3.3")


def test_without_the_lock_racing_ratings_can_lose_one(completed_session, monkeypatch):
    """The canary (PostgreSQL, READ COMMITTED): drop the mechanic lock and hold each
    writer between computing its average and storing it until both have computed one;
    each average misses the other's uncommitted row and the last writer wins with a
    wrong value. (Waiting at the store, not before the average, keeps it deterministic:
    no writer can commit before the other has read.)"""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("SQLite's IMMEDIATE transactions serialize writers anyway")
    import threading

    mechanic = MechanicFactory(rating=None)
    sessions = [completed_session(mechanic=mechanic) for _ in range(2)]
    both_averaged = threading.Barrier(2)
    manager = services.MechanicProfile.objects
    real_filter = manager.filter

    def filter_after_both_averaged(*args, **kwargs):
        # The manager's own .filter is only the rating store in mechanic_rating_refresh
        # (the lock goes through select_for_update, dropped below).
        both_averaged.wait(10)
        return real_filter(*args, **kwargs)

    monkeypatch.setattr(manager, "select_for_update", lambda: manager.all())
    monkeypatch.setattr(manager, "filter", filter_after_both_averaged)

    def work(i: int):
        s = sessions[i]
        return services.rating_save(session_id=s.pk, user=s.customer, score=[5, 1][i], now=NOW)

    assert race(2, work) == {"ok": 2}
    monkeypatch.undo()
    mechanic.refresh_from_db()
    assert mechanic.rating in {Decimal("5.0"), Decimal("1.0")}  # not the true 3.0
