"""The background path: a task enqueued on the database backend and run by db_worker."""

import io

import pytest
from django.core.management import call_command
from django.tasks import TaskResultStatus

from autodoctor.web.tasks import heartbeat


@pytest.mark.django_db(transaction=True)
def test_heartbeat_runs_through_the_database_worker():
    result = heartbeat.enqueue("from test")
    assert result.status == TaskResultStatus.READY
    call_command("db_worker", batch=True, no_startup_delay=True, verbosity=0)
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value.startswith("alive at")
    assert result.return_value.endswith("from test")


@pytest.mark.django_db(transaction=True)
def test_periodic_command_enqueues_due_jobs():
    from django_tasks_db.models import DBTaskResult

    call_command("periodic", once=True, stdout=io.StringIO())
    assert DBTaskResult.objects.filter(task_path="autodoctor.web.tasks.heartbeat").exists()
