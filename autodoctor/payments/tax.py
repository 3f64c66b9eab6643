"""Canadian sales tax (plan §5.4): which province's rates apply, and the amounts.

Prices are in CAD and before tax. The customer's province comes from the first letter
of their postal code (Canada Post's forward sortation areas); an empty or unknown code
falls back to the platform's home province (PLATFORM_PROVINCE). The rates live in
`SalesTaxRate` (effective dates, seeded by migration 0003); what a payment was charged
is copied into its `TaxLine` rows at checkout, so a rate change never rewrites history.

Each line rounds half up to the cent on its own (as a receipt prints it). A refund
gives back tax in proportion to the money it returns; the refund that completes the
payment's refunds takes exactly what is left, so a full refund nets the tax to zero.
"""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q

from .models import SalesTaxRate, rate_percent

# First letter of a Canadian postal code → province / territory. X is shared by the
# Northwest Territories and Nunavut: both charge GST only, so NT stands for both.
POSTAL_LETTER_PROVINCE: dict[str, str] = {
    "A": "NL",
    "B": "NS",
    "C": "PE",
    "E": "NB",
    "G": "QC",
    "H": "QC",
    "J": "QC",
    "K": "ON",
    "L": "ON",
    "M": "ON",
    "N": "ON",
    "P": "ON",
    "R": "MB",
    "S": "SK",
    "T": "AB",
    "V": "BC",
    "X": "NT",
    "Y": "YT",
}
PROVINCES = frozenset({*POSTAL_LETTER_PROVINCE.values(), "NU"})
# The order lines print in: federal first.
KIND_ORDER = {"GST": 0, "HST": 1, "QST": 2, "PST": 3, "RST": 4}


def province_for_postal_code(postal_code: str | None) -> str:
    letter = (postal_code or "").strip()[:1].upper()
    return POSTAL_LETTER_PROVINCE.get(letter, settings.PLATFORM_PROVINCE)


@dataclass(frozen=True)
class QuoteLine:
    kind: str
    rate_bp: Decimal
    amount_cents: int

    @property
    def rate_percent(self) -> str:
        return rate_percent(self.rate_bp)


@dataclass(frozen=True)
class TaxQuote:
    """Tax on one amount before tax: the lines, in print order."""

    province: str
    subtotal_cents: int
    lines: tuple[QuoteLine, ...]

    @property
    def tax_cents(self) -> int:
        return sum(line.amount_cents for line in self.lines)

    @property
    def total_cents(self) -> int:
        return self.subtotal_cents + self.tax_cents


def customer_province(customer) -> str:  # type: ignore[no-untyped-def]
    from autodoctor.accounts.models import CustomerProfile

    postal = (
        CustomerProfile.objects.filter(user=customer).values_list("postal_code", flat=True).first()
    )
    return province_for_postal_code(postal)


def tax_day(now: datetime) -> date:
    """The tax point: the payment's date in the platform's zone."""
    return now.astimezone(ZoneInfo(settings.DEFAULT_DISPLAY_ZONE)).date()


def customer_tax_quote(customer, subtotal_cents: int, *, now: datetime) -> "TaxQuote":  # type: ignore[no-untyped-def]
    """What `customer` pays in tax on `subtotal_cents` at `now`."""
    return tax_quote(
        subtotal_cents=subtotal_cents, province=customer_province(customer), day=tax_day(now)
    )


def line_cents(subtotal_cents: int, rate_bp: Decimal) -> int:
    exact = Decimal(subtotal_cents) * Decimal(rate_bp) / Decimal(10000)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def rates_on(province: str, day: date) -> list[SalesTaxRate]:
    """The rates in force in `province` on `day`."""
    rates = SalesTaxRate.objects.filter(province=province, effective_from__lte=day).filter(
        Q(effective_to__isnull=True) | Q(effective_to__gt=day)
    )
    return sorted(rates, key=lambda r: KIND_ORDER.get(r.kind, 9))


def tax_quote(*, subtotal_cents: int, province: str, day: date) -> TaxQuote:
    if subtotal_cents <= 0:
        return TaxQuote(province, subtotal_cents, ())
    lines = tuple(
        QuoteLine(rate.kind, rate.rate_bp, line_cents(subtotal_cents, rate.rate_bp))
        for rate in rates_on(province, day)
    )
    return TaxQuote(province, subtotal_cents, lines)


def refund_tax_split(
    *,
    refund_cents: int,
    amount_cents: int,
    refunded_before_cents: int,
    charged: dict[str, int],
    reversed_before: dict[str, int],
) -> dict[str, int]:
    """Tax (per kind, negative) a refund of `refund_cents` gives back, in proportion to
    the payment's total; the refund that completes the refunds takes what is left."""
    last = refunded_before_cents + refund_cents >= amount_cents
    result = {}
    for kind, cents in charged.items():
        if last:
            share = cents - reversed_before.get(kind, 0)
        else:
            share = (refund_cents * cents + amount_cents // 2) // amount_cents
        if share:
            result[kind] = -share
    return result
