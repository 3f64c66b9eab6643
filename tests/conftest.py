"""Shared fixtures. App-specific fixtures live in tests/<app>/conftest.py."""

import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation
from hypothesis import settings as hypothesis_settings

from autodoctor.accounts.models import Role

from .factories import PASSWORD, CustomerFactory, MechanicFactory, UserFactory, WorkshopFactory

# Deterministic property tests: the same examples on every run and machine, no example
# database on disk, no per-example deadline (CI machines are shared and noisy).
hypothesis_settings.register_profile("autodoctor", derandomize=True, database=None, deadline=None)
hypothesis_settings.load_profile("autodoctor")


@pytest.fixture(autouse=True)
def _site_language():
    """Every test starts in the site's language: a French request leaves French active on
    its thread (LocaleMiddleware sets it again for the next request; code a test calls
    directly would not), so no test sees the language of the one before."""
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def customer(db):
    return CustomerFactory()


@pytest.fixture
def mechanic(db):
    return MechanicFactory()


@pytest.fixture
def workshop(db):
    return WorkshopFactory()


@pytest.fixture
def admin_user(db):
    return UserFactory(role=Role.ADMIN, is_staff=True, is_superuser=True)


@pytest.fixture
def customer_limits_lifted(settings):
    """Lift the per-customer caps on holds and start-now requests
    (booking.services._holds_limit, _open_start_now_limit, active_session_refusal) for tests that need one
    customer to have many at once (sweeps, races, query counts over many rows)."""
    settings.START_NOW_WAITING_PER_CUSTOMER = 50
    settings.START_NOW_UNPAID_PER_CUSTOMER = 50
    settings.HOLDS_PER_CUSTOMER = 50
    settings.HOLDS_PER_CUSTOMER_MECHANIC_DAY = 50
    settings.ACTIVE_SESSIONS_PER_CUSTOMER = 50


@pytest.fixture
def login():
    """login(user) -> a Django test Client logged in as that user (CSRF enforced)."""

    def _login(user, enforce_csrf: bool = False) -> Client:
        client = Client(enforce_csrf_checks=enforce_csrf)
        assert client.login(email=user.email, password=PASSWORD)
        return client

    return _login


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """One test database per pytest process, so several runs on one machine (or a
    developer's run beside CI) never share or clobber a test database."""
    import os

    from django.conf import settings

    for db in settings.DATABASES.values():
        test = db.setdefault("TEST", {})
        base = test.get("NAME") or f"test_{db['NAME']}"
        if not str(base).endswith(f"_{os.getpid()}"):
            test["NAME"] = f"{base}_{os.getpid()}"


def pytest_addoption(parser):
    parser.addoption(
        "--clock-at",
        metavar="ISO-DATETIME",
        help="run the whole session with the wall clock moved to this instant (UTC unless "
        "it names an offset), ticking from there: a test that reads the real clock where "
        "it should use its fixture's time fails.",
    )


def pytest_configure(config):
    clock_at = config.getoption("--clock-at")
    if clock_at:
        from datetime import UTC, datetime

        import time_machine

        instant = datetime.fromisoformat(clock_at)
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=UTC)
        config._clock_traveller = time_machine.travel(instant, tick=True)
        config._clock_traveller.start()


def pytest_report_header(config):
    clock_at = config.getoption("--clock-at")
    if clock_at:
        return f"clock moved to {clock_at} for the whole session"
    return None


# Fixtures through which a test reaches the database (pytest-django's, and the live server).
_DATABASE_FIXTURES = {
    "db",
    "transactional_db",
    "django_db_reset_sequences",
    "django_db_serialized_rollback",
    "live_server",
    "django_db_setup",
}


def _uses_database(item: pytest.Item) -> bool:
    return item.get_closest_marker("django_db") is not None or not _DATABASE_FIXTURES.isdisjoint(
        getattr(item, "fixturenames", ())
    )


def pytest_collection_modifyitems(config, items):
    """On PostgreSQL, run only the tests that use a database: the others (the i18n and
    template checks, the availability engine, settings and the clock option) give the
    same answer whatever the database and have already run in the SQLite pass of
    `./dev test`. A test marked `every_database` runs in both passes regardless (it starts
    processes that read DATABASE_URL themselves)."""
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        return
    keep, drop = [], []
    for item in items:
        wanted = _uses_database(item) or item.get_closest_marker("every_database")
        (keep if wanted else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
