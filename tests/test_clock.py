"""The --clock-at option (tests/conftest.py) really moves the wall clock for a session:
the date-shifted CI runs prove nothing unless it does."""

import subprocess
import sys
from datetime import UTC, datetime, timedelta

from django.utils import timezone

TARGET = "2031-06-01T09:30"


def test_clock_at_moves_the_wall_clock_for_the_whole_session(request):
    clock_at = request.config.getoption("--clock-at")
    if clock_at:
        moved_to = datetime.fromisoformat(clock_at).replace(tzinfo=UTC)
        assert moved_to <= timezone.now() < moved_to + timedelta(hours=2)
        return
    # Not moved in this run: run this very test again in a session moved to TARGET.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:xdist",
            "--clock-at",
            TARGET,
            request.node.nodeid,
        ],
        capture_output=True,
        text=True,
        cwd=request.config.rootpath,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
