"""A real worker process killed with SIGKILL mid-batch: nothing lost, nothing twice."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from autodoctor.notifications.models import OutboxMessage
from autodoctor.notifications.outbox import CLAIM_TIMEOUT, outbox_send_due

# The worker is told the test's "now": a child process does not share the parent's
# frozen or moved clock, and the rows are due by the parent's.
WORKER = (
    "import os, django; django.setup()\n"
    "from datetime import datetime\n"
    "from autodoctor.notifications.outbox import outbox_send_due\n"
    "outbox_send_due(now=datetime.fromisoformat(os.environ['WORKER_NOW']))\n"
)


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
def test_sigkilled_worker_loses_nothing_and_sends_nothing_twice(
    tmp_path: Path, settings, monkeypatch, scheduled_session, queue_message, booking_customer
):
    session = scheduled_session()
    now = timezone.now()
    for _ in range(3):
        queue_message(session, booking_customer, now=now)
    record = tmp_path / "delivered.txt"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "autodoctor.settings",
        "DATABASE_URL": database_url(),
        "SITE_URL": settings.SITE_URL,
        "EMAIL_BACKEND": "tests.notifications.fakes.FileRecordingBackend",
        "RECORD_FILE": str(record),
        "HANG_AT": "2",
        "WORKER_NOW": now.isoformat(),
    }
    worker = subprocess.Popen([sys.executable, "-c", WORKER], env=env, cwd=settings.BASE_DIR)
    try:
        deadline = time.monotonic() + 60
        while "hanging" not in (record.read_text() if record.exists() else ""):
            assert worker.poll() is None, "the worker exited before reaching message 2"
            assert time.monotonic() < deadline, "the worker never reached message 2"
            time.sleep(0.05)
        os.kill(worker.pid, signal.SIGKILL)  # mid-batch: one sent, one in flight, one queued
    finally:
        worker.wait(timeout=30)
    assert sorted(OutboxMessage.objects.values_list("status", flat=True)) == [
        "pending",
        "sending",
        "sent",
    ]
    # A new worker, once the dead one's claim is stale, finishes the batch.
    monkeypatch.setenv("RECORD_FILE", str(record))
    monkeypatch.delenv("HANG_AT", raising=False)
    settings.MAILERS = {"default": {"BACKEND": "tests.notifications.fakes.FileRecordingBackend"}}
    outbox_send_due(now=now + CLAIM_TIMEOUT + timedelta(seconds=1))
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {"sent"}
    delivered = [line for line in record.read_text().splitlines() if line.startswith("<")]
    assert sorted(delivered) == sorted(
        f"<outbox-{pk}@autodoctor.example>"
        for pk in OutboxMessage.objects.values_list("pk", flat=True)
    )
