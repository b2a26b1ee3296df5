"""Checks on data that came from outside, shared by every way it comes in (JSON bodies, websocket
frames, YAML files). Django-free: the YAML loader, which plugins use too, builds on it.

- **Nesting.** Parsers and everything that walks their result recurse once per level; 10,000 levels
  exhaust Python's stack. No body, frame or file of ours nests anywhere near ``MAX_NESTING_DEPTH``
  (a bot graph with a JSON-schema config is about 15), and one limit for JSON and YAML means a
  graph saved through the API always exports into a file that imports again.
- **Numbers** JSON can hold: finite, and integers Python can write back as text.
- **Text.** JSON and YAML escapes can spell a lone UTF-16 surrogate (``"\\ud800"``), a Python ``str``
  no UTF-8 encoder accepts, and a NUL (``"\\u0000"``), which PostgreSQL refuses in text and JSON
  columns: both are refused where they enter, with the path of the field that holds them.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Iterator
from itertools import accumulate
from typing import Any, Final

MAX_NESTING_DEPTH: Final = 64
# Python's own limit on converting between int and text: a longer integer could be read but never
# written back (as JSON, into the database), and reading it is quadratic in its length.
MAX_INTEGER_DIGITS: Final = sys.int_info.default_max_str_digits

# A JSON string (escapes included), or one that runs to the end of the text: matching every string
# from its first quote keeps the scan linear, whatever an invalid body does with its quotes.
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\[\s\S])*(?:"|\\?\Z)')
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))
_DEPTH_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Where a parsed JSON text can hold such a character at all: its \u0000 and \uD800-\uDFFF escapes
# (JSON has no raw control characters in strings).
_UNSTORABLE_ESCAPE = re.compile(r"\\u(?:[dD][89a-fA-F]|0000)")


def json_nesting_exceeds(text: str, limit: int = MAX_NESTING_DEPTH) -> bool:
    """Whether the arrays and objects of the JSON ``text`` nest deeper than ``limit``, found without
    parsing it (so before anything recurses), in linear time. Exact for valid JSON; an invalid text
    may count as deeper than it is, and is refused either way."""
    if text.count("[") + text.count("{") <= limit:
        return False
    # C-speed steps: drop the strings, keep the brackets' bytes, add up +1/-1 along them.
    brackets = _JSON_STRING.sub("", text).encode("utf-8", "surrogatepass").translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0) > limit


def invalid_text_path(value: Any, *, escaped_in: str | None = None) -> str | None:
    """The path (``graph.nodes.0.data.title``, as DRF names nested fields) of the first string,
    key or value, in ``value`` that is not storable text (``is_valid_text``), or None.

    ``escaped_in``: the JSON text ``value`` was parsed from; without a surrogate escape in it there
    is nothing to look for, which spares walking every large body.
    """
    if escaped_in is not None and not _UNSTORABLE_ESCAPE.search(escaped_in):
        return None
    for path, text in _strings(value):
        if not is_valid_text(text):
            return path
    return None


def is_valid_text(text: str) -> bool:
    """Whether ``text`` can be encoded and stored: no lone surrogate, no NUL."""
    if text.isascii():
        return "\x00" not in text
    return not _UNSTORABLE.search(text)


def printable_path(path: str) -> str:
    """``path`` with any surrogate written as its escape, so the error naming it can be sent."""
    return path.encode("utf-8", "backslashreplace").decode("utf-8")


def finite_float(text: str) -> float:
    """``float(text)``, refusing what overflows to infinity: JSON has no such number."""
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"the number {text[:40]} is too large")
    return number


def _strings(value: Any) -> Iterator[tuple[str, str]]:
    """Every string in ``value`` with its path, in document order; iterative, so depth costs no stack."""
    pending: list[tuple[str, Any]] = [("", value)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, str):
            yield path or "non_field_errors", item
        elif isinstance(item, dict):
            children = []
            for key, child in item.items():
                name = f"{path}.{key}" if path else str(key)
                if isinstance(key, str):
                    yield name, key
                children.append((name, child))
            pending.extend(reversed(children))
        elif isinstance(item, list):
            named = [(f"{path}.{index}" if path else str(index), child) for index, child in enumerate(item)]
            pending.extend(reversed(named))
