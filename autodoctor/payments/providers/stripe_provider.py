"""Stripe through the official SDK: Checkout Sessions, Refunds and Connect Transfers.

The API key is passed per call (never set globally), and every create call carries an
idempotency key derived from our own row id, so a retried request never charges or
refunds twice. Webhook signatures are verified in services/webhooks.py with the SDK's
`stripe.WebhookSignature.verify_header`.
"""

import logging

import stripe
from django.utils.translation import gettext as _

from . import CheckoutCreated, CheckoutRequest, ProviderError, RefundCreated, TransferRequest

log = logging.getLogger("autodoctor.payments")


class StripeProvider:
    name = "stripe"

    def __init__(self, api_key: str, webhook_secret: str) -> None:
        self._api_key = api_key
        self._webhook_secret = webhook_secret

    @property
    def webhook_secret(self) -> str:
        return self._webhook_secret

    def checkout_create(self, request: CheckoutRequest) -> CheckoutCreated:
        try:
            session = stripe.checkout.Session.create(
                api_key=self._api_key,
                idempotency_key=request.idempotency_key,
                mode="payment",
                line_items=[
                    {
                        "quantity": 1,
                        "price_data": {
                            "currency": request.currency.lower(),
                            "unit_amount": request.amount_cents,
                            "product_data": {
                                "name": request.product_name,
                                "description": request.product_description,
                            },
                        },
                    }
                ],
                metadata=request.metadata,
                payment_intent_data={"metadata": request.metadata},
                client_reference_id=request.metadata["payment_id"],
                customer_email=request.customer_email,
                expires_at=int(request.expires_at.timestamp()),
                success_url=request.success_url,
                cancel_url=request.cancel_url,
            )
        except stripe.StripeError as exc:
            log.warning("stripe checkout create failed: %s", exc)
            raise ProviderError(
                _("The card payment service is unavailable; try again or pay another way.")
            ) from exc
        return CheckoutCreated(checkout_id=session.id, url=session.url or "")

    def checkout_expire(self, checkout_id: str) -> None:
        try:
            stripe.checkout.Session.expire(checkout_id, api_key=self._api_key)
        except stripe.StripeError as exc:
            log.warning("stripe checkout expire failed for %s: %s", checkout_id, exc)
            raise ProviderError(_("The checkout could not be closed.")) from exc

    def refund_create(
        self,
        *,
        provider_payment_id: str,
        amount_cents: int,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> RefundCreated:
        try:
            refund = stripe.Refund.create(
                api_key=self._api_key,
                idempotency_key=idempotency_key,
                payment_intent=provider_payment_id,
                amount=amount_cents,
                metadata=metadata,
            )
        except stripe.StripeError as exc:
            log.warning("stripe refund failed: %s", exc)
            raise ProviderError(
                _("The card refund could not be sent yet; it will be retried.")
            ) from exc
        return RefundCreated(refund_id=refund.id, status=refund.status or "pending")

    def transfer_create(self, request: TransferRequest) -> str:
        """A Connect transfer to the payee's connected account. The idempotency key is
        per run and payee, so a retried payout never transfers twice."""
        try:
            transfer = stripe.Transfer.create(
                api_key=self._api_key,
                idempotency_key=request.idempotency_key,
                amount=request.amount_cents,
                currency=request.currency.lower(),
                destination=request.destination,
                transfer_group=request.group,
                metadata=request.metadata,
            )
        except stripe.StripeError as exc:
            log.warning("stripe transfer failed (%s): %s", request.idempotency_key, exc)
            raise ProviderError(f"The transfer was not accepted: {exc}"[:300]) from exc
        return transfer.id
