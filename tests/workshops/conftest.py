import importlib
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps as django_apps

from autodoctor.accounts.models import AccountType, PartnershipType, Role
from autodoctor.booking.models import Plan, Session, SessionStatus
from tests.factories import (
    CustomerFactory,
    MechanicFactory,
    UserFactory,
    VehicleFactory,
    WorkshopFactory,
    workshop_hours,
)

_plans_migration = importlib.import_module(
    "autodoctor.booking.migrations.0002_overlap_guard_and_plans"
)

# A fixed "now": Monday 2026-11-30 12:00 UTC (07:00 in Toronto).
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
# Tuesday 2026-12-01 10:00 Toronto (15:00 UTC): inside 08:00–17:00 hours, > 2 h notice.
TUESDAY_10 = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture(autouse=True)
def plans(db):
    # Transactional tests flush tables, data-migration rows included: recreate them.
    _plans_migration.create_plans(django_apps, None)


@pytest.fixture
def workshop(db):
    """A Toronto workshop open 08:00–17:00 every day with 2 bays; a staff member."""
    shop = WorkshopFactory(max_concurrent_appointments=2, address="12 King St W")
    workshop_hours(shop, days=range(7), open_=8 * 60, close=17 * 60)
    staff = UserFactory(role=Role.WORKSHOP_STAFF)
    shop.staff.add(staff)
    shop.staff_user = staff
    return shop


@pytest.fixture
def shop_mechanic(workshop):
    """An approved mechanic employed by the workshop (affiliated: workshop hours)."""
    return MechanicFactory(
        workshop=workshop,
        account_type=AccountType.WORKSHOP_MECHANIC,
        partnership_type=PartnershipType.EMPLOYEE,
    )


@pytest.fixture
def completed_session(db):
    """make() -> a completed remote session of a new customer (or of `customer`)."""

    def make(customer=None):
        if customer is None:
            profile = CustomerFactory()
            VehicleFactory(customer=profile)
            customer = profile.user
        mechanic = MechanicFactory()
        return Session.objects.create(
            customer=customer,
            mechanic=mechanic,
            status=SessionStatus.COMPLETED,
            plan=Plan.objects.get(code="advice"),
            concern="Grinding noise from the front left wheel when braking",
            vehicle_label="2018 Honda Civic",
            duration_minutes=30,
            scheduled_for=NOW - timedelta(days=1),
            started_at=NOW - timedelta(days=1),
            ended_at=NOW - timedelta(days=1) + timedelta(minutes=30),
        )

    return make
