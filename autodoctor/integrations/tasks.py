"""Background task (django.tasks): send due webhook deliveries. Periodic (the safety net,
autodoctor/periodic.py) and woken after each change that wrote deliveries; idempotent."""

from django.tasks import task

from . import delivery


@task
def webhooks_send(limit: int = 200) -> dict[str, int]:
    """Send due deliveries (see delivery.py for the claim protocol and guarantee)."""
    return delivery.deliveries_send_due(limit=limit)
