"""Two periodic schedulers at once (a deploy's overlap, one per machine): each periodic job
is enqueued once per interval between them (web.services.periodic_lease_take)."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django_tasks_db.models import DBTaskResult

from autodoctor.periodic import PERIODIC_TASKS
from autodoctor.web.services import periodic_lease_take
from tests.notifications.test_worker_kill import database_url
from tests.racing import race

pytestmark = [pytest.mark.race, pytest.mark.django_db(transaction=True)]

NOW = datetime(2031, 1, 14, 15, 0, tzinfo=UTC)
EVERY = timedelta(seconds=60)
JOB = "autodoctor.web.tasks.heartbeat"


def _racing_takes(now: datetime, n: int = 8) -> int:
    taken: list[int] = []

    def take(i: int) -> None:
        if periodic_lease_take(job=JOB, every=EVERY, now=now, holder=f"scheduler-{i}"):
            taken.append(i)

    outcomes = race(n, take)
    assert outcomes == Counter(ok=n), outcomes  # nobody fails, nobody waits forever
    return len(taken)


def test_schedulers_racing_for_one_turn_take_it_once_per_interval():
    assert _racing_takes(NOW) == 1  # the first turn: one of eight
    assert _racing_takes(NOW + EVERY - timedelta(seconds=1)) == 0  # not due again yet
    assert _racing_takes(NOW + EVERY) == 1  # the next interval: again exactly one
    assert _racing_takes(NOW + EVERY) == 0  # that turn is gone


def test_two_scheduler_processes_enqueue_each_job_once():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(),
    }
    command = [sys.executable, "manage.py", "periodic", "--tick", "0.1"]
    schedulers = [
        subprocess.Popen(command, env=env, cwd=settings.BASE_DIR, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    try:
        for scheduler in schedulers:  # each says so just before its first tick
            assert "started" in scheduler.stdout.readline(), "a scheduler did not start"
        time.sleep(3)  # both tick ~30 times: far more than one turn, far less than 30 s
        assert all(s.poll() is None for s in schedulers), "a scheduler exited"
    finally:
        for scheduler in schedulers:
            scheduler.send_signal(signal.SIGTERM)
        for scheduler in schedulers:
            scheduler.wait(timeout=30)
            scheduler.stdout.close()
    enqueued = Counter(DBTaskResult.objects.values_list("task_path", flat=True))
    assert enqueued == Counter({path: 1 for _, path in PERIODIC_TASKS})
