"""Payments API (mounted under /api/). Handlers parse, call one service or selector,
return a schema; DomainErrors are rendered by autodoctor/api.py.

The provider webhooks are not part of this API (they are signed, not authenticated):
POST /payments/webhooks/stripe/ and POST /payments/webhooks/simulated/ — see
docs/payments.md.
"""

from datetime import date, datetime
from typing import Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from autodoctor.accounts.models import User
from autodoctor.schemas import ErrorOut

from . import selectors
from .models import CreditEntry, Payment, Payout, PayoutEntry, PayoutRun, Refund
from .services import checkout
from .views import earnings_csv_response, statements_csv_response

router = Router(tags=["payments"])


class RefundOut(Schema):
    id: int
    amount_cents: int
    destination: str
    reason: str
    status: str
    created_at: datetime

    @staticmethod
    def resolve_id(obj: Refund) -> int:
        return obj.pk


class PaymentOut(Schema):
    id: int
    session_id: int
    reservation_id: int | None = Field(
        description="The hold paid for; null for a start-now session"
    )
    plan: str
    method: str
    status: str
    amount_cents: int
    currency: str
    refunded_cents: int
    provider: str
    checkout_url: str = Field(description="Card payments still open: where the customer pays")
    outcome: str = Field(description="Why it failed or was refunded, e.g. slot_taken")
    next_free_slots: list[datetime] = Field(
        description="A late payment whose slot was taken: other free times with that mechanic"
    )
    created_at: datetime
    settled_at: datetime | None
    refunds: list[RefundOut]

    @staticmethod
    def resolve_plan(obj: Payment) -> str:
        return obj.plan.code

    @staticmethod
    def resolve_checkout_url(obj: Payment) -> str:
        return obj.checkout_url if obj.status == "pending" else ""

    @staticmethod
    def resolve_next_free_slots(obj: Payment) -> list[str]:
        return list((obj.outcome_detail or {}).get("next_free_slots", []))

    @staticmethod
    def resolve_refunds(obj: Payment) -> list[Refund]:
        return list(obj.refunds.all())


class CheckoutIn(Schema):
    reservation_id: int | None = Field(None, description="A held slot (scheduled booking)")
    session_id: int | None = Field(
        None,
        description="A start-now session (or a scheduled one: its latest hold); give one of the two",
    )
    method: Literal["card", "credits", "waiver"]
    waiver_accepted: bool = Field(False, description="Required (true) for the waiver method")


class CreditEntryOut(Schema):
    id: int
    kind: str
    delta_cents: int
    balance_after_cents: int
    payment_id: int | None
    note: str
    created_at: datetime

    @staticmethod
    def resolve_id(obj: CreditEntry) -> int:
        return obj.pk


class CreditsOut(Schema):
    balance_cents: int
    currency: str = "CAD"
    entries: list[CreditEntryOut]


class EarningOut(Schema):
    id: int
    kind: str
    created_at: datetime
    session_id: int
    plan: str
    mechanic_id: int
    mechanic_type: str
    payee_kind: str
    payee: str
    destination_account: str
    gross_cents: int
    payee_cents: int
    platform_cents: int
    currency: str

    @staticmethod
    def resolve_id(obj: PayoutEntry) -> int:
        return obj.pk

    @staticmethod
    def resolve_plan(obj: PayoutEntry) -> str:
        return obj.payment.plan.code

    @staticmethod
    def resolve_payee(obj: PayoutEntry) -> str:
        return selectors.payee_name(obj)


class EarningsOut(Schema):
    start: date
    end: date
    time_zone: str
    payees: list[str]
    gross_cents: int
    payee_cents: int
    platform_cents: int
    entries: list[EarningOut]


def _user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined,return-value]


@router.get("/payments", response=list[PaymentOut], summary="My payments (admins: all)")
def payment_list(request: HttpRequest) -> list[Payment]:
    return list(selectors.payments_for(_user(request))[:200])


@router.post(
    "/payments/checkout",
    response={
        200: PaymentOut,
        201: PaymentOut,
        402: ErrorOut,
        404: ErrorOut,
        409: ErrorOut,
        422: ErrorOut,
        503: ErrorOut,
    },
    summary="Pay for a held slot or a start-now session: waiver, credits, or a card checkout",
    description=(
        "Give `reservation_id` (a held slot) or `session_id` (a start-now session from "
        "`POST /api/intake/start`). `waiver` and `credits` confirm the booking at once, or "
        "send the start-now session out to mechanics (200). `card` opens a provider "
        "checkout (201): send the customer to `checkout_url`; the booking confirms (or the "
        "session goes out) when the provider's signed webhook reports the payment."
    ),
)
def payment_checkout(request: HttpRequest, payload: CheckoutIn) -> Status:
    user = _user(request)
    target = {"reservation_id": payload.reservation_id, "session_id": payload.session_id}
    if payload.method == "waiver":
        payment = checkout.payment_with_waiver(
            customer=user, accepted=payload.waiver_accepted, **target
        )
    elif payload.method == "credits":
        payment = checkout.payment_with_credits(customer=user, **target)
    else:
        payment = checkout.payment_checkout_start(customer=user, **target)
        if payment.status == "pending":
            return Status(201, selectors.payment_for(payment.pk, user))
    return Status(200, selectors.payment_for(payment.pk, user))


@router.get(
    "/payments/{payment_id}", response={200: PaymentOut, 404: ErrorOut}, summary="One payment"
)
def payment_detail(request: HttpRequest, payment_id: int) -> Payment:
    return selectors.payment_for(payment_id, _user(request))


@router.get("/credits", response=CreditsOut, summary="My credit balance and ledger")
def credits_detail(request: HttpRequest) -> dict:
    user = _user(request)
    return {
        "balance_cents": selectors.credit_balance_cents(user),
        "entries": list(selectors.credit_entries(user)[:200]),
    }


@router.get(
    "/earnings",
    response={200: EarningsOut, 403: ErrorOut, 422: ErrorOut},
    summary="Earnings per payee and period (mechanics: own; workshops: theirs; admins: all)",
    description="Dates are whole days in your time zone. `format=csv` returns text/csv.",
    openapi_extra={
        "responses": {
            200: {
                "description": "JSON (default) or, with `format=csv`, the same rows as CSV",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        }
    },
)
def earnings(
    request: HttpRequest,
    start: date | None = None,
    end: date | None = None,
    format: Literal["json", "csv"] = "json",
) -> object:
    report = selectors.earnings_report(_user(request), start=start, end=end)
    if format == "csv":
        return earnings_csv_response(report)
    return {
        "start": report.start,
        "end": report.end,
        "time_zone": report.zone,
        "payees": report.payees,
        "gross_cents": report.totals["gross"],
        "payee_cents": report.totals["payee"],
        "platform_cents": report.totals["platform"],
        "entries": report.entries,
    }


# --------------------------------------------------------------------------- payouts


class PayoutOut(Schema):
    id: int
    run_id: int
    payee_kind: str
    payee_id: int
    payee: str
    destination_account: str = Field(description="The connected account paid")
    amount_cents: int = Field(description="The payee's unpaid net earnings the run claimed")
    currency: str
    provider: str
    status: str = Field(description="pending (sending), paid, or failed (retried)")
    transfer_id: str = Field(description="The provider's transfer id once paid")
    attempts: int
    failure_message: str
    created_at: datetime
    paid_at: datetime | None

    @staticmethod
    def resolve_id(obj: Payout) -> int:
        return obj.pk

    @staticmethod
    def resolve_payee_id(obj: Payout) -> int:
        return obj.payee_mechanic_id or obj.payee_workshop_id  # type: ignore[return-value]

    @staticmethod
    def resolve_payee(obj: Payout) -> str:
        return selectors.payee_name(obj)  # type: ignore[arg-type]


class PayoutRunOut(Schema):
    id: int
    cutoff: datetime = Field(description="Ledger rows created up to this time were included")
    created_at: datetime
    started_by_id: int | None = Field(description="The admin who started it; null: the job")
    payouts_count: int
    total_cents: int
    currency: str
    payouts: list[PayoutOut]

    @staticmethod
    def resolve_id(obj: PayoutRun) -> int:
        return obj.pk

    @staticmethod
    def resolve_payouts(obj: PayoutRun) -> list[Payout]:
        return list(obj.payouts.all())


_CSV_RESPONSE = {
    "responses": {
        200: {
            "description": "JSON (default) or, with `format=csv`, the same rows as CSV",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    }
}


class PayeeYearOut(Schema):
    year: int
    payee_kind: str
    payee_id: int
    payee: str = Field(alias="name")
    address: str
    payout_account: str = Field(alias="account")
    sessions: int
    gross_before_tax_cents: int = Field(alias="gross_cents")
    platform_fee_cents: int = Field(alias="platform_cents")
    fees_for_services_cents: int = Field(
        alias="earned_cents", description="T4A box 048: the payee's net share"
    )
    refund_reversals_cents: int = Field(alias="reversed_cents")
    paid_out_cents: int
    t4a_required: bool = Field(alias="slip_required", description="fees over $500 (plan §5.4)")


class PlatformMonthOut(Schema):
    month: date
    fee_cents: int
    tax_cents: dict[str, int] = Field(description="Sales tax collected by kind, net of refunds")
    tax_total_cents: int


@router.get(
    "/payouts",
    response={200: list[PayoutOut], 403: ErrorOut},
    summary="My payout history: transfers to my payees (mechanics: own; workshops: theirs; admins: all)",
)
def payout_list(request: HttpRequest) -> list[Payout]:
    return list(selectors.payouts_for(_user(request))[:200])


@router.get(
    "/payouts/runs",
    response={200: list[PayoutRunOut], 403: ErrorOut},
    summary="Admins: payout runs, newest first, with their transfers",
)
def payout_run_list(request: HttpRequest) -> list[PayoutRun]:
    return list(selectors.payout_runs(_user(request))[:50])


@router.get(
    "/payouts/runs/{run_id}",
    response={200: PayoutRunOut, 403: ErrorOut, 404: ErrorOut},
    summary="Admins: one payout run and its transfers",
)
def payout_run_detail(request: HttpRequest, run_id: int) -> PayoutRun:
    return selectors.payout_run_for(run_id, _user(request))


@router.get(
    "/statements/{year}",
    response={200: list[PayeeYearOut], 403: ErrorOut, 422: ErrorOut},
    summary="Yearly earnings statement per payee (T4A/T5018-style totals)",
    description=(
        "The calendar year in the platform's zone; mechanics their own, workshop staff "
        "their workshops', admins every payee. `format=csv` returns the statement's CSV."
    ),
    openapi_extra=_CSV_RESPONSE,
)
def statement(request: HttpRequest, year: int, format: Literal["json", "csv"] = "json") -> object:
    statements = selectors.earnings_statements(_user(request), year=year)
    if format == "csv":
        return statements_csv_response(year, statements)
    return [{"year": year, **vars(s), "slip_required": s.slip_required} for s in statements]


@router.get(
    "/statements/{year}/platform",
    response={200: list[PlatformMonthOut], 403: ErrorOut, 422: ErrorOut},
    summary="Admins: the platform's fee and sales tax collected per month of the year",
)
def platform_statement(request: HttpRequest, year: int) -> list[dict]:
    months = selectors.platform_statement(_user(request), year=year)
    return [{**vars(m), "tax_total_cents": m.tax_total_cents} for m in months]
