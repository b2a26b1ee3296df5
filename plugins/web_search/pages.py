"""Reading the top result pages: fetched together through ``ctx.http`` (the SSRF-safe client), each
within its own time and size limits, turned into readable text by the knowledge loaders (the same
boilerplate-stripping HTML reader, and PDFs too), and cut to the configured length.

A page that cannot be read never fails the search: its result carries ``page_error`` instead.
"""

from __future__ import annotations

import asyncio
import http
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from builder.engine.i18n import gettext_noop
from builder.engine.runtime.contract import NodeError
from builder.knowledge.loading import DocumentError, ErrorCode, LoadLimits, load_document
from builder.sdk import PluginContext, ToolError
from plugins.web_search.models import SearchResult
from plugins.web_search.normalise import cut

ACCEPT: Final = (
    "text/html,application/xhtml+xml;q=0.9,text/plain;q=0.8,text/markdown;q=0.8,application/pdf;q=0.7,*/*;q=0.1"
)
# Types whose first bytes are still a readable page when the rest is cut off.
_TEXT_TYPES: Final = frozenset({"text/html", "application/xhtml+xml", "text/plain", "text/markdown"})
_READABLE_TYPES: Final = _TEXT_TYPES | {"application/pdf"}
# Time to turn a page into text after it arrived (parsing runs in a thread).
_PARSE_GRACE_S: Final = 5.0
_MAX_PDF_PAGES: Final = 50

# A page read: (text, None) or (None, why not).
PageRead = tuple[str | None, str | None]


@dataclass(frozen=True)
class PageLimits:
    max_chars: int
    max_bytes: int
    timeout_s: float


async def read_pages(
    results: list[SearchResult],
    count: int,
    limits: PageLimits,
    ctx: PluginContext,
    on_read: Callable[[int, int], Awaitable[None]] | None = None,
) -> list[SearchResult]:
    """``results`` with the text (or the error) of the first ``count`` pages filled in."""
    chosen = results[:count]
    done = 0

    async def read(result: SearchResult) -> PageRead:
        nonlocal done
        read_page = await _read_within_time(result.url, limits, ctx)
        done += 1
        if on_read is not None:
            await on_read(done, len(chosen))
        return read_page

    pages = await asyncio.gather(*(read(result) for result in chosen))
    read_results = [
        result.model_copy(update={"page_text": text, "page_error": error})
        for result, (text, error) in zip(chosen, pages, strict=True)
    ]
    return read_results + results[count:]


async def _read_within_time(url: str, limits: PageLimits, ctx: PluginContext) -> PageRead:
    try:
        async with asyncio.timeout(limits.timeout_s + _PARSE_GRACE_S):
            return await read_page(url, limits, ctx)
    except TimeoutError:
        return None, gettext_noop("The page could not be read in time.")
    except Exception as error:  # one unreadable page must not fail the search
        ctx.logger.warning("could not read the page %s", url, exc_info=True)
        return None, f"{type(error).__name__}: {error}"


async def read_page(url: str, limits: PageLimits, ctx: PluginContext) -> PageRead:
    """The readable text of the page at ``url``, or why there is none."""
    try:
        response = await ctx.http.request("GET", url, headers={"Accept": ACCEPT}, timeout_s=limits.timeout_s)
    except (NodeError, ToolError) as error:  # blocked, unreachable, too slow, too large, not permitted
        return None, error.message
    if not 200 <= response.status_code < 300:
        return None, _http_status(response.status_code)
    content_type = response.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type and media_type not in _READABLE_TYPES:
        return None, gettext_noop("The page is not text (%(type)s).") % {"type": media_type}
    data = response.content or response.body.encode()
    if len(data) > limits.max_bytes and media_type in _TEXT_TYPES:
        data = data[: limits.max_bytes]  # the start of a long page is the part worth reading
    loading_limits = LoadLimits(max_bytes=limits.max_bytes, max_pdf_pages=_MAX_PDF_PAGES)
    try:
        document = await asyncio.to_thread(
            load_document, data, content_type=content_type or None, source=url, limits=loading_limits
        )
    except DocumentError as error:
        return None, _document_problem(error)
    text = document.text.strip()
    if not text:
        return None, gettext_noop("The page has no readable text.")
    return cut(text, limits.max_chars), None


def _http_status(status: int) -> str:
    try:
        reason = http.HTTPStatus(status).phrase
    except ValueError:
        reason = "error"
    return gettext_noop("The page answered HTTP %(status)s (%(reason)s).") % {"status": status, "reason": reason}


def _document_problem(error: DocumentError) -> str:
    """The knowledge loader's reason, in words about a web page rather than an uploaded file."""
    if error.code in (ErrorCode.UNSUPPORTED_TYPE, ErrorCode.TYPE_MISMATCH):
        return gettext_noop("The page is not in a format that can be read as text.")
    if error.code in (ErrorCode.NO_TEXT, ErrorCode.EMPTY_FILE):
        return gettext_noop("The page has no readable text.")
    if error.code == ErrorCode.TOO_LARGE:
        return gettext_noop("The page is larger than %(limit)s.") % {"limit": error.params.get("limit", "")}
    return error.message
