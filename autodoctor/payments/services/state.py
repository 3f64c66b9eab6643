"""The payment state machine: the only place a payment's status changes."""

from datetime import datetime

from django.utils.translation import gettext as _

from autodoctor.errors import InvalidTransition

from ..models import Payment, PaymentStatus

S = PaymentStatus
PAYMENT_MOVES: dict[str, set[str]] = {
    S.PENDING: {S.PAID, S.SUCCEEDED, S.FAILED},
    S.PAID: {S.SUCCEEDED, S.REFUNDED},
    # The provider took the money after we gave up on the checkout: it is applied or refunded.
    S.FAILED: {S.PAID},
    S.SUCCEEDED: {S.REFUNDED},
    S.REFUNDED: set(),
}


def payment_transition(payment: Payment, to: str, *, now: datetime, **fields: object) -> Payment:
    """The only place a payment's status changes. Precondition: the caller holds the
    payment row lock inside a transaction."""
    if to not in PAYMENT_MOVES[payment.status]:
        raise InvalidTransition(
            _("This payment is %(payment_status)s; it cannot become %(to)s.")
            % {"payment_status": payment.status, "to": to},
            current_status=payment.status,
            requested_status=to,
        )
    payment.status = to
    changed = ["status", *fields]
    for name, value in fields.items():
        setattr(payment, name, value)
    stamp = {
        S.PAID: "paid_at",
        S.SUCCEEDED: "settled_at",
        S.FAILED: "closed_at",
        S.REFUNDED: "closed_at",
    }
    if to in stamp:
        setattr(payment, stamp[to], now)
        changed.append(stamp[to])
    payment.save(update_fields=changed)
    return payment
