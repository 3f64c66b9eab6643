"""Secrets never reach logs or error reports (autodoctor/redaction.py, LOGGING)."""

import io
import logging
import sys

import pytest
from django.test import RequestFactory
from django.views.debug import get_exception_reporter_class

from autodoctor.redaction import redact

REPORT_SECRETS = ("REPORTtoken77", "QUERYsecret", "HEADERtoken55")
SECRETS = {
    "api token": ("Authorization: Bearer adt_Zk3v9QpLm2", "adt_Zk3v9QpLm2"),
    "bare api token": ("token adt_Zk3v9QpLm2xx used", "Zk3v9QpLm2xx"),
    "stripe key": ("stripe sk_live_4eC39HqLyjWDarjtT1", "4eC39HqLyjWDarjtT1"),
    "webhook secret": ("whsec_abcdef123456 in config", "abcdef123456"),
    "verification link": ("GET /accounts/verify/Mq81-Zt_0aa/ 200", "Mq81-Zt_0aa"),
    "invitation link": ("/accounts/invitations/inv0tok3n/", "inv0tok3n"),
    "calendar feed": ("Not Found: /notifications/feed/f33dk3y9.ics", "f33dk3y9"),
    "password reset": ("/accounts/password/reset/MTI/c3x-abc123/", "c3x-abc123"),
    "query secret": ("/cb?token=s3cr3t&x=1", "s3cr3t"),
}


@pytest.mark.parametrize("case", SECRETS, ids=list(SECRETS))
def test_redact_removes_the_secret_and_keeps_the_rest(case):
    text, secret = SECRETS[case]
    cleaned = redact(text)
    assert secret not in cleaned
    assert "[redacted]" in cleaned


def test_redact_leaves_ordinary_paths_alone():
    for path in (
        "/accounts/verify/needed/",
        "/booking/sessions/12/",
        "/accounts/password/reset/sent/",
    ):
        assert redact(path) == path


@pytest.fixture
def console(settings):
    """The configured handlers of a logger, writing into a buffer."""
    buffer = io.StringIO()
    handlers = logging.getLogger("django").handlers + logging.getLogger("autodoctor").handlers
    streams = [(h, h.setStream(buffer)) for h in handlers if isinstance(h, logging.StreamHandler)]
    assert streams
    yield buffer
    for handler, stream in streams:
        handler.setStream(stream)


@pytest.mark.django_db
def test_a_404_on_a_secret_feed_link_is_logged_without_the_secret(client, console):
    client.get("/notifications/feed/f33dk3y9SECRET.ics")
    logged = console.getvalue()
    assert "/notifications/feed/[redacted]" in logged
    assert "f33dk3y9SECRET" not in logged


def test_log_lines_with_arguments_and_tracebacks_are_redacted(console):
    log = logging.getLogger("autodoctor.test")
    try:
        raise RuntimeError("failed with Bearer adt_TRACEBACKtoken1")
    except RuntimeError:
        log.exception("calling with %s", "sk_test_ARGUMENTkey99")
    logged = console.getvalue()
    assert "ARGUMENTkey99" not in logged and "TRACEBACKtoken1" not in logged
    assert logged.count("[redacted]") >= 2


def _report_of_a_failing_request(path: str, authorization: str) -> tuple[str, str]:
    # The report quotes the source around the failing line: keep secrets out of it.
    request = RequestFactory().get(path, headers={"Authorization": authorization})
    try:
        raise ValueError("boom")
    except ValueError:
        reporter = get_exception_reporter_class(request)(request, *sys.exc_info())
    return reporter.get_traceback_text(), reporter.get_traceback_html()


def test_error_reports_are_redacted():
    token, query, header = REPORT_SECRETS
    reports = _report_of_a_failing_request(
        f"/accounts/invitations/{token}/?token={query}", f"Bearer adt_{header}"
    )
    for report in reports:
        assert "boom" in report
        for secret in REPORT_SECRETS:
            assert secret not in report
