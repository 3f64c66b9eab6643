"""API schemas every router shares."""

from typing import Annotated

from ninja import Field, Schema

# Longest ISO 8601 date-time a client may send ("2026-03-08T09:00:00.000000+05:30" is 32).
ISO_TEXT_MAX = 40
# A plan code, session type or status value.
CODE_MAX = 20
# An IANA zone name (the longest today is 32 characters; User.time_zone holds 64).
ZONE_MAX = 64

IsoText = Annotated[str, Field(max_length=ISO_TEXT_MAX)]


class ErrorOut(Schema):
    """The one error body of the API (autodoctor/api.py renders every DomainError so)."""

    detail: str
    code: str
    field: str | None = None
