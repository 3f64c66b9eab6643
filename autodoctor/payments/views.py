"""Pages of the payments app, and the provider webhook endpoints. Each view parses the
request, calls one service or selector, and renders; DomainErrors raised on pages are
rendered by web.middleware.DomainErrorMiddleware."""

from datetime import date

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from autodoctor.errors import Busy, DomainError, InvalidInput, NotAllowed, database_busy

from . import selectors
from .models import Payment, PaymentStatus, money_label
from .services import checkout
from .services import payout_runs as payout_runs_service
from .services.simulated import simulated_checkout_finish, simulated_checkout_for
from .services.webhooks import webhook_receive

# --------------------------------------------------------------------------- checkout


def _target(reservation_id: int | None, session_id: int | None) -> dict[str, int | None]:
    """The checkout pages exist twice: /payments/checkout/<reservation>/ for a held slot
    and /payments/start/<session>/ for a start-now session; the views are shared."""
    return {"reservation_id": reservation_id, "session_id": session_id}


def _after_payment(request: HttpRequest, payment: Payment) -> HttpResponse:
    """Paid for a start-now session: straight to "finding your mechanic"; a booked time:
    the "You're booked" confirmation (the receipt one click away); a payment still being
    confirmed (card): the receipt, which polls and then links to the confirmation."""
    if payment.reservation_id is None and payment.status == PaymentStatus.SUCCEEDED:
        if request.method == "POST":  # just paid, not a revisit of the checkout page
            messages.success(
                request,
                _(
                    "%(payment_get_method_display)s: %(payment_amount_label)s. Receipt #%(payment_pk)s."
                )
                % {
                    "payment_get_method_display": payment.get_method_display(),
                    "payment_amount_label": payment.amount_label,
                    "payment_pk": payment.pk,
                },
            )
        return redirect("booking:waiting", payment.session_id)
    if payment.status == PaymentStatus.SUCCEEDED:
        return redirect("booking:confirmation", payment.session_id)
    return redirect("payments:receipt", payment.pk)


@login_required
@require_GET
def checkout_page(
    request: HttpRequest, reservation_id: int | None = None, session_id: int | None = None
) -> HttpResponse:
    """The booking wizard's payment step: plan, price, time (or "now"), hold countdown,
    and the ways to pay (waiver for free plans; credits or card for paid ones)."""
    summary = selectors.checkout_summary(
        request.user,  # type: ignore[arg-type]
        **_target(reservation_id, session_id),
    )
    if summary.settled_payment is not None:
        return _after_payment(request, summary.settled_payment)
    name = "payments:checkout" if reservation_id is not None else "payments:start_checkout"
    key = reservation_id if reservation_id is not None else session_id
    actions = {
        method: reverse(f"{name}_{method}", args=[key]) for method in ("waiver", "credits", "card")
    }
    return render(
        request,
        "payments/checkout.html",
        {"s": summary, "actions": actions, "unpaid_minutes": settings.UNPAID_SESSION_MINUTES},
    )


@login_required
@require_POST
def pay_with_waiver(
    request: HttpRequest, reservation_id: int | None = None, session_id: int | None = None
) -> HttpResponse:
    payment = checkout.payment_with_waiver(
        customer=request.user,  # type: ignore[arg-type]
        accepted=request.POST.get("waiver_accepted") == "yes",
        text_version=request.POST.get("waiver_version", ""),
        **_target(reservation_id, session_id),
    )
    return _after_payment(request, payment)


@login_required
@require_POST
def pay_with_credits(
    request: HttpRequest, reservation_id: int | None = None, session_id: int | None = None
) -> HttpResponse:
    payment = checkout.payment_with_credits(
        customer=request.user,  # type: ignore[arg-type]
        **_target(reservation_id, session_id),
    )
    return _after_payment(request, payment)


@login_required
@require_POST
def pay_by_card(
    request: HttpRequest, reservation_id: int | None = None, session_id: int | None = None
) -> HttpResponse:
    payment = checkout.payment_checkout_start(
        customer=request.user,  # type: ignore[arg-type]
        **_target(reservation_id, session_id),
    )
    if payment.status != PaymentStatus.PENDING:
        return _after_payment(request, payment)
    return redirect(payment.checkout_url)


# --------------------------------------------------------------------------- simulated provider


@login_required
def simulated_checkout(request: HttpRequest, checkout_id: str) -> HttpResponse:
    """The simulated provider's hosted checkout: "Pay" or "Fail" (no money moves)."""
    if request.method == "POST":
        outcome = request.POST.get("outcome")
        if outcome not in ("pay", "fail"):
            raise InvalidInput(_("Press Pay or Fail."), field="outcome")
        payment = simulated_checkout_finish(
            checkout_id=checkout_id,
            customer=request.user,  # type: ignore[arg-type]
            outcome=outcome,  # type: ignore[arg-type]
        )
        if outcome == "fail" and payment.status == PaymentStatus.FAILED:
            messages.error(request, _("The payment failed (simulated). Nothing was charged."))
            return redirect(payment.checkout_page_url)
        return _after_payment(request, payment)
    payment = simulated_checkout_for(checkout_id, request.user)  # type: ignore[arg-type]
    return render(request, "payments/simulated_checkout.html", {"payment": payment})


# --------------------------------------------------------------------------- receipts, history


@login_required
@require_GET
def receipt(request: HttpRequest, payment_id: int) -> HttpResponse:
    payment = selectors.payment_for(payment_id, request.user)  # type: ignore[arg-type]
    context = {
        "payment": payment,
        "zone": request.user.time_zone,  # type: ignore[union-attr]
        "alternatives": selectors.payment_alternatives(payment, request.user.time_zone),  # type: ignore[union-attr]
        "waiting": payment.status in (PaymentStatus.PENDING, PaymentStatus.PAID),
    }
    template = "payments/receipt.html#status" if request.htmx else "payments/receipt.html"  # type: ignore[attr-defined]
    return render(request, template, context)


@login_required
@require_GET
def my_payments(request: HttpRequest) -> HttpResponse:
    user = request.user
    return render(
        request,
        "payments/my_payments.html",
        {
            "payments": selectors.payments_for(user).filter(customer=user)[:100],  # type: ignore[arg-type, misc]
            "balance_cents": selectors.credit_balance_cents(user),  # type: ignore[arg-type]
            "entries": selectors.credit_entries(user)[:100],  # type: ignore[arg-type]
        },
    )


def _date_param(request: HttpRequest, name: str) -> date | None:
    value = request.GET.get(name, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(
            _("%(name)s: use a date like 2026-12-01.") % {"name": name}, field=name
        ) from exc


@login_required
@require_GET
def earnings(request: HttpRequest) -> HttpResponse:
    """Earnings per payee and period: mechanics see their own, workshop staff their
    workshop's, admins all. `?format=csv` downloads the same rows."""
    report = selectors.earnings_report(
        request.user,  # type: ignore[arg-type]
        start=_date_param(request, "start"),
        end=_date_param(request, "end"),
    )
    if request.GET.get("format") == "csv":
        return earnings_csv_response(report)
    payouts = selectors.payouts_for(request.user)[:50]  # type: ignore[arg-type]
    return render(request, "payments/earnings.html", {"report": report, "payouts": payouts})


def earnings_csv_response(report: selectors.EarningsReport) -> HttpResponse:
    """The report as a CSV download (the page's `?format=csv` and `GET /api/earnings`)."""
    response = HttpResponse(selectors.earnings_csv(report), content_type="text/csv")
    response["Content-Disposition"] = (
        f'attachment; filename="earnings-{report.start}-{report.end}.csv"'
    )
    return response


# --------------------------------------------------------------------------- yearly statements


@login_required
@require_GET
def statement(request: HttpRequest, year: int) -> HttpResponse:
    """A payee's yearly earnings statement (T4A/T5018-style totals), printable, or
    `?format=csv`. Mechanics see theirs, workshop staff their workshops', admins all."""
    statements = selectors.earnings_statements(request.user, year=year)  # type: ignore[arg-type]
    if request.GET.get("format") == "csv":
        return statements_csv_response(year, statements)
    return render(
        request,
        "payments/statement.html",
        {"year": year, "statements": statements, "threshold": selectors.T4A_THRESHOLD_CENTS},
    )


def statements_csv_response(year: int, statements: list[selectors.PayeeYear]) -> HttpResponse:
    """The statement as a CSV download (the page's `?format=csv` and the API's)."""
    response = HttpResponse(selectors.statements_csv(year, statements), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="earnings-statement-{year}.csv"'
    return response


@login_required
@require_GET
def platform_statement(request: HttpRequest, year: int) -> HttpResponse:
    """Admins: the platform's fee and the sales tax collected, per month of the year."""
    months = selectors.platform_statement(request.user, year=year)  # type: ignore[arg-type]
    kinds = sorted({kind for m in months for kind in m.tax_cents})
    rows = [(m, [m.tax_cents.get(kind, 0) for kind in kinds]) for m in months]
    totals = {
        "fee": sum(m.fee_cents for m in months),
        "tax": sum(m.tax_total_cents for m in months),
        "kinds": [sum(m.tax_cents.get(kind, 0) for m in months) for kind in kinds],
    }
    return render(
        request,
        "payments/platform_statement.html",
        {"year": year, "rows": rows, "kinds": kinds, "totals": totals},
    )


# --------------------------------------------------------------------------- payout runs


@login_required
@require_GET
def payout_runs(request: HttpRequest) -> HttpResponse:
    """Admins: each payout run, its transfers, the failing ones, what is still owed."""
    overview = selectors.payout_runs_overview(request.user)  # type: ignore[arg-type]
    return render(
        request,
        "payments/payout_runs.html",
        {"o": overview, "interval_days": settings.PAYOUT_INTERVAL_DAYS},
    )


@login_required
@require_POST
def payout_run_start(request: HttpRequest) -> HttpResponse:
    """Admins: start a payout run now (the weekly job does it on its own)."""
    if not request.user.is_platform_admin:  # type: ignore[union-attr]
        raise NotAllowed(_("Payout runs are for platform admins."))
    run = payout_runs_service.payout_run_start(started_by=request.user)  # type: ignore[arg-type]
    messages.success(
        request,
        _(
            "Payout run #%(run_pk)s: %(run_payouts_count)s transfer(s), %(money_label_run_total_cents)s."
        )
        % {
            "run_pk": run.pk,
            "run_payouts_count": run.payouts_count,
            "money_label_run_total_cents": money_label(run.total_cents),
        },
    )
    return redirect("payments:payout_runs")


# --------------------------------------------------------------------------- webhooks


def _webhook(request: HttpRequest, provider: str) -> JsonResponse:
    """A database that stayed locked answers 503 JSON, not a 500: the event is stored but
    not marked processed, so the provider's retry applies it."""
    try:
        result = webhook_receive(
            provider_name=provider,
            payload=request.body,
            signature=request.headers.get("Stripe-Signature"),
        )
    except DomainError as exc:
        return JsonResponse(exc.as_body(), status=exc.status)
    except OperationalError as exc:
        if not database_busy(exc):
            raise
        busy = Busy(_("The database is busy; retry this event later."))
        return JsonResponse(busy.as_body(), status=busy.status)
    return JsonResponse(
        {"received": True, "event_id": result.event_id, "outcome": result.outcome},
        status=result.status,
    )


@csrf_exempt  # signed by the provider instead; there is no browser session here
@require_POST
def webhook_stripe(request: HttpRequest) -> JsonResponse:
    """POST /payments/webhooks/stripe/ — Stripe events, verified with STRIPE_WEBHOOK_SECRET."""
    return _webhook(request, "stripe")


@csrf_exempt
@require_POST
def webhook_simulated(request: HttpRequest) -> JsonResponse:
    """POST /payments/webhooks/simulated/ — the simulated provider's events, verified with
    SIMULATED_PAYMENTS_SECRET (404 when the simulated provider is off)."""
    return _webhook(request, "simulated")
