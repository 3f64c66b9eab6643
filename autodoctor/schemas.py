"""API schemas every router shares."""

from ninja import Schema


class ErrorOut(Schema):
    """The one error body of the API (autodoctor/api.py renders every DomainError so)."""

    detail: str
    code: str
    field: str | None = None
