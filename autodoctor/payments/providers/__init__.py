"""Card payment providers: Stripe (official SDK) and a built-in simulated provider.

Both speak the same language: a hosted checkout page, webhook events in Stripe's shape
signed with Stripe's `Stripe-Signature` scheme, and refunds. Which one takes a new
payment is decided here once (`active_provider_name`); an existing payment keeps the
provider that took it (`provider_for(payment.provider)`).

- Stripe when STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET are both set;
- otherwise the simulated provider, if SIMULATED_PAYMENTS_ALLOWED (default: DEBUG) —
  it confirms bookings without money, so it is refused in production by default.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from django.conf import settings
from django.utils.translation import gettext as _

from autodoctor.errors import DomainError, NotFound


@dataclass(frozen=True)
class CheckoutRequest:
    amount_cents: int
    currency: str
    product_name: str
    product_description: str
    customer_email: str
    metadata: dict[str, str]
    expires_at: datetime
    success_url: str
    cancel_url: str
    idempotency_key: str


@dataclass(frozen=True)
class CheckoutCreated:
    checkout_id: str
    url: str


@dataclass(frozen=True)
class RefundCreated:
    refund_id: str
    status: str  # the provider's word: succeeded, pending, requires_action, failed, canceled


@dataclass(frozen=True)
class TransferRequest:
    """Money from the platform's balance to a payee's connected account (Stripe Connect)."""

    amount_cents: int
    currency: str
    destination: str
    idempotency_key: str
    group: str
    metadata: dict[str, str]


class ProviderError(DomainError):
    """The provider refused or could not be reached."""

    status = 502
    code = "payment_provider_error"


class PaymentProvider(Protocol):
    name: str

    @property
    def webhook_secret(self) -> str: ...

    def checkout_create(self, request: CheckoutRequest) -> CheckoutCreated: ...

    def checkout_expire(self, checkout_id: str) -> None:
        """Close an open checkout so it can no longer be paid (ProviderError if it is not
        open any more, e.g. the customer paid a moment ago)."""
        ...

    def refund_create(
        self,
        *,
        provider_payment_id: str,
        amount_cents: int,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> RefundCreated: ...

    def transfer_create(self, request: TransferRequest) -> str:
        """Send a payout; returns the provider's transfer id (ProviderError if refused)."""
        ...


def stripe_configured() -> bool:
    return bool(settings.STRIPE_SECRET_KEY and settings.STRIPE_WEBHOOK_SECRET)


def simulated_allowed() -> bool:
    return bool(settings.SIMULATED_PAYMENTS_ALLOWED and settings.SIMULATED_PAYMENTS_SECRET)


def provider_for(name: str) -> PaymentProvider:
    """The provider called `name`, if it is enabled (404 otherwise: a disabled
    provider's webhook endpoint does not exist)."""
    if name == "stripe" and stripe_configured():
        from .stripe_provider import StripeProvider

        return StripeProvider(settings.STRIPE_SECRET_KEY, settings.STRIPE_WEBHOOK_SECRET)
    if name == "simulated" and simulated_allowed():
        from .simulated import SimulatedProvider

        return SimulatedProvider(settings.SIMULATED_PAYMENTS_SECRET)
    raise NotFound(_("The %(name)s payment provider is not enabled.") % {"name": name})


def active_provider_name() -> str | None:
    """The name of the provider that takes new card payments, None when none does."""
    if stripe_configured():
        return "stripe"
    if simulated_allowed():
        return "simulated"
    return None


def active_provider() -> PaymentProvider:
    """The provider that takes new card payments (503 when card payments are off)."""
    if (name := active_provider_name()) is not None:
        return provider_for(name)
    raise DomainError(
        _("Card payments are not configured (set STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET)."),
        code="card_payments_unavailable",
        status=503,
    )
