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
