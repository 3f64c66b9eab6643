"""Payout runs: the payout ledger's unpaid net earnings transferred to each payee.

A run (weekly by default: PAYOUT_INTERVAL_DAYS, started by the periodic job
`payments.tasks.payouts_run`, or by an admin) works in two steps:

1. `payout_run_start`, one durable transaction: the run's record, one `Payout` per payee
   whose unpaid rows net to more than zero and who has a payout account, and a
   `PayoutItem` per ledger row it pays. `PayoutItem.entry` is unique, so a ledger row is
   claimed by one payout ever: a run done twice finds nothing left to pay, and two runs
   at once cannot both claim a row (PostgreSQL refuses the second insert; SQLite's
   IMMEDIATE transactions serialise them and the second finds nothing).
2. `payout_send`, after commit, per payout: the provider's transfer (Stripe Connect
   `Transfer` to the payee's connected account, or the simulated provider), with the
   idempotency key `payout-<run>-<payee>`, so a retry never transfers twice. A refused
   or unreachable transfer stays `failed` and is retried by `payments.tasks.payouts_retry`
   (shown to admins with its error).

A payee without a payout account, or whose rows net to zero or less (a refund after the
last payout), is not paid: the rows stay unpaid and count in the next run.
"""

import logging
from collections import defaultdict
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from autodoctor.accounts.models import MechanicProfile, User, Workshop
from autodoctor.errors import Conflict, DomainError

from ..models import PayeeKind, Payout, PayoutEntry, PayoutItem, PayoutRun, PayoutStatus
from ..providers import TransferRequest, active_provider_name, provider_for

log = logging.getLogger("autodoctor.payments")


def unpaid_entries(*, before: datetime | None = None):
    qs = PayoutEntry.objects.filter(payout_item__isnull=True)
    return qs.filter(created_at__lte=before) if before is not None else qs


def _payee_accounts(payees: set[tuple[str, int]]) -> dict[tuple[str, int], str]:
    """The payees' payout accounts today (they may have connected one since earning)."""
    found: dict[tuple[str, int], str] = {}
    for kind, model in ((PayeeKind.MECHANIC, MechanicProfile), (PayeeKind.WORKSHOP, Workshop)):
        ids = [pk for k, pk in payees if k == kind]
        for pk, account in model.objects.filter(pk__in=ids).values_list("pk", "payout_account_id"):
            found[(kind, pk)] = account
    return found


def payout_run_start(*, now: datetime | None = None, started_by: User | None = None) -> PayoutRun:
    """Record a run and claim every payee's unpaid net earnings (see the module doc).
    The transfers go out after commit. Raises Conflict (409 `payout_run_in_progress`)
    when a run starting at the same moment claimed the same rows first."""
    now = now or timezone.now()
    provider = active_provider_name()
    if provider is None:
        raise DomainError(
            _("Payouts need a payment provider (Stripe, or the simulated one offline)."),
            code="payouts_unavailable",
            status=503,
        )
    try:
        with transaction.atomic(durable=True):
            run = PayoutRun.objects.create(cutoff=now, started_by=started_by)
            payouts = _claim(run, provider)
            run.payouts_count = len(payouts)
            run.total_cents = sum(p.amount_cents for p in payouts)
            run.save(update_fields=["payouts_count", "total_cents"])
            for payout in payouts:
                transaction.on_commit(partial(payout_send, payout.pk), robust=True)
    except IntegrityError as exc:
        raise Conflict(
            _(
                "Another payout run claimed these earnings at the same moment; nothing was paid twice."
            ),
            code="payout_run_in_progress",
        ) from exc
    return run


def _claim(run: PayoutRun, provider: str) -> list[Payout]:
    """One payout per payee (and currency) whose unpaid rows net to more than zero."""
    owed: dict[tuple[str, int, str], list[tuple[int, int]]] = defaultdict(list)
    rows = unpaid_entries(before=run.cutoff).values_list(
        "pk", "payee_kind", "payee_mechanic_id", "payee_workshop_id", "currency", "payee_cents"
    )
    for pk, kind, mechanic_id, workshop_id, currency, cents in rows.order_by("pk"):
        payee_id = mechanic_id if kind == PayeeKind.MECHANIC else workshop_id
        owed[(kind, payee_id, currency)].append((pk, cents))
    accounts = _payee_accounts({(kind, payee_id) for kind, payee_id, _ in owed})
    payouts, claimed = [], []
    for (kind, payee_id, currency), entries in sorted(owed.items()):
        net = sum(cents for _, cents in entries)
        account = accounts.get((kind, payee_id), "")
        if net <= 0 or not account:
            continue  # nothing owed, or nowhere to send it: the rows wait for a later run
        is_mechanic = kind == PayeeKind.MECHANIC
        payouts.append(
            Payout(
                run=run,
                payee_kind=kind,
                payee_mechanic_id=payee_id if is_mechanic else None,
                payee_workshop_id=None if is_mechanic else payee_id,
                destination_account=account,
                amount_cents=net,
                currency=currency,
                provider=provider,
            )
        )
        claimed.append(entries)
    # A fixed number of statements whatever the number of payees (bench/payouts.py):
    # both databases return the new primary keys from a bulk insert.
    Payout.objects.bulk_create(payouts, batch_size=500)
    PayoutItem.objects.bulk_create(
        [
            PayoutItem(payout=payout, entry_id=pk)
            for payout, entries in zip(payouts, claimed, strict=True)
            for pk, _ in entries
        ],
        batch_size=1000,
    )
    return payouts


def payout_send(payout_id: int) -> Payout:
    """Transfer one payout through its provider. Runs outside any transaction (network);
    safe to repeat: the provider gets the same idempotency key every time, and a paid
    payout is never sent again."""
    with transaction.atomic(durable=True):
        payout = Payout.objects.select_for_update().get(pk=payout_id)
        if payout.status == PayoutStatus.PAID:
            return payout
        Payout.objects.filter(pk=payout.pk).update(attempts=F("attempts") + 1)
    try:
        transfer_id = provider_for(payout.provider).transfer_create(
            TransferRequest(
                amount_cents=payout.amount_cents,
                currency=payout.currency,
                destination=payout.destination_account,
                idempotency_key=payout.idempotency_key,
                group=f"payout-run-{payout.run_id}",
                metadata={"payout_id": str(payout.pk), "run_id": str(payout.run_id)},
            )
        )
    except DomainError as exc:
        log.warning("payout %s not sent: %s", payout.pk, exc.message)
        with transaction.atomic(durable=True):
            Payout.objects.filter(pk=payout.pk).exclude(status=PayoutStatus.PAID).update(
                status=PayoutStatus.FAILED, failure_message=exc.message[:300]
            )
        return Payout.objects.get(pk=payout.pk)
    with transaction.atomic(durable=True):
        Payout.objects.filter(pk=payout.pk).exclude(status=PayoutStatus.PAID).update(
            status=PayoutStatus.PAID,
            transfer_id=transfer_id,
            paid_at=timezone.now(),
            failure_message="",
        )
    return Payout.objects.get(pk=payout.pk)


# A payout still "sending" this long after its run started lost its after-commit send
# (the process stopped): the retry job sends it again (same idempotency key).
STALE_SENDING = timedelta(minutes=5)


def payouts_send_unpaid(*, now: datetime | None = None) -> int:
    """Retry failed transfers, and ones whose send never happened (periodic job)."""
    now = now or timezone.now()
    due = list(
        Payout.objects.filter(
            Q(status=PayoutStatus.FAILED)
            | Q(status=PayoutStatus.PENDING, created_at__lt=now - STALE_SENDING)
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:100]
    )
    for payout_id in due:
        payout_send(payout_id)
    return len(due)


def payout_run_if_due(*, now: datetime | None = None) -> PayoutRun | None:
    """The periodic job: start a run when the last one is PAYOUT_INTERVAL_DAYS old."""
    now = now or timezone.now()
    last = PayoutRun.objects.order_by("-created_at").values_list("created_at", flat=True).first()
    if last is not None and now - last < timedelta(days=settings.PAYOUT_INTERVAL_DAYS):
        return None
    try:
        return payout_run_start(now=now)
    except Conflict:
        return None  # another worker's run got there first
