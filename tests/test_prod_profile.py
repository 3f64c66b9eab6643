"""`./dev prod`, the production profile (docs/deploy.md), started as a user starts it: on a
free port against a scratch PostgreSQL database it creates itself, with no SECRET_KEY set.
It answers its readiness probe, serves hashed static files gzipped with a far-future
Cache-Control, runs with DEBUG off, and Ctrl-C (SIGINT to the script) stops every process
it started.

Slow (a fresh database is migrated, static files collected): it runs in the PostgreSQL pass
of `./dev test` (and so in CI), and is skipped on SQLite.
"""

import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from tests.faults.test_server_faults import _free_port
from tests.notifications.test_worker_kill import database_url

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not settings.DATABASE_IS_POSTGRES, reason="the profile runs on PostgreSQL"),
]

START_SECONDS = 300  # a fresh migrate on a busy 2-core machine
STOP_SECONDS = 60


def _get(url: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as refused:
        return refused.code, dict(refused.headers), refused.read()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def scratch_database_url(db):
    """A database name of its own on the suite's PostgreSQL server, absent at the start
    (`./dev prod` creates it) and dropped at the end."""
    parts = urlsplit(database_url())
    url = urlunsplit(parts._replace(path=f"/{connection.settings_dict['NAME']}_prod"))
    admin = urlunsplit(parts._replace(path="/postgres"))
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    yield url
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_dev_prod_serves_the_app_and_its_static_files_and_ctrl_c_stops_everything(
    tmp_path: Path, scratch_database_url: str
):
    port = _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE", "STATIC_MANIFEST"}
    }
    env |= {
        "PORT": str(port),
        "DATABASE_URL": scratch_database_url,
        "AUTODOCTOR_VAR_DIR": str(tmp_path),
        "PROD_WEB_WORKERS": "2",
        "PROD_TASK_WORKERS": "1",
    }
    log = (tmp_path / "dev-prod.log").open("w")
    script = subprocess.Popen(
        ["./dev", "prod"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, to see that nothing outlives it
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            assert script.poll() is None, (tmp_path / "dev-prod.log").read_text()
            try:
                status, _, body = _get(f"{url}/healthz")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                assert time.monotonic() < deadline, "./dev prod never answered /healthz"
                time.sleep(0.5)
        assert (status, body) == (200, b"ok\n")
        assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0  # generated, private

        status, _, page = _get(f"{url}/login/")
        assert status == 200
        stylesheet = re.search(rb'href="(/static/web/app\.[0-9a-f]{12}\.css)"', page)
        assert stylesheet, "the page links the content-hashed stylesheet"
        status, headers, body = _get(
            url + stylesheet.group(1).decode(), {"Accept-Encoding": "gzip"}
        )
        assert status == 200
        assert headers["Content-Encoding"] == "gzip"
        assert "immutable" in headers["Cache-Control"]
        max_age = re.search(r"max-age=(\d+)", headers["Cache-Control"])
        assert max_age and int(max_age.group(1)) >= 365 * 24 * 3600
        assert body[:2] == b"\x1f\x8b"  # the gzip variant itself

        status, _, body = _get(f"{url}/no-such-page/")
        assert status == 404
        assert b"Django tried these URL patterns" not in body  # DEBUG is off

        script.send_signal(signal.SIGINT)  # Ctrl-C, to the script alone
        deadline = time.monotonic() + STOP_SECONDS
        while script.poll() is None or _live_members(script.pid):
            assert time.monotonic() < deadline, "processes outlived Ctrl-C"
            time.sleep(0.5)
    finally:
        if _group_alive(script.pid):
            os.killpg(script.pid, signal.SIGKILL)
        script.wait(timeout=30)
        log.close()


def _live_members(pgid: int) -> list[str]:
    """The process group's members that are still running (not zombies)."""
    out = subprocess.run(
        ["ps", "-g", str(pgid), "-o", "stat=,args="], capture_output=True, text=True
    ).stdout
    return [line for line in out.splitlines() if line.strip() and not line.lstrip().startswith("Z")]
