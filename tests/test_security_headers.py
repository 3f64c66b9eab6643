"""Web defaults a security reviewer expects: a Content-Security-Policy without inline
scripts, and templates that need none."""

import re
from pathlib import Path

import pytest

from tests.factories import CustomerFactory

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = sorted((ROOT / "autodoctor").rglob("templates/**/*.html"))
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
EVENT_HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)
HTMX_INLINE = re.compile(r"\bhx-on\b|\bhx-on:", re.I)


def _directives(header: str) -> dict[str, list[str]]:
    parts = (item.split() for item in header.split(";") if item.strip())
    return {words[0]: words[1:] for words in parts}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/login/", "/api/docs"])
def test_pages_send_a_policy_that_refuses_inline_and_foreign_scripts(client, path):
    if path != "/login/":
        client.force_login(CustomerFactory().user)
    response = client.get(path)
    assert response.status_code == 200
    policy = _directives(response["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_templates_hold_no_inline_script_or_event_handler():
    assert TEMPLATES, "no templates found"
    offenders = []
    for template in TEMPLATES:
        text = template.read_text()
        for pattern in (INLINE_SCRIPT, EVENT_HANDLER, HTMX_INLINE):
            offenders += [
                f"{template.relative_to(ROOT)}: {m.group(0)}" for m in pattern.finditer(text)
            ]
    assert not offenders, "blocked by the CSP (script-src 'self'): " + "; ".join(offenders)


def test_the_inline_script_check_recognises_what_it_must_refuse():
    assert INLINE_SCRIPT.search("<script>alert(1)</script>")
    assert not INLINE_SCRIPT.search('<script src="/static/app.js"></script>')
    assert not INLINE_SCRIPT.search('<script type="application/json" id="x">{}</script>')
    assert EVENT_HANDLER.search('<button onclick="go()">')
    assert not EVENT_HANDLER.search('<button class="online">')
