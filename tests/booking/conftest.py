import importlib
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps as django_apps

from autodoctor.booking import services
from tests.factories import CustomerFactory, MechanicFactory, VehicleFactory, weekly_hours

_plans_migration = importlib.import_module(
    "autodoctor.booking.migrations.0002_overlap_guard_and_plans"
)

# A fixed "now": Monday 2026-11-30 12:00 UTC (07:00 in Toronto).
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
# Tuesday 2026-12-01 15:00 UTC = 10:00 Toronto: inside 09:00–17:00 hours, > 2 h notice.
SLOT = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def plans(db):
    # Transactional tests flush tables, data-migration rows included: recreate them.
    _plans_migration.create_plans(django_apps, None)


@pytest.fixture
def booking_customer(db):
    customer = CustomerFactory()
    VehicleFactory(customer=customer)
    return customer.user


@pytest.fixture
def available_mechanic(db):
    mechanic = MechanicFactory()
    weekly_hours(mechanic, days=range(7), start=9 * 60, end=17 * 60)
    return mechanic


@pytest.fixture
def intake():
    def _intake(customer, plan="advice", concern="Grinding noise when braking at low speed"):
        return services.intake_validate(customer=customer, plan=plan, concern=concern)

    return _intake


@pytest.fixture
def hold(intake):
    def _hold(customer, mechanic, start=SLOT, plan="advice", now=NOW):
        return services.reservation_hold(
            customer=customer,
            intake=intake(customer, plan),
            mechanic_id=mechanic.pk,
            starts_at=start,
            now=now,
        )

    return _hold


def later(minutes: int) -> datetime:
    return NOW + timedelta(minutes=minutes)
