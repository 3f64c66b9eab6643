"""Email backends that fail or "die" on purpose, to exercise the outbox worker."""

from smtplib import SMTPServerDisconnected
from typing import ClassVar

from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend


class BrokenEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise SMTPServerDisconnected("Connection unexpectedly closed")


class WorkerKilled(SystemExit):
    """What db_worker raises in a task when it gets SIGTERM (sys.exit): not an
    Exception, so nothing in the worker code catches it."""


class DyingEmailBackend(BaseEmailBackend):
    """Delivers into mail.outbox like locmem, but kills the worker at message number
    `die_at` (1-based, counted across instances), either before or after delivering."""

    die_at: ClassVar[int | None] = None
    after_delivery: ClassVar[bool] = False
    calls: ClassVar[int] = 0

    def send_messages(self, email_messages):
        for message in email_messages:
            type(self).calls += 1
            dying = type(self).calls == self.die_at
            if dying and not self.after_delivery:
                raise WorkerKilled(1)
            mail.outbox.append(message)
            if dying:
                raise WorkerKilled(1)
        return len(email_messages)

    @classmethod
    def arm(cls, *, die_at: int | None, after_delivery: bool = False) -> None:
        cls.die_at, cls.after_delivery, cls.calls = die_at, after_delivery, 0


class FileRecordingBackend(BaseEmailBackend):
    """For a worker in another process: appends each delivered Message-ID to the file
    named by $RECORD_FILE. With $HANG_AT=n it writes "hanging" and sleeps at message n
    (before delivering it), so the test can kill the process right there."""

    def send_messages(self, email_messages):
        import os
        import time

        path = os.environ["RECORD_FILE"]
        hang_at = int(os.environ.get("HANG_AT") or 0)
        for message in email_messages:
            with open(path, "a+") as record:
                record.seek(0)
                count = sum(1 for line in record if line.startswith("<"))
                if count + 1 == hang_at:
                    record.write("hanging\n")
                    record.flush()
                    time.sleep(120)
                record.write(message.extra_headers["Message-ID"] + "\n")
        return len(email_messages)
