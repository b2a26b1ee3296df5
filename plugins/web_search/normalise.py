"""Provider fields -> the one result shape: plain text, ISO dates, a site name."""

from __future__ import annotations

import html
import re
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final
from urllib.parse import urlsplit

MAX_SNIPPET_CHARS: Final = 1000
_TAG = re.compile(r"<[^>]{0,500}>")
_SPACES = re.compile(r"\s+")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def plain_text(value: Any, *, limit: int = MAX_SNIPPET_CHARS) -> str:
    """``value`` as one line of text: markup (Brave's ``<strong>``) and entities undone, cut to ``limit``."""
    if not isinstance(value, str):
        return ""
    text = _SPACES.sub(" ", html.unescape(_TAG.sub("", value))).strip()
    return cut(text, limit)


def cut(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, at a word boundary when one is near, marked with "…"."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ")
    if space > limit * 0.8:
        head = head[:space]
    return head.rstrip() + "…"


def iso_date(value: Any) -> str | None:
    """A date as ISO 8601 (``2024-05-14`` or ``2024-05-14T10:00:00+08:00``), or None when it is not one.

    Providers send ISO strings (SearXNG, Brave, Bocha) or RFC 2822 ones (Tavily's news dates).
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if _DATE_ONLY.match(text):
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            return None
    parsed: datetime | None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    return parsed.isoformat() if parsed.year > 1970 else None


def site_of(url: str) -> str:
    """The host name of ``url`` without a leading ``www.``."""
    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.")


def http_url(value: Any) -> str | None:
    """``value`` if it is an http(s) URL with a host (a result without one is dropped)."""
    if not isinstance(value, str):
        return None
    parts = urlsplit(value.strip())
    return value.strip() if parts.scheme in ("http", "https") and parts.hostname else None
