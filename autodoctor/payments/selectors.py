"""Payment reads: what each person may see (customers their own payments and credits,
mechanics and workshops their own earnings, admins everything), the checkout summary
and the earnings report. Missing and forbidden both answer "not found"."""

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from autodoctor.accounts.models import MechanicProfile, User, Workshop
from autodoctor.accounts.selectors import workshops_for_staff
from autodoctor.booking.models import (
    Plan,
    Reservation,
    ReservationStatus,
    Session,
    SessionStatus,
)
from autodoctor.dates import date_in_range
from autodoctor.errors import Conflict, InvalidInput, NotAllowed, NotFound

from .models import (
    CreditAccount,
    CreditEntry,
    PayeeKind,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Payout,
    PayoutEntry,
    PayoutRun,
    PayoutStatus,
    RefundDestination,
    TaxLine,
    WaiverKind,
    money_label,
)
from .policy import TRIAL_PLAN_CODE, WAIVER_TEXT_VERSION, WAIVER_TEXTS
from .providers import active_provider_name
from .tax import TaxQuote, customer_tax_quote

# --------------------------------------------------------------------------- customers


def credit_balance_cents(customer: User) -> int:
    return (
        CreditAccount.objects.filter(customer=customer)
        .values_list("balance_cents", flat=True)
        .first()
        or 0
    )


def credit_entries(customer: User) -> QuerySet[CreditEntry]:
    return CreditEntry.objects.filter(account__customer=customer).select_related("payment")


def payments_for(user: User) -> QuerySet[Payment]:
    """Customers see their own payments; platform admins see all; nobody else any."""
    qs = Payment.objects.select_related("plan", "session", "reservation").prefetch_related(
        "refunds", "tax_lines"
    )
    if user.is_platform_admin:
        return qs
    return qs.filter(customer=user)


def payment_for(payment_id: int, user: User) -> Payment:
    payment = payments_for(user).filter(pk=payment_id).first()
    if payment is None:
        raise NotFound(_("No such payment."))
    return payment


def trial_available(customer: User) -> bool:
    return not customer.waivers.filter(kind=WaiverKind.TRIAL, voided_at__isnull=True).exists()


# --------------------------------------------------------------------------- checkout page


@dataclass(frozen=True)
class Payable:
    """What a payment is for: a held slot (`reservation`), or a start-now session that
    goes out to mechanics once paid (`reservation` is None)."""

    session: Session
    reservation: Reservation | None

    @property
    def is_start_now(self) -> bool:
        return self.reservation is None


def payable_for(
    customer: User, *, reservation_id: int | None = None, session_id: int | None = None
) -> Payable:
    """The customer's own payable, by reservation (a hold) or by session. A scheduled
    session's id stands for its latest hold."""
    if (reservation_id is None) == (session_id is None):
        raise InvalidInput(
            _("Give either reservation_id (a held slot) or session_id (a session)."),
            field="reservation_id",
        )
    if reservation_id is not None:
        reservation = (
            Reservation.objects.select_related("session__plan", "mechanic__user")
            .filter(pk=reservation_id, session__customer=customer)
            .first()
        )
        if reservation is None:
            raise NotFound(_("No such reservation."))
        return Payable(reservation.session, reservation)
    session = (
        Session.objects.select_related("plan").filter(pk=session_id, customer=customer).first()
    )
    if session is None:
        raise NotFound(_("No such session."))
    if session.scheduled_for is None:
        return Payable(session, None)
    reservation = (
        Reservation.objects.select_related("session__plan", "mechanic__user")
        .filter(session=session)
        .order_by("-pk")
        .first()
    )
    if reservation is None:
        raise NotFound(_("This session has no hold to pay for."))
    return Payable(reservation.session, reservation)


def payable_refusal(payable: Payable, *, now: datetime) -> Conflict | None:
    """Why this can no longer be paid for, or None while it can: the one rule behind the
    checkout page's pay buttons, the friendly check before any money moves and the
    re-check under the session lock (services/checkout.py)."""
    session, reservation = payable.session, payable.reservation
    if reservation is None:
        if session.awaiting_payment:
            return None
        if session.status != SessionStatus.PENDING:
            return Conflict(
                _("This session is %(session_status)s; start a new one.")
                % {"session_status": session.status},
                code="session_closed",
            )
        return Conflict(
            _("This session is already paid; we are finding your mechanic."),
            code="already_confirmed",
        )
    if reservation.status == ReservationStatus.CONFIRMED:
        return Conflict(_("This booking is already confirmed."), code="already_confirmed")
    if reservation.status == ReservationStatus.RELEASED or session.status != SessionStatus.PENDING:
        return Conflict(_("This hold was released; pick a slot again."), code="hold_released")
    if reservation.starts_at <= now:
        return Conflict(_("This slot has already started; pick another time."), code="slot_in_past")
    # An expired hold is fine: confirming revives it if the slot is still free.
    return None


@dataclass(frozen=True)
class CheckoutSummary:
    payable: Payable
    zone: str
    starts_local: datetime | None
    ends_local: datetime | None
    hold_expires_at: datetime | None
    hold_seconds_left: int
    is_free: bool
    is_trial: bool
    trial_available: bool
    waiver_version: str
    waiver_text: str
    credit_balance_cents: int
    card_provider: str | None
    settled_payment: Payment | None
    last_failed_payment: Payment | None
    refusal: Conflict | None
    tax: TaxQuote | None = None  # None for free plans

    @property
    def total_cents(self) -> int:
        return self.tax.total_cents if self.tax else self.plan.price_cents

    @property
    def session(self) -> Session:
        return self.payable.session

    @property
    def reservation(self) -> Reservation | None:
        return self.payable.reservation

    @property
    def start_now(self) -> bool:
        return self.payable.is_start_now

    @property
    def plan(self) -> Plan:
        return self.payable.session.plan

    @property
    def credits_enough(self) -> bool:
        return self.credit_balance_cents >= self.total_cents

    @property
    def hold_clock(self) -> str:
        """Time left on the hold as m:ss (the page's script keeps it ticking)."""
        minutes, seconds = divmod(self.hold_seconds_left, 60)
        return f"{minutes}:{seconds:02d}"

    @property
    def hold_expired(self) -> bool:
        return self.hold_seconds_left <= 0

    @property
    def bookable(self) -> bool:
        return self.settled_payment is None and self.refusal is None

    @property
    def closed_reason(self) -> str:
        """Why it cannot be paid any more, in words (when not bookable)."""
        return self.refusal.message if self.refusal is not None else ""


def checkout_summary(
    customer: User,
    *,
    reservation_id: int | None = None,
    session_id: int | None = None,
    now: datetime | None = None,
) -> CheckoutSummary:
    """Everything the checkout step shows, times in the customer's zone."""
    now = now or timezone.now()
    payable = payable_for(customer, reservation_id=reservation_id, session_id=session_id)
    reservation = payable.reservation
    zone = ZoneInfo(customer.time_zone)
    payments = Payment.objects.filter(session_id=payable.session.pk)
    seconds_left = 0
    if (
        reservation is not None
        and reservation.status == ReservationStatus.RESERVED
        and reservation.expires_at
    ):
        seconds_left = max(0, int((reservation.expires_at - now).total_seconds()))
    plan = payable.session.plan
    return CheckoutSummary(
        payable=payable,
        zone=customer.time_zone,
        starts_local=reservation.starts_at.astimezone(zone) if reservation else None,
        ends_local=reservation.ends_at.astimezone(zone) if reservation else None,
        hold_expires_at=reservation.expires_at if reservation else None,
        hold_seconds_left=seconds_left,
        is_free=plan.is_free,
        is_trial=plan.code == TRIAL_PLAN_CODE,
        trial_available=trial_available(customer),
        waiver_version=WAIVER_TEXT_VERSION,
        waiver_text=WAIVER_TEXTS[WAIVER_TEXT_VERSION],
        credit_balance_cents=credit_balance_cents(customer),
        card_provider=active_provider_name(),
        settled_payment=payments.filter(status=PaymentStatus.SUCCEEDED).first(),
        last_failed_payment=payments.filter(
            status__in=[PaymentStatus.FAILED, PaymentStatus.REFUNDED]
        ).first(),
        refusal=payable_refusal(payable, now=now),
        tax=None if plan.is_free else customer_tax_quote(customer, plan.price_cents, now=now),
    )


@dataclass(frozen=True)
class Alternative:
    starts_at: datetime
    starts_local: datetime


def payment_alternatives(payment: Payment, zone: str) -> list[Alternative]:
    """Other free times offered when a late payment found its slot taken."""
    result = []
    for value in (payment.outcome_detail or {}).get("next_free_slots", []):
        try:
            start = datetime.fromisoformat(value)
        except (TypeError, ValueError):
            continue
        result.append(Alternative(start, start.astimezone(ZoneInfo(zone))))
    return result


# --------------------------------------------------------------------------- earnings


@dataclass
class EarningsReport:
    start: date
    end: date
    zone: str
    entries: list[PayoutEntry]
    payees: list[str]
    totals: dict[str, int] = field(default_factory=dict)
    # A workshop-affiliated mechanic's own sessions, whose share is paid to the workshop
    # (plan §2.4): shown to the mechanic so "$0.00" never hides what they earned it.
    paid_to_workshop: list[PayoutEntry] = field(default_factory=list)
    paid_to_workshop_cents: int = 0


def earnings_scope(user: User) -> tuple[Q, list[str]]:
    """The payout entries this user may see, and the payee names for the heading.

    Mechanics see what is payable to them; workshop staff what is payable to their
    workshops (a workshop-affiliated mechanic's sessions are paid to the workshop,
    plan §2.4); platform admins see everything."""
    if user.is_platform_admin:
        return Q(), ["all payees"]
    mechanic = getattr(user, "mechanic_profile", None) if user.is_mechanic else None
    if mechanic is not None:
        return Q(payee_kind=PayeeKind.MECHANIC, payee_mechanic=mechanic), [str(mechanic)]
    if user.is_workshop_staff:
        workshops = list(workshops_for_staff(user))
        return (
            Q(payee_kind=PayeeKind.WORKSHOP, payee_workshop__in=workshops),
            [w.name for w in workshops],
        )
    raise NotAllowed(_("Earnings are for mechanics and workshops."))


def earnings_period(
    start: date | None, end: date | None, *, zone: str, now: datetime | None = None
) -> tuple[date, date]:
    """Default: this month so far, in the viewer's zone. At most a year at a time."""
    today = (now or timezone.now()).astimezone(ZoneInfo(zone)).date()
    start = date_in_range(start or today.replace(day=1), field="start")
    end = date_in_range(end or today, field="end")
    if end < start:
        raise InvalidInput(_("The period ends before it starts."), field="end")
    if (end - start).days > 366:
        raise InvalidInput(_("Ask for at most one year at a time."), field="start")
    return start, end


def earnings_report(
    user: User,
    *,
    start: date | None = None,
    end: date | None = None,
    now: datetime | None = None,
) -> EarningsReport:
    """Payout entries for the viewer's payees within [start, end] (whole days in the
    viewer's zone), newest first, with totals."""
    scope, payees = earnings_scope(user)
    zone = user.time_zone or settings.DEFAULT_DISPLAY_ZONE
    start, end = earnings_period(start, end, zone=zone, now=now)
    tz = ZoneInfo(zone)
    lower = datetime.combine(start, time.min, tzinfo=tz)
    upper = datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz)
    qs = (
        PayoutEntry.objects.filter(scope, created_at__gte=lower, created_at__lt=upper)
        .select_related("payment__plan", "mechanic__user", "payee_mechanic__user", "payee_workshop")
        .order_by("-created_at", "-pk")
    )
    totals = qs.aggregate(
        gross=Sum("gross_cents"), payee=Sum("payee_cents"), platform=Sum("platform_cents")
    )
    via_workshop: list[PayoutEntry] = []
    mechanic = getattr(user, "mechanic_profile", None) if user.is_mechanic else None
    if mechanic is not None and mechanic.workshop_id is not None:
        via_workshop = list(
            PayoutEntry.objects.filter(
                mechanic=mechanic,
                payee_kind=PayeeKind.WORKSHOP,
                created_at__gte=lower,
                created_at__lt=upper,
            )
            .select_related("payment__plan", "payee_workshop")
            .order_by("-created_at", "-pk")
        )
    return EarningsReport(
        start=start,
        end=end,
        zone=zone,
        entries=list(qs),
        payees=payees,
        totals={k: v or 0 for k, v in totals.items()},
        paid_to_workshop=via_workshop,
        paid_to_workshop_cents=sum(e.payee_cents for e in via_workshop),
    )


def payouts_for(user: User) -> QuerySet[Payout]:
    """The payouts (transfers) to the viewer's payees, newest first: the same scope as
    their earnings (admins: all)."""
    scope, _roles = earnings_scope(user)
    return (
        Payout.objects.filter(scope)
        .select_related("run", "payee_mechanic__user", "payee_workshop")
        .order_by("-created_at", "-pk")
    )


@dataclass(frozen=True)
class PayoutRunsOverview:
    runs: list[PayoutRun]
    failing: list[Payout]
    unpaid_cents: int
    unpaid_without_account: int  # payees owed money who have no payout account


def payout_runs(user: User) -> QuerySet[PayoutRun]:
    """Admins: payout runs, newest first, each with its payouts (the page and the API)."""
    if not user.is_platform_admin:
        raise NotAllowed(_("Payout runs are for platform admins."))
    return PayoutRun.objects.prefetch_related(
        Prefetch(
            "payouts",
            queryset=Payout.objects.select_related("payee_mechanic__user", "payee_workshop"),
        )
    )


def payout_run_for(run_id: int, user: User) -> PayoutRun:
    run = payout_runs(user).filter(pk=run_id).first()
    if run is None:
        raise NotFound(_("No such payout run."))
    return run


def payout_runs_overview(user: User, *, limit: int = 20) -> PayoutRunsOverview:
    """Admins: the latest runs with their payouts, transfers failing now, and what the
    ledger still owes."""
    runs = list(payout_runs(user)[:limit])
    unpaid = PayoutEntry.objects.filter(payout_item__isnull=True)
    without = (
        unpaid.filter(
            Q(payee_kind=PayeeKind.MECHANIC, payee_mechanic__payout_account_id="")
            | Q(payee_kind=PayeeKind.WORKSHOP, payee_workshop__payout_account_id="")
        )
        .values("payee_kind", "payee_mechanic", "payee_workshop")
        .distinct()
        .count()
    )
    return PayoutRunsOverview(
        runs=runs,
        failing=list(
            Payout.objects.filter(status=PayoutStatus.FAILED).select_related(
                "run", "payee_mechanic__user", "payee_workshop"
            )
        ),
        unpaid_cents=unpaid.aggregate(total=Sum("payee_cents"))["total"] or 0,
        unpaid_without_account=without,
    )


# --------------------------------------------------------------------------- yearly statements

T4A_THRESHOLD_CENTS = 50_000  # plan §5.4: a T4A is filed for contractors paid > $500 a year


@dataclass(frozen=True)
class PayeeYear:
    """One payee's calendar year, with what a T4A (box 048, fees for services) or a
    T5018-style slip needs. Amounts in cents; the split is on prices before tax."""

    payee_kind: str
    payee_id: int
    name: str
    address: str
    account: str
    sessions: int
    gross_cents: int  # session prices before tax, less refunds
    platform_cents: int  # the platform's fee
    earned_cents: int  # the payee's share (fees for services)
    reversed_cents: int  # the share given back by refunds (negative), within earned
    paid_out_cents: int  # transferred in the year

    @property
    def slip_required(self) -> bool:
        return self.earned_cents > T4A_THRESHOLD_CENTS


def _year_bounds(year: int) -> tuple[datetime, datetime]:
    if not 2000 <= year <= 2100:
        raise InvalidInput(_("Ask for a year like 2026."), field="year")
    tz = ZoneInfo(settings.DEFAULT_DISPLAY_ZONE)
    return datetime(year, 1, 1, tzinfo=tz), datetime(year + 1, 1, 1, tzinfo=tz)


def earnings_statements(user: User, *, year: int) -> list[PayeeYear]:
    """The viewer's payees' yearly totals (admins: every payee), by name."""
    scope, _roles = earnings_scope(user)
    lower, upper = _year_bounds(year)
    keys = ("payee_kind", "payee_mechanic", "payee_workshop")
    rows = (
        PayoutEntry.objects.filter(scope, created_at__gte=lower, created_at__lt=upper)
        .values(*keys)
        .annotate(
            gross=Sum("gross_cents"),
            platform=Sum("platform_cents"),
            earned=Sum("payee_cents"),
            reversed=Sum("payee_cents", filter=Q(kind="reversal")),
            sessions=Count("session", filter=Q(kind="earning"), distinct=True),
        )
    )
    paid = {
        (r["payee_kind"], r["payee_mechanic"], r["payee_workshop"]): r["total"]
        for r in Payout.objects.filter(
            scope, status=PayoutStatus.PAID, paid_at__gte=lower, paid_at__lt=upper
        )
        .values(*keys)
        .annotate(total=Sum("amount_cents"))
    }
    mechanics = MechanicProfile.objects.select_related("user").in_bulk(
        [r["payee_mechanic"] for r in rows if r["payee_mechanic"]]
    )
    workshops = Workshop.objects.in_bulk([r["payee_workshop"] for r in rows if r["payee_workshop"]])
    result = []
    for r in rows:
        if r["payee_kind"] == PayeeKind.WORKSHOP:
            w = workshops[r["payee_workshop"]]
            who = (
                w.pk,
                w.name,
                ", ".join(filter(None, [w.address, w.city, w.postal_code])),
                w.payout_account_id,
            )
        else:
            m = mechanics[r["payee_mechanic"]]
            who = (
                m.pk,
                str(m),
                ", ".join(filter(None, [m.city, m.postal_code])),
                m.payout_account_id,
            )
        result.append(
            PayeeYear(
                r["payee_kind"],
                *who,
                sessions=r["sessions"],
                gross_cents=r["gross"] or 0,
                platform_cents=r["platform"] or 0,
                earned_cents=r["earned"] or 0,
                reversed_cents=r["reversed"] or 0,
                paid_out_cents=paid.get(
                    (r["payee_kind"], r["payee_mechanic"], r["payee_workshop"]), 0
                ),
            )
        )
    return sorted(result, key=lambda p: (p.name.lower(), p.payee_kind, p.payee_id))


STATEMENT_COLUMNS = [
    "year",
    "payee_kind",
    "payee_id",
    "payee",
    "address",
    "payout_account",
    "sessions",
    "gross_before_tax_cents",
    "platform_fee_cents",
    "fees_for_services_cents",
    "refund_reversals_cents",
    "paid_out_cents",
    "t4a_required",
]


def statements_csv(year: int, statements: list[PayeeYear]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(STATEMENT_COLUMNS)
    for p in statements:
        writer.writerow(
            [
                year,
                p.payee_kind,
                p.payee_id,
                _cell(p.name),
                _cell(p.address),
                _cell(p.account),
                p.sessions,
                p.gross_cents,
                p.platform_cents,
                p.earned_cents,
                p.reversed_cents,
                p.paid_out_cents,
                "yes" if p.slip_required else "no",
            ]
        )
    return out.getvalue()


@dataclass(frozen=True)
class PlatformMonth:
    month: date
    fee_cents: int
    tax_cents: dict[str, int]  # by kind (GST, HST, QST, PST, RST), net of refunds

    @property
    def tax_total_cents(self) -> int:
        return sum(self.tax_cents.values())


def platform_statement(user: User, *, year: int) -> list[PlatformMonth]:
    """Admins: the platform's fee (its share of the ledger, net of refunds) and the sales
    tax collected (net of refunds, by kind), per month of `year` (platform zone)."""
    if not user.is_platform_admin:
        raise NotAllowed(_("The platform statement is for platform admins."))
    lower, upper = _year_bounds(year)
    tz = ZoneInfo(settings.DEFAULT_DISPLAY_ZONE)
    fees = {
        r["month"].date() if isinstance(r["month"], datetime) else r["month"]: r["fee"]
        for r in PayoutEntry.objects.filter(created_at__gte=lower, created_at__lt=upper)
        .annotate(month=TruncMonth("created_at", tzinfo=tz))
        .values("month")
        .annotate(fee=Sum("platform_cents"))
    }
    taxes: dict[date, dict[str, int]] = {}
    for r in (
        TaxLine.objects.filter(created_at__gte=lower, created_at__lt=upper)
        .annotate(month=TruncMonth("created_at", tzinfo=tz))
        .values("month", "kind")
        .annotate(total=Sum("amount_cents"))
    ):
        month = r["month"].date() if isinstance(r["month"], datetime) else r["month"]
        taxes.setdefault(month, {})[r["kind"]] = r["total"]
    return [
        PlatformMonth(m, fees.get(m, 0), taxes.get(m, {}))
        for m in (date(year, n, 1) for n in range(1, 13))
    ]


CSV_COLUMNS = [
    "created_at",
    "kind",
    "session_id",
    "plan",
    "mechanic",
    "mechanic_type",
    "payee_kind",
    "payee",
    "destination_account",
    "gross_cents",
    "payee_cents",
    "platform_cents",
    "currency",
]


def _cell(text: str) -> str:
    """Names go into spreadsheets: neutralise formula-looking cells (CSV injection)."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def payee_name(entry: PayoutEntry) -> str:
    if entry.payee_kind == PayeeKind.WORKSHOP and entry.payee_workshop:
        return entry.payee_workshop.name
    return str(entry.payee_mechanic) if entry.payee_mechanic else ""


def earnings_csv(report: EarningsReport) -> str:
    """The report as CSV (amounts in cents; times in the viewer's zone, ISO 8601)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    tz = ZoneInfo(report.zone)
    for e in report.entries:
        writer.writerow(
            [
                e.created_at.astimezone(tz).isoformat(timespec="seconds"),
                e.kind,
                e.session_id,
                e.payment.plan.code,
                _cell(str(e.mechanic)),
                e.mechanic_type,
                e.payee_kind,
                _cell(payee_name(e)),
                _cell(e.destination_account),
                e.gross_cents,
                e.payee_cents,
                e.platform_cents,
                e.currency,
            ]
        )
    return out.getvalue()


@dataclass(frozen=True)
class RefundPreview:
    """What cancelling now would give back, in words for the cancel page."""

    percent: int
    amount_cents: int
    currency: str
    destination: str  # RefundDestination value, or "" for nothing
    method: str

    @property
    def words(self) -> str:
        if not self.destination:
            return (
                "No refund" if self.method != PaymentMethod.WAIVER else "Your free trial stays used"
            )
        if self.destination == RefundDestination.WAIVER:
            return "Nothing was charged; your free session is given back"
        where = {
            RefundDestination.PROVIDER: "to your card",
            RefundDestination.CREDITS: "as credits",
        }[self.destination]
        return f"{self.percent} % back {where}: {money_label(self.amount_cents, self.currency)}"


def refund_preview(
    session: Session, *, cancelled_by: str, hours_before_start: float | None, mechanic_no_show: bool
) -> RefundPreview | None:
    """The refund a cancellation with these facts would give (the same policy function
    and amounts the cancellation itself applies); None when nothing was paid."""
    from .policy import refund_decision
    from .services.refunds import refund_outcome  # the amounts the cancellation applies

    payment = Payment.objects.filter(session=session, status=PaymentStatus.SUCCEEDED).first()
    if payment is None:
        return None
    decision = refund_decision(
        action="booking.session.cancelled",
        cancelled_by=cancelled_by,
        hours_before_start=hours_before_start,
        mechanic_no_show=mechanic_no_show,
    )
    outcome = refund_outcome(payment, decision)
    amount, destination = outcome if outcome else (0, "")
    return RefundPreview(decision.percent, amount, payment.currency, destination, payment.method)
