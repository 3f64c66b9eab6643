"""Every operation of /api/openapi.json fuzzed with schemathesis, as each role
(reliability issue, part 2).

Schemathesis generates valid and invalid requests from the schema and sends them straight
to the WSGI app (no server). Each response must be no 5xx, a declared status code with a
declared content type, conform to the declared schema, and every 4xx must be the API's
error shape `{detail, code, field?}`. Findings become regression tests in
tests/test_input_edges.py.

Budget: FUZZ_EXAMPLES per operation and role (default 5 on SQLite, 2 on PostgreSQL —
the issue lets the full budget run on SQLite only; an anonymous caller gets 2, it only
ever meets 401; kept small so the whole CI stays well under 10 minutes); `FUZZ_EXAMPLES=200 pytest tests/test_api_fuzz.py` pushes harder.
"""

import os
from datetime import UTC, datetime

import pytest
import schemathesis
import time_machine
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, connection
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from autodoctor.accounts.models import Role
from autodoctor.accounts.services import api_token_create
from tests.booking.conftest import plans  # noqa: F401  (autouse: the sellable plans)
from tests.factories import (
    CustomerFactory,
    MechanicFactory,
    UserFactory,
    VehicleFactory,
    WorkshopFactory,
    weekly_hours,
)

pytestmark = [pytest.mark.django_db, pytest.mark.fuzz]

NOW = datetime(2026, 11, 30, 13, 30, tzinfo=UTC)
ROLES = ("customer", "mechanic", "workshop", "admin")


def _budget() -> int:
    if "FUZZ_EXAMPLES" in os.environ:
        return int(os.environ["FUZZ_EXAMPLES"])
    return 2 if os.environ.get("DATABASE_URL", "").startswith("postgres") else 5


schema = schemathesis.openapi.from_wsgi("/api/openapi.json", get_wsgi_application())


def error_shape(ctx, response, case) -> bool | None:
    """Every 4xx is the project's `{detail, code, field?}` body."""
    if not 400 <= response.status_code < 500:
        return None
    body = response.json()
    assert isinstance(body, dict), body
    assert isinstance(body.get("detail"), str) and body["detail"], body
    assert isinstance(body.get("code"), str) and body["code"], body
    assert "field" not in body or body["field"] is None or isinstance(body["field"], str), body
    return True


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    error_shape,
]


@pytest.fixture
def world(db):
    """One of each role with an API token, and enough rows for routes to find something."""
    customer = CustomerFactory(user__full_name="Casey Customer")
    VehicleFactory(customer=customer)
    workshop = WorkshopFactory(name="Fuzz Garage")
    workshop.staff.add(workshop.owner)
    mechanic = MechanicFactory(user__full_name="Vera Virtual")
    weekly_hours(mechanic, days=range(7), start=9 * 60, end=17 * 60)
    MechanicFactory(affiliated=True, workshop=workshop)
    admin = UserFactory(role=Role.ADMIN, is_staff=True, is_superuser=True)
    users = {
        "customer": customer.user,
        "mechanic": mechanic.user,
        "workshop": workshop.owner,
        "admin": admin,
    }
    return {role: api_token_create(user=user, name="fuzz").raw for role, user in users.items()}


@pytest.fixture(autouse=True)
def keep_the_test_connection():
    """Django's WSGI handler closes the database connection when a request finishes; the
    test client disconnects that for tests (the test's transaction lives on the
    connection), and so must we, since schemathesis calls the WSGI app itself."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=True):
        yield


FUZZ_SETTINGS = {"suppress_health_check": list(HealthCheck), "deadline": None}


@pytest.mark.parametrize("role", ROLES)
@schema.parametrize()
@settings(max_examples=_budget(), **FUZZ_SETTINGS)
def test_no_operation_crashes_or_breaks_its_schema(case, role, world):
    case.call_and_validate(headers={"Authorization": f"Bearer {world[role]}"}, checks=CHECKS)
    assert connection.is_usable()


@schema.parametrize()
@settings(max_examples=2, **FUZZ_SETTINGS)
def test_anonymous_callers_get_the_error_shape_everywhere(case, world):
    response = case.call_and_validate(checks=CHECKS)
    # 401 for the route; 405 for a method schemathesis made up; never data.
    assert response.status_code >= 400 or case.operation.path in PUBLIC_OPERATIONS, (
        case.operation.path
    )


# Operations anyone may call without logging in (none today: every route checks who asks).
PUBLIC_OPERATIONS: set[str] = set()
