"""The task backend switched to RQ (TASKS_BACKEND=django_tasks_rq.RQBackend): tasks are
enqueued through django.tasks onto the Redis at REDIS_URL and run by a real `rqworker`
process (the library's worker command), with the database backend's guarantee: a job
run twice does its work once (the outbox claim, not the queue, makes a send happen once).

Needs the Redis at 127.0.0.1:6379 (TEST_REDIS_URL overrides); skipped when it is absent,
except under CI=true, where that fails.
"""

import os
import subprocess
import sys
from pathlib import Path

import django_rq
import pytest
import redis
from django.conf import settings
from django.tasks import TaskResultStatus
from django.test import override_settings
from django.utils import timezone

from autodoctor.notifications.models import OutboxMessage
from autodoctor.notifications.tasks import outbox_send
from autodoctor.web.tasks import heartbeat
from tests.notifications.test_worker_kill import database_url

pytestmark = [pytest.mark.race, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def real_clock(request):
    """The rqworker is another process, on the real clock: with the suite's clock moved
    (--clock-at) its jobs would look due in the future. These run in the real-clock
    passes (SQLite and PostgreSQL)."""
    if request.config.getoption("--clock-at"):
        pytest.skip("a separate worker process cannot share the moved clock")


# A Redis database of this pytest process's own, so parallel runs do not share a queue.
REDIS_URL = os.environ.get("TEST_REDIS_URL", f"redis://127.0.0.1:6379/{1 + os.getpid() % 15}")
RQ = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}


@pytest.fixture
def rq_queue():
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.ConnectionError as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"no Redis at {REDIS_URL}: {exc}")
    with override_settings(TASKS=RQ, RQ_QUEUES={"default": {"URL": REDIS_URL}}):
        queue = django_rq.get_queue("default")
        queue.empty()
        yield queue
        queue.empty()


def run_rqworker(tmp_path: Path, record: Path) -> None:
    """One `manage.py rqworker --burst` process: runs what is queued, then exits."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "autodoctor.settings",
        "DATABASE_URL": database_url(),
        "TASKS_BACKEND": "django_tasks_rq.RQBackend",
        "REDIS_URL": REDIS_URL,
        "SITE_URL": settings.SITE_URL,
        "EMAIL_BACKEND": "tests.notifications.fakes.FileRecordingBackend",
        "SMS_BACKEND": "autodoctor.notifications.channels.sms.LogSmsSender",
        "RECORD_FILE": str(record),
        "AUTODOCTOR_VAR_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "rqworker",
            "--burst",
            "--job-class",
            "django_tasks_rq.Job",
            "default",
        ],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_rqworker_runs_the_heartbeat_enqueued_through_django_tasks(tmp_path, rq_queue):
    result = heartbeat.enqueue(note="via rq")
    assert rq_queue.count == 1  # on Redis, not in the database's task table

    run_rqworker(tmp_path, tmp_path / "delivered.txt")

    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value.startswith("alive at ")
    assert result.return_value.endswith("via rq")
    assert rq_queue.count == 0


def test_an_outbox_send_run_twice_through_rq_sends_once(
    tmp_path, rq_queue, scheduled_session, queue_message, booking_customer
):
    session = scheduled_session()
    queue_message(session, booking_customer, now=timezone.now())  # its commit wakes the outbox
    record = tmp_path / "delivered.txt"
    outbox_send.enqueue()  # and the same job again, twice
    outbox_send.enqueue()
    jobs = rq_queue.get_job_ids()
    assert len(jobs) == 3

    run_rqworker(tmp_path, record)

    results = [outbox_send.get_result(job) for job in jobs]
    assert {result.status for result in results} == {TaskResultStatus.SUCCESSFUL}
    assert sorted(result.return_value["sent"] for result in results) == [0, 0, 1]
    (message,) = OutboxMessage.objects.all()
    assert message.status == "sent"
    delivered = [line for line in record.read_text().splitlines() if line.startswith("<")]
    assert delivered == [f"<outbox-{message.pk}@autodoctor.example>"]
