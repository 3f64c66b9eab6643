"""The credit ledger: every change of a customer's balance is one CreditEntry plus an
update of the CreditAccount row, made together under that row's lock.

The database guarantees the balance never goes below zero (CheckConstraint
`credit_balance_not_negative`); the pre-check only words the refusal. Two bookings
racing for the last credits serialise on the account row: the second sees the new
balance and is refused, and its booking rolls back with it.
"""

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from autodoctor.accounts.models import User
from autodoctor.errors import DomainError, InvalidInput

from ..models import CreditAccount, CreditEntry, CreditEntryKind, Payment, Refund, money_label

BALANCE_CONSTRAINT = "credit_balance_not_negative"


class InsufficientCredits(DomainError):
    status = 402
    code = "insufficient_credits"


def credit_account_for_update(customer: User) -> CreditAccount:
    """The customer's account row, created on first use, locked for this transaction.

    Precondition: the caller runs inside a transaction."""
    CreditAccount.objects.get_or_create(customer=customer)
    return CreditAccount.objects.select_for_update().get(customer=customer)


def credits_move(
    *,
    customer: User,
    delta_cents: int,
    kind: str,
    payment: Payment | None = None,
    refund: Refund | None = None,
    note: str = "",
    actor: User | None = None,
) -> CreditEntry:
    """Add (positive) or take (negative) credits. Precondition: inside a transaction,
    which this joins, so a refused debit rolls back everything done with it."""
    account = credit_account_for_update(customer)
    new_balance = account.balance_cents + delta_cents
    if new_balance < 0:
        raise InsufficientCredits(
            _(
                "Not enough credits: you have %(money_label_account_balance_ce)s, this needs %(money_label_delta_cents)s."
            )
            % {
                "money_label_account_balance_ce": money_label(account.balance_cents),
                "money_label_delta_cents": money_label(-delta_cents),
            },
            balance_cents=account.balance_cents,
            needed_cents=-delta_cents,
        )
    account.balance_cents = new_balance
    try:
        with transaction.atomic():
            account.save(update_fields=["balance_cents", "updated_at"])
    except IntegrityError as exc:  # the guarantee: the database refused a negative balance
        if BALANCE_CONSTRAINT in str(exc):
            raise InsufficientCredits(_("Not enough credits.")) from exc
        raise
    return CreditEntry.objects.create(
        account=account,
        kind=kind,
        delta_cents=delta_cents,
        balance_after_cents=new_balance,
        payment=payment,
        refund=refund,
        note=note[:200],
        created_by=actor,
    )


def credits_grant(*, customer: User, amount_cents: int, note: str, granted_by: User) -> CreditEntry:
    """An admin gives a customer credits (goodwill, a promotion, a manual refund)."""
    if amount_cents <= 0:
        raise InvalidInput(_("Grant a positive amount."), field="amount")
    if not customer.is_customer:
        raise InvalidInput(_("Credits can only be granted to customers."), field="customer")
    with transaction.atomic(durable=True):
        return credits_move(
            customer=customer,
            delta_cents=amount_cents,
            kind=CreditEntryKind.GRANT,
            note=note or "Granted by an admin",
            actor=granted_by,
        )
