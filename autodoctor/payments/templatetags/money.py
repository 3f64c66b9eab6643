"""`{{ cents|money }}` → "$29.99 CAD"; `{{ cents|money:"USD" }}` for another currency."""

from django import template

from autodoctor.payments.models import money_label

register = template.Library()


@register.filter
def money(cents: int | None, currency: str = "CAD") -> str:
    return money_label(int(cents or 0), currency or "CAD")
