"""The calendar range every date a person or client types must fall in.

A scheduling product has no business with year 1 or year 9999, and such dates break
arithmetic far from the input (`date(9999, 12, 31) + 1 day` overflows inside a slot
query). Every parser of a date or date-time from a page or the API calls one of these
functions first, so a wild date is a 422 naming the field, never a 500.
Tighter rules (the booking window, a time-off horizon) live with the services they govern.
"""

from datetime import UTC, date, datetime, time

from django.utils.translation import gettext as _

from autodoctor.errors import InvalidInput

EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2100, 12, 31)


def date_in_range(value: date, *, field: str) -> date:
    """``value`` if it lies in [EARLIEST_DATE, LATEST_DATE], else InvalidInput."""
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise InvalidInput(
            _(
                "%(value_isoformat)s is outside the supported dates (%(earliest_date_isoformat)s to %(latest_date_isoformat)s)."
            )
            % {
                "value_isoformat": value.isoformat(),
                "earliest_date_isoformat": EARLIEST_DATE.isoformat(),
                "latest_date_isoformat": LATEST_DATE.isoformat(),
            },
            field=field,
        )
    return value


def instant_in_range(value: datetime, *, field: str) -> datetime:
    """``value`` (aware) if its UTC date lies in the supported range, else InvalidInput."""
    low = datetime.combine(EARLIEST_DATE, time.min, tzinfo=UTC)
    high = datetime.combine(LATEST_DATE, time.max, tzinfo=UTC)
    if value.tzinfo is None or not low <= value <= high:
        # Naive values are the caller's bug, but a message beats a TypeError.
        date_in_range(value.date(), field=field)
    return value


def db_instant(value: datetime | str) -> datetime:
    """A datetime column read by plain SQL as an aware UTC datetime: SQLite gives Django's
    naive UTC text ("2026-06-08 14:00:00"), PostgreSQL an aware datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
