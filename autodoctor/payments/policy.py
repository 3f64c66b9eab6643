"""The money rules, in one place and free of I/O: refund policy, payout split, waiver text.

Change a rule here and every entry point (pages, API, admin, webhooks) follows, because
they all reach it through services/refunds.py and services/payouts.py.
"""

from dataclasses import dataclass

from autodoctor.accounts.mechanic_types import MechanicType

# --------------------------------------------------------------------------- refund policy

FULL_REFUND_NOTICE_HOURS = 24
LATE_CANCEL_CREDIT_PERCENT = 50


@dataclass(frozen=True)
class RefundDecision:
    """What to give back. `to_original` = back where it came from (card → card, credits →
    credits, trial → trial restored); otherwise the amount is granted as credits."""

    percent: int
    to_original: bool
    reason: str

    def amount_cents(self, refundable_cents: int) -> int:
        return refundable_cents * self.percent // 100


def refund_decision(
    *,
    action: str,
    cancelled_by: str | None,
    hours_before_start: float | None,
    mechanic_no_show: bool = False,
    customer_no_show: bool = False,
) -> RefundDecision:
    """The cancellation refund policy (docs/payments.md "Refund policy"):

    | who cancels                            | refund                                  |
    |----------------------------------------|-----------------------------------------|
    | the mechanic declines the request      | 100 %, back to the original method      |
    | the mechanic, the workshop or an admin | 100 %, back to the original method      |
    | the customer, ≥ 24 h before the start  | 100 %, back to the original method      |
    | the customer, < 24 h before the start  | 50 % as credits (a trial stays used)    |
    | the customer, the mechanic never started | 100 %, back to the original method    |
    | the clock: the customer did not show   | as a late customer cancellation: 50 % credits |

    A start-now session nobody took yet has no start time and counts as cancelled early;
    once a mechanic took it, it starts when they took it. "Never started" = booked, more
    than START_GRACE past its start and not live (booking.services.session_cancel, or
    the clock: booking.lifecycle). plan §5.3: mechanics are never penalised; the platform absorbs it.
    """
    if action == "booking.session.request_declined":
        return RefundDecision(100, True, "request_declined")
    if mechanic_no_show:
        return RefundDecision(100, True, "mechanic_no_show")
    if customer_no_show:  # booking.lifecycle: the mechanic came, the customer never did
        return RefundDecision(LATE_CANCEL_CREDIT_PERCENT, False, "customer_no_show")
    if cancelled_by != "customer":
        return RefundDecision(100, True, f"{cancelled_by or 'provider'}_cancelled")
    if hours_before_start is None or hours_before_start >= FULL_REFUND_NOTICE_HOURS:
        return RefundDecision(100, True, "customer_cancelled_early")
    return RefundDecision(LATE_CANCEL_CREDIT_PERCENT, False, "customer_cancelled_late")


# --------------------------------------------------------------------------- payout split

# plan §2.3/§2.4: the payee's share of a paid session, by mechanic type. Virtual-only and
# independent-workshop mechanics are paid directly; a workshop-affiliated mechanic's
# share goes to the workshop, which pays its mechanic (plan §5.4: the workshop is the
# employer of record). The platform keeps the rest.
PAYEE_SHARE_PERCENT: dict[str, int] = {
    MechanicType.VIRTUAL_ONLY: 70,
    MechanicType.INDEPENDENT_WORKSHOP: 70,
    MechanicType.WORKSHOP_AFFILIATED: 70,
}
PAYS_THE_WORKSHOP = frozenset({MechanicType.WORKSHOP_AFFILIATED})


@dataclass(frozen=True)
class Split:
    gross_cents: int
    payee_cents: int
    platform_cents: int


def payout_split(gross_cents: int, mechanic_type: str) -> Split:
    """Payee share rounded half up to the cent; the platform gets the exact remainder,
    so the shares always add up to the gross."""
    payee = (gross_cents * PAYEE_SHARE_PERCENT[mechanic_type] + 50) // 100
    return Split(gross_cents, payee, gross_cents - payee)


def reversal_split(
    refund_cents: int, *, earned: Split, refunded_before_cents: int, reversed_payee_cents: int
) -> Split:
    """Negative amounts undoing `refund_cents` of an earning, in proportion. The last
    reversal takes exactly what is left, so a full refund nets every share to zero."""
    if refunded_before_cents + refund_cents >= earned.gross_cents:
        payee = earned.payee_cents - reversed_payee_cents
    else:
        payee = (refund_cents * earned.payee_cents + earned.gross_cents // 2) // earned.gross_cents
    return Split(-refund_cents, -payee, -(refund_cents - payee))


# --------------------------------------------------------------------------- waiver

TRIAL_PLAN_CODE = "trial"  # the plan a customer may take once (plan §1.2 "Trial")
WAIVER_TEXT_VERSION = "2026-11"
WAIVER_TEXTS = {
    "2026-11": (
        "I understand this free session is general guidance from an independent mechanic "
        "based only on what I describe and show remotely. It is not an inspection or a "
        "repair, and no warranty is given. I stay responsible for decisions about my "
        "vehicle and will have safety-critical issues checked in person. A trial session "
        "can be used once per customer."
    ),
}
