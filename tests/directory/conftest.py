import importlib
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps as django_apps

from autodoctor.booking.models import Plan, Session, SessionStatus
from tests.factories import CustomerFactory, MechanicFactory, weekly_hours

_plans_migration = importlib.import_module(
    "autodoctor.booking.migrations.0002_overlap_guard_and_plans"
)

# A fixed "now": Tuesday 2031-03-04 14:00 UTC (09:00 in Toronto).
NOW = datetime(2031, 3, 4, 14, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def plans(db):
    _plans_migration.create_plans(django_apps, None)


@pytest.fixture
def mechanic_with_hours(db):
    """mechanic_with_hours(**profile fields) -> an approved mechanic free 09–17 daily."""

    def _make(**fields):
        profile = MechanicFactory(**fields)
        weekly_hours(profile)
        return profile

    return _make


@pytest.fixture
def completed_session(db):
    def _make(mechanic, *, ended_at=NOW - timedelta(days=1)):
        return Session.objects.create(
            customer=CustomerFactory().user,
            mechanic=mechanic,
            plan=Plan.objects.get(code="advice"),
            status=SessionStatus.COMPLETED,
            concern="Grinding noise when braking",
            duration_minutes=30,
            started_at=ended_at - timedelta(minutes=30),
            ended_at=ended_at,
        )

    return _make
