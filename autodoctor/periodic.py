"""Jobs that run on a clock. `manage.py periodic` enqueues each when due; the task
worker (`manage.py db_worker`) runs them. Each job must be idempotent: running it
twice, or late, never does work twice (ARCHITECTURE invariant 7).

Apps append (seconds, "dotted.path.to.task") to PERIODIC_TASKS.
"""

PERIODIC_TASKS: list[tuple[int, str]] = [
    (300, "autodoctor.web.tasks.heartbeat"),
    (600, "autodoctor.web.tasks.rate_counters_prune"),
    (60, "autodoctor.booking.tasks.holds_expire"),
    (300, "autodoctor.booking.tasks.sessions_unpaid_expire"),
    (60, "autodoctor.booking.tasks.sessions_untaken_expire"),
    (60, "autodoctor.booking.tasks.requests_unanswered_expire"),
    (60, "autodoctor.booking.tasks.sessions_advance"),
    (30, "autodoctor.notifications.tasks.outbox_send"),  # safety net; writes also wake it
    (120, "autodoctor.notifications.tasks.reminders_enqueue"),
    (60, "autodoctor.workshops.tasks.visits_expire"),
    # Each calendar is due EXTERNAL_CALENDARS_REFRESH_MINUTES after its last fetch.
    (300, "autodoctor.availability.tasks.external_calendars_refresh"),
    (60, "autodoctor.availability.tasks.offered_refresh"),
    (30, "autodoctor.integrations.tasks.webhooks_send"),  # safety net; writes also wake it
    (60, "autodoctor.booking.tasks.waitlist_sweep"),
    (3600, "autodoctor.analytics.tasks.hours_review_nudges"),
    (60, "autodoctor.analytics.tasks.facts_refresh"),
    (3600, "autodoctor.booking.tasks.intake_uploads_sweep"),
]
