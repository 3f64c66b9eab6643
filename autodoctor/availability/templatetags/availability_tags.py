"""Template filters for wall-clock minutes ("HH:MM" in the owner's zone)."""

from django import template

from autodoctor.availability.engine import minute_label

register = template.Library()


@register.filter
def wall(minute: int | None) -> str:
    """Minutes after local midnight as "HH:MM" (1440 -> "24:00"); empty for None."""
    return "" if minute is None else minute_label(minute)
