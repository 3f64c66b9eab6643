"""Platform-level background tasks."""

from django.tasks import task
from django.utils import timezone


@task
def heartbeat(note: str = "") -> str:
    """A trivial task proving the worker path end to end (see tests/web/test_tasks.py)."""
    return f"alive at {timezone.now().isoformat()} {note}".strip()


@task
def rate_counters_prune() -> int:
    """Delete rate-limit counters of windows that have ended (idempotent)."""
    from autodoctor.ratelimit import rate_counters_prune as prune

    return prune(now=timezone.now())
