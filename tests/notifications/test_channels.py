"""The channels on their own: email through Django's locmem mailer, SMS adapters."""

import json
import logging

import pytest
from django.core import mail
from icalendar import Calendar
from twilio.base.exceptions import TwilioRestException
from twilio.http import HttpClient
from twilio.http.response import Response

from autodoctor.notifications import ics
from autodoctor.notifications.channels.email import email_send
from autodoctor.notifications.channels.sms import (
    LogSmsSender,
    MemorySmsSender,
    TwilioSmsSender,
    sms_sender,
)

from .conftest import NOW, SLOT


def test_email_goes_through_the_configured_mailer_with_the_invite_attached():
    entry = ics.CalendarEntry(
        uid="session-7@autodoctor", start=SLOT, end=SLOT, summary="x", stamp=NOW
    )
    data = ics.calendar_bytes([entry], method="CANCEL")
    email_send(
        to="Ann <ann@example.test>",
        subject="Cancelled",
        body="Body",
        message_id="<outbox-7@autodoctor.example>",
        calendar=("CANCEL", data),
    )
    [message] = mail.outbox
    assert message.to == ["Ann <ann@example.test>"]
    assert message.extra_headers["Message-ID"] == "<outbox-7@autodoctor.example>"
    parsed = message.message()
    [part] = [p for p in parsed.walk() if p.get_content_type() == "text/calendar"]
    assert part.get_param("method") == "CANCEL"
    assert part.get_filename() == "appointment.ics"
    raw = part.get_payload(decode=True)
    assert raw == data and b"\r\n" in raw  # CRLF line ends survive (RFC 5545)
    assert str(Calendar.from_ical(raw)["METHOD"]) == "CANCEL"


class FakeTwilioHttp(HttpClient):
    """Twilio's own HTTP seam: the real SDK builds the request, we answer it."""

    def __init__(self, status=201):
        super().__init__(logging.getLogger("test.twilio"), False, None)
        self.status = status
        self.requests = []

    def request(self, method, url, params=None, data=None, headers=None, auth=None, **kwargs):
        self.requests.append({"method": method, "url": url, "data": data, "auth": auth})
        if self.status >= 400:
            return Response(self.status, json.dumps({"code": 21211, "message": "Invalid 'To'"}))
        return Response(
            self.status,
            json.dumps({"sid": "SM0123456789abcdef", "status": "queued", "to": data["To"]}),
        )


def test_twilio_adapter_sends_through_the_messages_api():
    http = FakeTwilioHttp()
    sender = TwilioSmsSender(
        account_sid="AC123", auth_token="secret", from_number="+15005550006", http_client=http
    )
    assert sender.send("+14165550100", "Hello") == "SM0123456789abcdef"
    [request] = http.requests
    assert request["method"] == "POST"
    assert request["url"].endswith("/Accounts/AC123/Messages.json")
    assert request["data"] == {"To": "+14165550100", "From": "+15005550006", "Body": "Hello"}
    assert request["auth"] == ("AC123", "secret")


def test_twilio_errors_surface_so_the_outbox_can_retry():
    sender = TwilioSmsSender(
        account_sid="AC123",
        auth_token="secret",
        from_number="+15005550006",
        http_client=FakeTwilioHttp(status=400),
    )
    with pytest.raises(TwilioRestException):
        sender.send("+1", "Hello")


def test_sms_adapter_is_chosen_by_settings(settings):
    settings.SMS_BACKEND = ""
    assert isinstance(sms_sender(), LogSmsSender)
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC123", "secret"
    settings.TWILIO_FROM_NUMBER = "+15005550006"
    assert isinstance(sms_sender(), TwilioSmsSender)
    settings.SMS_BACKEND = "autodoctor.notifications.channels.sms.MemorySmsSender"
    assert isinstance(sms_sender(), MemorySmsSender)


def test_log_adapter_writes_the_text_to_the_log(caplog):
    with caplog.at_level(logging.INFO, logger="autodoctor.notifications.sms"):
        LogSmsSender().send("+14165550100", "Your session starts in 1 hour")
    assert "SMS to +14165550100: Your session starts in 1 hour" in caplog.text


def test_memory_adapter_is_the_fake_sink(sms_outbox):
    MemorySmsSender().send("+1", "a")
    MemorySmsSender().send("+2", "b")
    assert [(m.to, m.body) for m in sms_outbox] == [("+1", "a"), ("+2", "b")]
