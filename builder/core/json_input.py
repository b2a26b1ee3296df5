"""The one reader of JSON that comes from outside: API bodies (DRF's parser is ``JSONParser`` below),
the SSE chat's body and the websocket's frames all go through ``load_json``.

It refuses, as a 400 in the one error shape and before anything recurses or is stored: nesting
deeper than ``MAX_NESTING_DEPTH`` and numbers JSON cannot hold (``parse_error``), and text that is
not valid Unicode (``invalid``, naming the field that holds it). See ``builder.core.untrusted``.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import parsers

from builder.core.exceptions import ValidationFailed
from builder.core.untrusted import (
    MAX_INTEGER_DIGITS,
    MAX_NESTING_DEPTH,
    finite_float,
    invalid_text_path,
    json_nesting_exceeds,
    printable_path,
)


def load_json(raw: bytes | str, *, encoding: str = "utf-8") -> Any:
    """Parse an untrusted JSON text; ``ValidationFailed`` says why it is refused."""
    try:
        text = raw.decode(encoding) if isinstance(raw, bytes) else raw
    except (UnicodeDecodeError, LookupError):
        _refuse(_("Not valid %(encoding)s text.") % {"encoding": encoding})
    if json_nesting_exceeds(text):
        _refuse(_("JSON nested deeper than %(limit)d levels is refused.") % {"limit": MAX_NESTING_DEPTH})
    try:
        value = json.loads(text, parse_int=_integer, parse_float=_float, parse_constant=_constant)
    except json.JSONDecodeError as error:
        _refuse(
            _("Not valid JSON (line %(line)d, column %(column)d).")
            % {"line": error.lineno, "column": error.colno}
        )
    except (ValueError, RecursionError):  # belt and braces: the checks above leave none
        _refuse(_("Not valid JSON."))
    path = invalid_text_path(value, escaped_in=text)
    if path is not None:
        raise ValidationFailed(fields={printable_path(path): [unstorable_text_reason()]})
    return value


def unstorable_text_reason() -> str:
    """Why text holding a NUL or a lone surrogate is refused (a body's field, a query parameter)."""
    return _("Not valid text: it holds a NUL character or a lone surrogate (\\u0000, \\ud800-\\udfff).")


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, reading through ``load_json``."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
        return load_json(stream.read() if stream is not None else b"", encoding=encoding)


def _refuse(reason: str) -> NoReturn:
    raise ValidationFailed(reason, code="parse_error")


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        _refuse(_("Integers are limited to %(digits)d digits.") % {"digits": MAX_INTEGER_DIGITS})
    return int(text)


def _float(text: str) -> float:
    try:
        return finite_float(text)
    except ValueError:
        _refuse(_("Numbers must be finite: %(number)s is too large.") % {"number": text[:40]})


def _constant(name: str) -> NoReturn:
    _refuse(_("%(constant)s is not a JSON number.") % {"constant": name})
