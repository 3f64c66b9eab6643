"""Fixtures for the availability service, API and pages."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from autodoctor.availability.engine import Interval
from autodoctor.availability.models import TimeOff
from autodoctor.availability.service import (
    BusyPeriod,
    register_busy_source,
    unregister_busy_source,
)

from .feeds import feeds  # noqa: F401 -- the local ICS server fixture


class FakeBusy:
    """A busy source backed by a list, registered like the booking app registers its own.

    ``calls`` counts invocations so tests can check the one-call-per-read contract.
    """

    def __init__(self) -> None:
        self.periods: list[BusyPeriod] = []
        self.calls = 0

    def add(self, mechanic, start: datetime, end: datetime, key=None) -> BusyPeriod:
        period = BusyPeriod(getattr(mechanic, "pk", mechanic), Interval(start, end), key)
        self.periods.append(period)
        return period

    def __call__(self, mechanic_ids, window, *, now):
        self.calls += 1
        wanted = None if mechanic_ids is None else set(mechanic_ids)
        return [
            p
            for p in self.periods
            if (wanted is None or p.mechanic_id in wanted) and p.interval.overlaps(window)
        ]


@pytest.fixture
def busy() -> Iterator[FakeBusy]:
    source = FakeBusy()
    register_busy_source(source)
    yield source
    unregister_busy_source(source)


# Monday 2026-03-02 06:00 in Toronto (11:00 UTC): well before a 09:00 opening, and a
# week before North America's clocks spring forward.
NOW = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def frozen_clock() -> Iterator[datetime]:
    """Pages and API read the real clock: stop it at NOW."""
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def pending_request(db) -> TimeOff:
    """An affiliated mechanic's request for tomorrow, waiting for the workshop."""
    from tests.factories import MechanicFactory

    mechanic = MechanicFactory(affiliated=True, user__full_name="Ana Affiliated")
    return TimeOff.objects.create(
        mechanic=mechanic, starts_at=NOW + timedelta(days=1), ends_at=NOW + timedelta(days=2)
    )
