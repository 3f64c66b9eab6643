"""The simulated provider: Stripe's flow without Stripe, so the system runs offline.

Its checkout is our own page (payments:simulated_checkout) with "Pay" and "Fail"
buttons. Pressing one builds the event Stripe would send (same type names, same object
shape, same `Stripe-Signature` header, signed with SIMULATED_PAYMENTS_SECRET by the
SDK's own helper) and hands it to the same webhook handler Stripe's events reach.
Refunds succeed at once, like most card refunds do at Stripe.
"""

import json
import secrets
import time
from typing import Any

import stripe
from django.conf import settings
from django.urls import reverse

from . import CheckoutCreated, CheckoutRequest, RefundCreated, TransferRequest


class SimulatedProvider:
    name = "simulated"

    def __init__(self, secret: str) -> None:
        self._secret = secret

    @property
    def webhook_secret(self) -> str:
        return self._secret

    def checkout_create(self, request: CheckoutRequest) -> CheckoutCreated:
        checkout_id = f"cs_sim_{secrets.token_hex(12)}"
        url = settings.SITE_URL + reverse("payments:simulated_checkout", args=[checkout_id])
        return CheckoutCreated(checkout_id=checkout_id, url=url)

    def checkout_expire(self, checkout_id: str) -> None:
        """Nothing to tell a server: our checkout page refuses a payment that is no longer
        pending (services/simulated.simulated_checkout_finish)."""

    def refund_create(
        self,
        *,
        provider_payment_id: str,
        amount_cents: int,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> RefundCreated:
        return RefundCreated(refund_id=f"re_sim_{secrets.token_hex(12)}", status="succeeded")

    def transfer_create(self, request: TransferRequest) -> str:
        """Payouts "arrive" at once; the same idempotency key gives the same transfer id."""
        return f"tr_sim_{request.idempotency_key}"

    def signed_event(self, event_type: str, obj: dict[str, Any]) -> tuple[bytes, str]:
        """A Stripe-shaped event around `obj` and its `Stripe-Signature` header."""
        event = {
            "id": f"evt_sim_{secrets.token_hex(12)}",
            "object": "event",
            "created": int(time.time()),
            "livemode": False,
            "type": event_type,
            "data": {"object": obj},
        }
        payload = json.dumps(event)
        header = stripe.WebhookSignature.generate_signature_header(payload, self._secret)
        return payload.encode(), header
