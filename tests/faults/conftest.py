"""Fault tests: the booking plans exist (transactional tests elsewhere flush them)."""

import pytest
from django.apps import apps

from tests.booking.conftest import _plans_migration


@pytest.fixture(autouse=True)
def plans(db):  # pytest-django honours each test's own django_db(transaction=…) mark
    _plans_migration.create_plans(apps, None)
