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
from .models import CreditEntry, Payment, PayoutEntry, Refund
from .services import checkout
from .views import earnings_csv_response

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
