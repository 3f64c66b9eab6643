"""Enqueue the periodic jobs listed in autodoctor.periodic when they are due."""

import time

from django.core.management.base import BaseCommand
from django.utils.module_loading import import_string

from autodoctor.periodic import PERIODIC_TASKS


class Command(BaseCommand):
    help = "Enqueue periodic jobs (expire holds, reminders, outbox) on their intervals."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--once", action="store_true", help="enqueue every job once and exit")
        parser.add_argument("--tick", type=float, default=5.0, help="seconds between checks")

    def handle(
        self, *args: object, once: bool = False, tick: float = 5.0, **options: object
    ) -> None:
        jobs = [(every, import_string(path)) for every, path in PERIODIC_TASKS]
        next_due = [0.0] * len(jobs)
        while True:
            now = time.monotonic()
            for i, (every, job) in enumerate(jobs):
                if now >= next_due[i]:
                    job.enqueue()
                    next_due[i] = now + every
            if once:
                self.stdout.write(f"enqueued {len(jobs)} periodic jobs")
                return
            time.sleep(tick)
