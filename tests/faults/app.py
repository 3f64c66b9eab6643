"""The WSGI app a fault test runs in a real server process (gunicorn).

Environment:
- FAULT_NOW: the instant the server's clock starts at (it then ticks), so the process
  agrees with the test's data whatever today's date is;
- HANG_ON_SQL + HANG_MARKER: when a statement containing HANG_ON_SQL is about to run,
  write HANG_MARKER and sleep, inside whatever transaction is open, so the test can
  SIGKILL the server at exactly that point.
"""

import os
import time
from datetime import datetime
from pathlib import Path

import time_machine

time_machine.travel(datetime.fromisoformat(os.environ["FAULT_NOW"]), tick=True).start()

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.db.backends.signals import connection_created  # noqa: E402

application = get_wsgi_application()

HANG_ON_SQL = os.environ.get("HANG_ON_SQL", "")


def _hang(execute, sql, params, many, context):
    if HANG_ON_SQL and HANG_ON_SQL in sql:
        Path(os.environ["HANG_MARKER"]).write_text("hanging")
        time.sleep(600)
    return execute(sql, params, many, context)


def _install(sender, connection, **kwargs):
    connection.execute_wrappers.append(_hang)


connection_created.connect(_install)
