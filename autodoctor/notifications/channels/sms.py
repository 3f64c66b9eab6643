"""SMS behind one small interface, `SmsSender.send(to, body) -> provider id`.

Adapters: `TwilioSmsSender` (the official SDK; chosen when TWILIO_* settings are set),
`LogSmsSender` (development default: writes the text to the log) and `MemorySmsSender`
(keeps messages in `MemorySmsSender.outbox`, like Django's locmem email backend; tests).
`SMS_BACKEND` (a dotted path) overrides the choice.
"""

import logging
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

log = logging.getLogger("autodoctor.notifications.sms")


class SmsSender(Protocol):
    def send(self, to: str, body: str) -> str: ...


class LogSmsSender:
    def send(self, to: str, body: str) -> str:
        log.info("SMS to %s: %s", to, body)
        return "logged"


@dataclass(frozen=True)
class SmsRecord:
    to: str
    body: str


class MemorySmsSender:
    outbox: ClassVar[list[SmsRecord]] = []

    def send(self, to: str, body: str) -> str:
        self.outbox.append(SmsRecord(to, body))
        return f"memory-{len(self.outbox)}"


class TwilioSmsSender:
    """Sends through Twilio's Messages API. `http_client` is the SDK's own seam (tests
    pass a fake one, so the real SDK code builds and parses the request)."""

    def __init__(
        self,
        *,
        account_sid: str | None = None,
        auth_token: str | None = None,
        from_number: str | None = None,
        http_client: Any = None,
    ) -> None:
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        self.from_number = from_number or settings.TWILIO_FROM_NUMBER
        self.client = Client(
            account_sid or settings.TWILIO_ACCOUNT_SID,
            auth_token or settings.TWILIO_AUTH_TOKEN,
            # A bounded timeout: a hung request must end well before the outbox claim
            # timeout, or another worker would re-claim and send the text again.
            http_client=http_client or TwilioHttpClient(timeout=settings.SMS_TIMEOUT_SECONDS),
        )

    def send(self, to: str, body: str) -> str:
        message = self.client.messages.create(to=to, from_=self.from_number, body=body)
        return str(message.sid)


def sms_sender() -> SmsSender:
    if settings.SMS_BACKEND:
        return import_string(settings.SMS_BACKEND)()
    if settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN and settings.TWILIO_FROM_NUMBER:
        return TwilioSmsSender()
    return LogSmsSender()
