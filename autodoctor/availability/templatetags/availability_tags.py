"""Template filters for wall-clock minutes ("HH:MM" in the owner's zone) and dates in the
viewer's language."""

from datetime import date, datetime

from django import template
from django.utils import dateformat, translation

from autodoctor.availability.forms import wall_label

register = template.Library()

# {{ minute|wall }}: the same label the forms and the API show.
register.filter("wall", wall_label)


@register.filter
def dated(value: date | datetime | None, fmt: str) -> str:
    """``value`` in Django's date format ``fmt`` with day and month names in the active
    language: "Tue 1 Dec 2026" / « mar 1 déc. 2026 ». Django's French "M" abbreviates
    June and July alike ("Jui"), so French takes "N" (juin, juil., déc.) instead."""
    if value is None:
        return ""
    if (translation.get_language() or "").startswith("fr"):
        fmt = fmt.replace("M", "N")
    return dateformat.format(value, fmt)
