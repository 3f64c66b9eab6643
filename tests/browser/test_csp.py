"""The Content-Security-Policy leaves the pages working: the API docs' Swagger UI (the
one third-party bundle) renders its operations, and htmx swaps still happen. The
`open_page` fixture fails any test whose pages reported a CSP violation."""

import pytest
from playwright.sync_api import expect

from tests.factories import CustomerFactory

pytestmark = pytest.mark.browser


def test_the_api_docs_render_every_operation_under_the_policy(open_page):
    page = open_page(CustomerFactory().user)
    response = page.goto("/api/docs")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator(".opblock").first).to_be_visible()
    assert page.locator(".opblock").count() > 20
    expect(page.locator("#swagger-ui")).to_contain_text("/api/slots/reserve")


def test_an_injected_inline_script_is_blocked_and_reported(browser, live_server):
    from tests.browser.conftest import watch_csp

    context = browser.new_context(base_url=live_server.url)
    try:
        page = context.new_page()
        violations: list[str] = []
        watch_csp(page, violations)
        page.goto("/login/")
        page.evaluate(
            "() => { const s = document.createElement('script');"
            " s.textContent = 'document.body.dataset.pwned = 1'; document.head.append(s); }"
        )
        expect(page.locator("body")).not_to_have_attribute("data-pwned", "1")
        page.wait_for_timeout(200)
        assert violations and "script-src" in violations[0]
    finally:
        context.close()
