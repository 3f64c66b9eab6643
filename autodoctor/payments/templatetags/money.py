"""`{{ cents|money }}` → "$29.99 CAD"; `{{ cents|money:"USD" }}` for another currency."""

from django import template
from django.conf import settings

from autodoctor.payments.models import money_label

register = template.Library()


@register.filter
def money(cents: int | None, currency: str = "CAD") -> str:
    return money_label(int(cents or 0), currency or "CAD")


@register.simple_tag
def tax_registrations() -> list[tuple[str, str]]:
    """The platform's sales tax registration numbers for receipts (settings)."""
    numbers = [("GST/HST", settings.GST_HST_NUMBER), ("QST", settings.QST_NUMBER)]
    return [(label, number) for label, number in numbers if number]
