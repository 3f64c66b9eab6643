"""What the API accepts as text: no NUL characters and no lone UTF-16 surrogates.

JSON can spell both (`"\\u0000"`, `"\\ud800"`). PostgreSQL refuses NUL in text and no
database can store a lone surrogate as UTF-8, so either would surface as a 500 from the
database driver. The API's parser checks every string of a body and of the query string
once, before any schema or service sees it, and answers 422 naming the field.
(Django's form fields already refuse NUL; form data cannot carry lone surrogates.)
"""

import json
import re
from typing import Any

from django.http import HttpRequest
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext as _
from ninja.parser import Parser

from autodoctor.errors import InvalidInput

_FORBIDDEN = re.compile("[\x00\ud800-\udfff]")


def _first_bad_text(value: Any, path: str) -> tuple[str, str] | None:
    """(path, offending character) of the first string in ``value`` that no database can store."""
    if isinstance(value, str):
        match = _FORBIDDEN.search(value)
        if match:
            return path, match.group()
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _first_bad_text(key, path) or _first_bad_text(
                item, f"{path}.{key}" if path else str(key)
            )
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _first_bad_text(item, f"{path}.{index}" if path else str(index))
            if found:
                return found
    return None


def text_check(value: Any, *, where: str = "") -> None:
    """Raise InvalidInput naming the field if any string in ``value`` holds a NUL or a
    lone surrogate."""
    found = _first_bad_text(value, where)
    if found:
        field, character = found
        message = (
            _("%(field)s: text contains a NUL character.")
            if character == "\x00"
            else _("%(field)s: text contains an unpaired surrogate.")
        )
        raise InvalidInput(message % {"field": field or "body"}, field=field or None)


class TextCheckingParser(Parser):
    """ninja's JSON parser plus `text_check` on bodies and query strings."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        data = json.loads(request.body)
        text_check(data)
        return data

    def parse_querydict(
        self, data: MultiValueDict, list_fields: list[str], request: HttpRequest
    ) -> dict[str, Any]:
        for key, values in data.lists():
            text_check({key: values if key in list_fields else values[-1]})
        return super().parse_querydict(data, list_fields, request)
