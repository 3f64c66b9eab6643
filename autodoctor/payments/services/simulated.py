"""What the simulated provider's "servers" do: when the customer presses "Pay" or "Fail"
on our checkout page, or when a checkout runs out of time, build the event Stripe
would send, sign it, and hand it to the same `webhook_receive` Stripe's events reach."""

from datetime import datetime
from typing import Any, Literal

from django.utils import timezone
from django.utils.translation import gettext as _

from autodoctor.accounts.models import User
from autodoctor.errors import Conflict, NotFound

from ..models import Payment, PaymentMethod, PaymentStatus
from ..providers import provider_for
from ..providers.simulated import SimulatedProvider
from .checkout import checkout_metadata
from .webhooks import WebhookResult, webhook_receive

PROVIDER = "simulated"


def simulated_checkout_for(checkout_id: str, customer: User) -> Payment:
    payment = (
        Payment.objects.select_related("plan", "session", "reservation")
        .filter(provider=PROVIDER, provider_checkout_id=checkout_id, customer=customer)
        .first()
    )
    if payment is None:
        raise NotFound(_("No such checkout."))
    return payment


def _checkout_object(payment: Payment, *, paid: bool) -> dict[str, Any]:
    """A checkout.session object in Stripe's shape (the fields our handler reads)."""
    return {
        "id": payment.provider_checkout_id,
        "object": "checkout.session",
        "mode": "payment",
        "amount_total": payment.amount_cents,
        "currency": payment.currency.lower(),
        "client_reference_id": str(payment.pk),
        "customer_email": payment.customer.email,
        "metadata": checkout_metadata(payment),
        "payment_intent": f"pi_sim_{payment.pk}" if paid else None,
        "payment_status": "paid" if paid else "unpaid",
        "status": "complete" if paid else "expired",
    }


def simulated_event_send(
    payment: Payment, *, paid: bool, now: datetime | None = None
) -> WebhookResult:
    provider = provider_for(PROVIDER)
    assert isinstance(provider, SimulatedProvider)
    event_type = "checkout.session.completed" if paid else "checkout.session.expired"
    payload, signature = provider.signed_event(event_type, _checkout_object(payment, paid=paid))
    return webhook_receive(provider_name=PROVIDER, payload=payload, signature=signature, now=now)


def simulated_checkout_finish(
    *,
    checkout_id: str,
    customer: User,
    outcome: Literal["pay", "fail"],
    now: datetime | None = None,
) -> Payment:
    """The page's buttons: "Pay" completes the checkout; "Fail" ends it unpaid (as Stripe
    does when the card keeps being declined until the checkout expires)."""
    payment = simulated_checkout_for(checkout_id, customer)
    if payment.status == PaymentStatus.FAILED:
        # Like an expired Stripe checkout (it ran out, failed, or we closed it when the
        # booking was cancelled): nothing can be paid here any more.
        raise Conflict(_("This checkout is closed; nothing was charged."), code="checkout_closed")
    if payment.status != PaymentStatus.PENDING:
        return payment  # paid already (a resubmitted "Pay"): nothing happens twice
    simulated_event_send(payment, paid=outcome == "pay", now=now)
    payment.refresh_from_db()
    return payment


def simulated_checkouts_expire(*, now: datetime | None = None) -> int:
    """Periodic: checkouts past their expiry get the `checkout.session.expired` event."""
    now = now or timezone.now()
    stale = Payment.objects.select_related("plan", "customer").filter(
        provider=PROVIDER,
        method=PaymentMethod.CARD,
        status=PaymentStatus.PENDING,
        checkout_expires_at__lte=now,
    )[:100]
    count = 0
    for payment in stale:
        simulated_event_send(payment, paid=False, now=now)
        count += 1
    return count
