"""Secrets never reach logs or error reports: API tokens, bearer headers, payment keys,
and the secret parts of links (email verification, invitations, password reset, private
calendar feeds) are replaced by `[redacted]` in every log line and every error report
(Django's 500 emails and pages), on top of Django's own settings/META cleansing.

Wired in settings: LOGGING's handlers carry `RedactSecretsFilter`;
DEFAULT_EXCEPTION_REPORTER is `RedactingExceptionReporter`.
"""

import logging
import re

from django.views.debug import ExceptionReporter

REDACTED = "[redacted]"
SECRET_NAMES = re.compile(r"token|key|secret|signature|password|auth", re.I)
_PATTERNS = [
    (re.compile(r"(\bBearer\s+)[^\s'\"]+", re.I), rf"\1{REDACTED}"),
    (re.compile(r"\badt_[A-Za-z0-9_\-]{4,}"), f"adt_{REDACTED}"),  # our API tokens
    (re.compile(r"\b((?:sk|rk|whsec)_(?:live_|test_)?)[A-Za-z0-9]{6,}"), rf"\1{REDACTED}"),
    # Secret path segments of emailed links and calendar feeds.
    (
        re.compile(r"(/(?:verify|invitations|feed)/)(?!needed/|resend/)[^/\s?#'\"<>.]+"),
        rf"\1{REDACTED}",
    ),
    (re.compile(r"(/password/reset/[^/\s]+/)(?!done/|sent/)[^/\s?#'\"<>]+"), rf"\1{REDACTED}"),
    # Query parameters and form-style pairs that carry secrets.
    (
        re.compile(
            r"(\b(?:token|key|secret|signature|password|feed_url|ics_url)=)[^&\s'\"<>]+", re.I
        ),
        rf"\1{REDACTED}",
    ),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecretsFilter(logging.Filter):
    """A handler filter: formats the record's message (and traceback) once, redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class RedactingExceptionReporter(ExceptionReporter):
    """Django's error report (technical 500 page and the admins' email), redacted:
    query parameters with secret-sounding names blanked, every other text scrubbed."""

    def get_traceback_data(self) -> dict:
        data = super().get_traceback_data()
        if "request_GET_items" in data:
            data["request_GET_items"] = [
                (name, REDACTED if SECRET_NAMES.search(name) else redact(value))
                for name, value in data["request_GET_items"]
            ]
        return data

    def get_traceback_text(self) -> str:
        return redact(super().get_traceback_text())

    def get_traceback_html(self) -> str:
        return redact(super().get_traceback_html())
