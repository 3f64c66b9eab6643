"""Playwright journeys on Debian's chromium against pytest-django's live server.

Playwright's sync API keeps an asyncio event loop around, and Django refuses ORM calls
from a thread with a running loop (SynchronousOnlyOperation). The tests drive the
browser and read the database from the same thread, so they opt out of that guard.
A failed journey leaves a full-page screenshot of every open page in test-artifacts/.
Every page opened through `open_page` is watched for Content-Security-Policy violations
(the browser's console reports each blocked script, style or connection): a journey that
passed but tripped the policy fails at teardown, so the CSP can never silently break a page.
"""

import importlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.apps import apps as django_apps

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TIMEOUT_MS = 10_000

_plans_migration = importlib.import_module(
    "autodoctor.booking.migrations.0002_overlap_guard_and_plans"
)
_tax_migration = importlib.import_module("autodoctor.payments.migrations.0003_sales_tax")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator:
    """Expose each phase's report as item.rep_setup / rep_call / rep_teardown."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(autouse=True)
def plans(transactional_db):
    # Transactional tests flush tables, data-migration rows included: recreate them
    # (the plans, and the sales-tax rates the checkout and receipts show).
    _plans_migration.create_plans(django_apps, None)
    _tax_migration.seed_tax_rates(django_apps, None)


@pytest.fixture(autouse=True)
def quick_polls(settings):
    """Pages that wait for the other side ask again every second (live: 2–10 s), so a
    journey does not sit out a whole polling interval at each step."""
    settings.LIVE_POLL_SECONDS = dict.fromkeys(settings.LIVE_POLL_SECONDS, 1)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser, live_server, request) -> Iterator[Callable]:
    """open_page(user) -> a Playwright page logged in as `user`, in its own context."""
    from tests.factories import PASSWORD

    pages = []
    csp_violations: list[str] = []

    def _open(user, *, viewport: dict | None = None, bypass_csp: bool = False):
        # bypass_csp is for tests that inject their own inline script (axe-core), which
        # the site's policy rightly blocks; every other page runs under the real policy.
        context = browser.new_context(
            base_url=live_server.url,
            viewport=viewport or {"width": 1100, "height": 900},
            timezone_id=user.time_zone,
            bypass_csp=bypass_csp,
        )
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        watch_csp(page, csp_violations)
        pages.append(page)
        page.goto("/login/", timeout=30_000)  # the first page of a run also warms the server
        page.fill("input[name=username]", user.email)
        page.fill("input[name=password]", PASSWORD)
        page.click("main form button[type=submit]")
        page.wait_for_url(f"{live_server.url}/", timeout=30_000)
        return page

    yield _open

    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        for index, page in enumerate(pages):
            try:
                page.screenshot(path=ARTIFACTS / f"{request.node.name}-{index}.png", full_page=True)
            except Exception as exc:  # a crashed page must not hide the test's own failure
                print(f"screenshot failed: {exc}")
    for page in pages:
        page.context.close()
    if report is not None and report.passed:
        assert not csp_violations, f"Content-Security-Policy blocked: {csp_violations}"


def watch_csp(page, sink: list[str]) -> None:
    """Record every CSP violation the page reports in its console into `sink`."""
    page.on(
        "console",
        lambda message: (
            sink.append(f"{page.url}: {message.text}")
            if "Content Security Policy" in message.text
            else None
        ),
    )
