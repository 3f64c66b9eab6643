"""Account fixtures: one fixed "now" (the booking fixtures' NOW), emails delivered by the
real outbox worker into Django's locmem mailbox, and the links they carry."""

import re

import pytest
import time_machine
from django.core import mail

from autodoctor.notifications.outbox import outbox_send_due
from tests.booking import conftest as booking_fixtures
from tests.booking.conftest import NOW, SLOT  # noqa: F401

plans = booking_fixtures.plans
intake = booking_fixtures.intake
hold = booking_fixtures.hold
available_mechanic = booking_fixtures.available_mechanic

SITE = "https://autodoctor.example"
STRONG = "a-long Passphrase 2026"


@pytest.fixture(autouse=True)
def account_settings(settings, tmp_path):
    settings.SITE_URL = SITE
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.AXES_FAILURE_LIMIT = 3
    mail.outbox.clear()


@pytest.fixture(autouse=True)
def clock():
    """The wall clock frozen at NOW for every account test (row timestamps, axes'
    counters, Django's reset tokens); move it with clock.move_to / shift."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def deliver(now=None) -> list:
    """Run the outbox worker once and return every email sent so far."""
    outbox_send_due(now=now or NOW)
    return list(mail.outbox)


def link_in(message, path_part: str) -> str:
    """The first link in an email's body whose path contains `path_part`."""
    for url in re.findall(r"https?://\S+", message.body):
        if path_part in url:
            return url
    raise AssertionError(f"no {path_part} link in: {message.body}")


def path_of(url: str) -> str:
    return url.removeprefix(SITE)
