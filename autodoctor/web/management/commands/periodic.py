"""Enqueue the periodic jobs listed in autodoctor.periodic when they are due.

Any number may run (two during a deploy, one per machine): each job's turn is a lease row
in the database (web.services.periodic_lease_take), so between them every job is enqueued
once per interval."""

import os
import socket
import time
from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone
from django.utils.module_loading import import_string

from autodoctor.periodic import PERIODIC_TASKS
from autodoctor.web.services import periodic_lease_take


class Command(BaseCommand):
    help = "Enqueue periodic jobs (expire holds, reminders, outbox) on their intervals."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--once", action="store_true", help="enqueue the due jobs and exit")
        parser.add_argument("--tick", type=float, default=5.0, help="seconds between checks")

    def handle(
        self, *args: object, once: bool = False, tick: float = 5.0, **options: object
    ) -> None:
        jobs = [
            (timedelta(seconds=every), path, import_string(path)) for every, path in PERIODIC_TASKS
        ]
        holder = f"{socket.gethostname()}:{os.getpid()}"
        if not once:
            self.stdout.write(f"periodic scheduler {holder} started")
            self.stdout.flush()
        while True:
            enqueued = 0
            for every, path, job in jobs:
                if periodic_lease_take(job=path, every=every, now=timezone.now(), holder=holder):
                    job.enqueue()
                    enqueued += 1
            if once:
                self.stdout.write(f"enqueued {enqueued} periodic jobs")
                return
            time.sleep(tick)
