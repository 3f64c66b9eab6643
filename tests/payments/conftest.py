"""Payments fixtures: plans, a mechanic with hours, holds made by the real booking
service, a fake HTTP layer under the real Stripe SDK, and Stripe-signed events.

No test talks to Stripe: `stripe_http` replaces the SDK's HTTP client (so the SDK's own
request building runs), and webhook events are signed with the SDK's own helper
(`stripe.WebhookSignature.generate_signature_header`) and verified by the real code.
"""

import importlib
import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import stripe
from django.apps import apps as django_apps

from autodoctor.booking import services as booking
from autodoctor.payments.models import SalesTaxRate
from tests.factories import CustomerFactory, MechanicFactory, VehicleFactory, weekly_hours

_plans_migration = importlib.import_module(
    "autodoctor.booking.migrations.0002_overlap_guard_and_plans"
)
_tax_migration = importlib.import_module("autodoctor.payments.migrations.0003_sales_tax")

# A fixed "now": Monday 2026-11-30 12:00 UTC (07:00 in Toronto).
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
# Tuesday 2026-12-01 15:00 UTC = 10:00 Toronto, inside 09:00–17:00, > 24 h ahead of NOW.
SLOT = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
STRIPE_SECRET = "whsec_test_stripe_secret"
SIMULATED_SECRET = "whsec_test_simulated_secret"


def later(minutes: float) -> datetime:
    return NOW + timedelta(minutes=minutes)


@pytest.fixture(autouse=True)
def plans(db, request):
    # Transactional tests flush tables, data-migration rows included: recreate them.
    _plans_migration.create_plans(django_apps, None)
    # The flows are tested at tax-free prices (an empty rates table charges no tax);
    # tests marked `sales_tax` (tests/payments/test_sales_tax.py) run with the real rates.
    if request.node.get_closest_marker("sales_tax"):
        _tax_migration.seed_tax_rates(django_apps, None)
    else:
        SalesTaxRate.objects.all().delete()


@pytest.fixture(autouse=True)
def payment_settings(settings):
    """Offline by default: the simulated provider, with a test secret."""
    settings.STRIPE_SECRET_KEY = ""
    settings.STRIPE_WEBHOOK_SECRET = ""
    settings.SIMULATED_PAYMENTS_ALLOWED = True
    settings.SIMULATED_PAYMENTS_SECRET = SIMULATED_SECRET
    settings.SITE_URL = "http://testserver"
    settings.HOLD_MINUTES = 15
    return settings


@pytest.fixture
def clock(time_machine):
    """Freeze the clock at NOW + 1 minute, so rows stamped with the real time (created_at)
    and requests without an injected `now` agree with NOW/SLOT whatever today is."""
    time_machine.move_to(later(1), tick=False)
    return time_machine


@pytest.fixture
def stripe_on(payment_settings, stripe_http):
    payment_settings.STRIPE_SECRET_KEY = "sk_test_not_a_real_key"
    payment_settings.STRIPE_WEBHOOK_SECRET = STRIPE_SECRET
    return stripe_http


class FakeStripeHTTP(stripe.HTTPClient):
    """Stands in for the network under the real SDK: records each request (method,
    path, headers, decoded form body) and answers like Stripe's API would."""

    name = "fake"

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[dict[str, Any]] = []
        self.refund_status = "succeeded"
        self.fail_refunds = False
        self.fail_checkouts = False  # Stripe unreachable for new checkouts
        self.completed_checkouts: set[str] = set()  # checkout ids Stripe will not expire
        self.fail_expire = False  # Stripe unreachable for checkout expiry
        self._ids = itertools.count(1)

    def request(self, method, url, headers, post_data=None):  # type: ignore[no-untyped-def]
        path = urlsplit(url).path
        form = dict(parse_qsl(post_data or "", keep_blank_values=True))
        self.requests.append(
            {"method": method, "path": path, "headers": dict(headers or {}), "form": form}
        )
        n = next(self._ids)
        if path == "/v1/checkout/sessions":
            if self.fail_checkouts:
                error = {"error": {"type": "api_error", "message": "Stripe is down (test)"}}
                return json.dumps(error), 500, {}
            body = {
                "id": f"cs_test_{n}",
                "object": "checkout.session",
                "url": f"https://checkout.stripe.com/c/pay/cs_test_{n}",
                "status": "open",
                "payment_status": "unpaid",
                "amount_total": int(form["line_items[0][price_data][unit_amount]"]),
                "currency": form["line_items[0][price_data][currency]"],
                "expires_at": int(form["expires_at"]),
            }
            return json.dumps(body), 200, {}
        if path.startswith("/v1/checkout/sessions/") and path.endswith("/expire"):
            checkout_id = path.split("/")[4]
            if self.fail_expire:
                error = {"error": {"type": "api_error", "message": "Stripe is down (test)"}}
                return json.dumps(error), 500, {}
            if checkout_id in self.completed_checkouts:  # paid meanwhile: Stripe refuses
                error = {"error": {"type": "invalid_request_error", "message": "not open"}}
                return json.dumps(error), 400, {}
            body = {"id": checkout_id, "object": "checkout.session", "status": "expired"}
            return json.dumps(body), 200, {}
        if path == "/v1/refunds":
            if self.fail_refunds:
                error = {"error": {"type": "api_error", "message": "Stripe is down (test)"}}
                return json.dumps(error), 500, {}
            body = {
                "id": f"re_test_{n}",
                "object": "refund",
                "amount": int(form["amount"]),
                "payment_intent": form["payment_intent"],
                "status": self.refund_status,
            }
            return json.dumps(body), 200, {}
        return json.dumps({"error": {"type": "invalid_request_error", "message": path}}), 404, {}

    def close(self) -> None:
        pass

    def calls(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"] == path]


@pytest.fixture
def stripe_http(monkeypatch):
    fake = FakeStripeHTTP()
    monkeypatch.setattr(stripe, "default_http_client", fake)
    monkeypatch.setattr(stripe, "max_network_retries", 0)
    return fake


def signed_event(
    event_type: str,
    obj: dict[str, Any],
    *,
    secret: str = STRIPE_SECRET,
    event_id: str | None = None,
) -> tuple[str, str]:
    """A Stripe-shaped event and its Stripe-Signature header (the SDK's own helper)."""
    event = {
        "id": event_id or f"evt_test_{next(_event_ids)}",
        "object": "event",
        "type": event_type,
        "data": {"object": obj},
    }
    payload = json.dumps(event)
    return payload, stripe.WebhookSignature.generate_signature_header(payload, secret)


_event_ids = itertools.count(1)


def post_webhook(client, payload: str, header: str | None, provider: str = "stripe"):
    extra = {"HTTP_STRIPE_SIGNATURE": header} if header is not None else {}
    return client.post(
        f"/payments/webhooks/{provider}/", data=payload, content_type="application/json", **extra
    )


def completed_checkout(payment, **overrides: Any) -> dict[str, Any]:
    """The checkout.session object Stripe sends when `payment`'s checkout is paid."""
    obj = {
        "id": payment.provider_checkout_id,
        "object": "checkout.session",
        "amount_total": payment.amount_cents,
        "currency": payment.currency.lower(),
        "payment_status": "paid",
        "status": "complete",
        "payment_intent": f"pi_test_{payment.pk}",
        "metadata": {
            "payment_id": str(payment.pk),
            "reservation_id": str(payment.reservation_id or ""),  # none for start-now
            "customer_id": str(payment.customer_id),
            "session_id": str(payment.session_id),
            "plan": payment.plan.code,
        },
    }
    metadata = overrides.pop("metadata", None)
    if metadata:
        obj["metadata"] = {**obj["metadata"], **metadata}
    obj.update(overrides)
    return obj


@pytest.fixture
def buyer(db):
    profile = CustomerFactory()
    VehicleFactory(customer=profile)
    return profile.user


@pytest.fixture
def other_buyer(db):
    return CustomerFactory().user


@pytest.fixture
def mechanic(db):
    """Virtual-only mechanic, 09:00–17:00 Toronto every day."""
    profile = MechanicFactory()
    weekly_hours(profile)
    return profile


@pytest.fixture
def hold(db):
    def _hold(customer, mechanic, *, start=SLOT, plan="advice", now=NOW):
        intake = booking.intake_validate(
            customer=customer, plan=plan, concern="Grinding noise when braking at low speed"
        )
        return booking.reservation_hold(
            customer=customer, intake=intake, mechanic_id=mechanic.pk, starts_at=start, now=now
        )

    return _hold
