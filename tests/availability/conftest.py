"""Fixtures for the availability service, API and pages."""

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from autodoctor.availability.engine import Interval
from autodoctor.availability.service import (
    BusyPeriod,
    register_busy_source,
    unregister_busy_source,
)


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


@pytest.fixture
def now() -> datetime:
    """Monday 2026-03-02 06:00 in Toronto (11:00 UTC): well before a 09:00 opening."""
    return datetime(2026, 3, 2, 11, 0, tzinfo=UTC)
