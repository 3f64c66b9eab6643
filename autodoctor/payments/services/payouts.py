"""The payout ledger (plan §2.4): who is owed what for each paid session.

An earning row is written when a paid session is confirmed, in the same transaction (a
start-now session: when a mechanic accepts it, in the accepting transaction); a refund
writes a reversal row. Rows are never edited (PayoutEntry is append-only).
The destination is decided by `payout_destination`, which asks
accounts.mechanic_types — the one place that decides a mechanic's type.
"""

from dataclasses import dataclass

from django.db.models import Sum

from autodoctor.accounts.mechanic_types import mechanic_type
from autodoctor.accounts.models import MechanicProfile, Workshop

from ..models import PayeeKind, Payment, PayoutEntry, PayoutEntryKind, Refund
from ..policy import PAYS_THE_WORKSHOP, Split, payout_split, reversal_split


@dataclass(frozen=True)
class PayoutDestination:
    mechanic_type: str
    payee_kind: str
    mechanic: MechanicProfile | None
    workshop: Workshop | None
    account_id: str


def payout_destination(mechanic: MechanicProfile) -> PayoutDestination:
    """plan §2.4: virtual-only and independent-workshop mechanics are paid directly;
    a workshop-affiliated mechanic's share goes to the workshop (plan §5.4)."""
    kind = mechanic_type(mechanic)
    if kind in PAYS_THE_WORKSHOP and mechanic.workshop is not None:
        workshop = mechanic.workshop
        return PayoutDestination(
            kind, PayeeKind.WORKSHOP, None, workshop, workshop.payout_account_id
        )
    return PayoutDestination(kind, PayeeKind.MECHANIC, mechanic, None, mechanic.payout_account_id)


def payout_record_earning(payment: Payment) -> PayoutEntry | None:
    """Record the earning for a settled payment. Precondition: inside the transaction
    that settles it, or that assigns its mechanic (start-now). Free sessions, and
    sessions nobody has taken yet, earn nothing and write no row."""
    session = payment.session
    if payment.subtotal_cents <= 0 or session.mechanic_id is None:
        return None
    mechanic = MechanicProfile.objects.select_related("workshop").get(pk=session.mechanic_id)
    destination = payout_destination(mechanic)
    # The split applies to the price before tax: sales tax is the platform's to remit.
    split = payout_split(payment.subtotal_cents, destination.mechanic_type)
    return _entry(PayoutEntryKind.EARNING, payment, None, mechanic, destination, split)


def payout_record_reversal(refund: Refund) -> PayoutEntry | None:
    """Undo, in proportion, the earning of a refunded payment (same payee and account
    as the earning, whatever the mechanic's situation is today)."""
    payment = refund.payment
    earning = PayoutEntry.objects.filter(payment=payment, kind=PayoutEntryKind.EARNING).first()
    before_tax = refund.amount_cents - refund.tax_cents  # the tax part is not shared
    if earning is None or before_tax <= 0:
        return None
    reversed_so_far = PayoutEntry.objects.filter(
        payment=payment, kind=PayoutEntryKind.REVERSAL
    ).aggregate(gross=Sum("gross_cents"), payee=Sum("payee_cents"))
    split = reversal_split(
        before_tax,
        earned=Split(earning.gross_cents, earning.payee_cents, earning.platform_cents),
        refunded_before_cents=-(reversed_so_far["gross"] or 0),
        reversed_payee_cents=-(reversed_so_far["payee"] or 0),
    )
    destination = PayoutDestination(
        earning.mechanic_type,
        earning.payee_kind,
        earning.payee_mechanic,
        earning.payee_workshop,
        earning.destination_account,
    )
    return _entry(PayoutEntryKind.REVERSAL, payment, refund, earning.mechanic, destination, split)


def _entry(
    kind: str,
    payment: Payment,
    refund: Refund | None,
    mechanic: MechanicProfile,
    destination: PayoutDestination,
    split: Split,
) -> PayoutEntry:
    return PayoutEntry.objects.create(
        kind=kind,
        payment=payment,
        refund=refund,
        session_id=payment.session_id,
        mechanic=mechanic,
        mechanic_type=destination.mechanic_type,
        payee_kind=destination.payee_kind,
        payee_mechanic=destination.mechanic,
        payee_workshop=destination.workshop,
        destination_account=destination.account_id,
        gross_cents=split.gross_cents,
        payee_cents=split.payee_cents,
        platform_cents=split.platform_cents,
        currency=payment.currency,
    )
