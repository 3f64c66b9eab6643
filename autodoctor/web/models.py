"""Platform-level tables that belong to no business app."""

from django.db import models


class RateCounter(models.Model):
    """Requests counted against one rate limit in one fixed window (see
    autodoctor/ratelimit.py). Kept in the database so every web process and machine
    counts together; rows of past windows are deleted by `web.tasks.rate_counters_prune`."""

    key = models.CharField(max_length=200, unique=True)
    window_ends_at = models.DateTimeField(db_index=True)
    hits = models.PositiveIntegerField(default=1)

    def __str__(self) -> str:
        return f"{self.key}: {self.hits}"


class PeriodicLease(models.Model):
    """When one periodic job (autodoctor/periodic.py) may next be enqueued. A scheduler
    enqueues the job only after moving `due_at` one interval on, in one conditional UPDATE
    (web.services.periodic_lease_take): two schedulers running at once (a
    deploy's overlap, a second machine) enqueue each job once per interval between them."""

    job = models.CharField(max_length=200, unique=True)  # the task's dotted path
    due_at = models.DateTimeField()
    holder = models.CharField(max_length=100, blank=True)  # the scheduler that took it last

    def __str__(self) -> str:
        return f"{self.job} due {self.due_at.isoformat()}"
