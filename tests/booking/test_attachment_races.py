"""Uploads racing for the last places of a session (issue 18), real threads on the test
database (SQLite file or PostgreSQL): the count is taken under the session's lock, so
eight batches of two files for a session that takes five leave at most five, and
every refused batch stored no file.

The canary first shows the race exists: with the lock taken away and every upload
counting before anyone writes, all of them pass the limit."""

import threading

import pytest
from django.db import connection

from autodoctor.booking import attachments
from autodoctor.booking.models import IntakeAttachment, Session
from tests.racing import race

from .test_attachments import image

pytestmark = [pytest.mark.race, pytest.mark.django_db(transaction=True)]

UPLOADERS = 8


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.INTAKE_ATTACHMENTS_MAX = 5
    return settings.MEDIA_ROOT


@pytest.fixture
def session(booking_customer, available_mechanic, hold):
    return hold(booking_customer, available_mechanic).session


def _upload(session):
    def work(i: int) -> None:
        attachments.attachments_add(
            session_id=session.pk, user=session.customer, files=[image(), image()]
        )

    return work


def test_canary_without_the_lock_every_upload_passes_the_limit(session, monkeypatch):
    if connection.vendor == "sqlite":
        # IMMEDIATE transactions (settings.py) let one writer in at a time: the uploads
        # would wait at the barrier below for its whole timeout and show nothing.
        pytest.skip("SQLite serialises the writers itself; the canary runs on PostgreSQL")
    counted = threading.Barrier(UPLOADERS)
    real_limit = attachments._within_limit

    def counted_together(already: int, adding: int) -> None:
        real_limit(already, adding)
        counted.wait(30)  # everyone has counted before anyone writes

    class NoLock:
        @staticmethod
        def get(pk):
            return Session.objects.get(pk=pk)

    monkeypatch.setattr(attachments, "_within_limit", counted_together)
    monkeypatch.setattr(Session.objects, "select_for_update", lambda: NoLock)
    outcomes = race(UPLOADERS, _upload(session))
    if outcomes.get("ok", 0) <= 2:
        pytest.skip(f"this database serialises the writers itself: {dict(outcomes)}")
    assert IntakeAttachment.objects.filter(session=session).count() > 5


def test_racing_uploads_never_pass_the_limit_and_refused_ones_store_nothing(session, media):
    outcomes = race(UPLOADERS, _upload(session))
    assert outcomes["ok"] == 2, dict(outcomes)  # 2 + 2 files; a third batch would make 6
    assert set(outcomes) <= {"ok", "AttachmentRefused", "Busy"}, dict(outcomes)
    rows = IntakeAttachment.objects.filter(session=session)
    assert rows.count() == 4
    stored = {p.relative_to(media).as_posix() for p in media.rglob("*") if p.is_file()}
    assert stored == set(rows.values_list("file", flat=True))
