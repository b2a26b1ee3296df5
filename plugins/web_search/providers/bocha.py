"""Bocha (博查, popular for Chinese search): ``POST <endpoint>/v1/web-search`` with
``Authorization: Bearer sk-…`` and ``{"query", "count", "freshness", "summary"}``.

Answers are wrapped: ``{"code": 200, "log_id", "msg", "data": {"webPages": {"value": [{"name",
"url", "snippet", "summary"?, "siteName", "datePublished"?}]}}}`` (Bing-like inside). An error has
the same envelope with the code (as a number or a string) and a ``message``; 403 there means the
account has no money left, not a refused key. Bocha takes no language or region.
"""

from __future__ import annotations

from typing import Any, Final

from builder.sdk import HttpResponse, ToolError
from plugins.web_search.errors import QUOTA_EXCEEDED, code_for_status, provider_message, status_error
from plugins.web_search.models import SearchResult
from plugins.web_search.providers.base import Provider, Query, json_or_none

FRESHNESS: Final = {"day": "oneDay", "week": "oneWeek", "month": "oneMonth", "year": "oneYear"}


class BochaProvider(Provider):
    name = "bocha"
    label = "Bocha"
    url_setting = "bocha_url"
    key_setting = "bocha_api_key"

    async def search(self, query: Query) -> list[SearchResult]:
        body = {
            "query": query.text,
            "count": query.count,
            "freshness": FRESHNESS.get(query.time_range or "", "noLimit"),
            # The summary is a longer extract than the snippet: more for a model to read.
            "summary": True,
        }
        answer = await self.call(
            "POST", "/v1/web-search", headers={"Authorization": f"Bearer {self.api_key()}"}, json_body=body
        )
        data = answer.get("data") if isinstance(answer, dict) else None
        pages = data.get("webPages") if isinstance(data, dict) else None
        if isinstance(data, dict) and pages is None:
            return []  # nothing found: Bocha leaves webPages out
        items = pages.get("value") if isinstance(pages, dict) else None
        return self.results(items, query.count, self._describe)

    def problem(self, response: HttpResponse) -> ToolError | None:
        body = json_or_none(response)
        status = response.status_code
        if 200 <= status < 300 and isinstance(body, dict):
            status = _envelope_code(body.get("code"), default=status)
        code = code_for_status(status)
        if code is None:
            return None
        if status == 403:
            code = QUOTA_EXCEEDED
        return status_error(code, self.label, status, provider_message(body))

    def _describe(self, item: dict[str, Any]) -> SearchResult | None:
        return self.result(
            title=item.get("name"),
            url=item.get("url"),
            snippet=item.get("summary") or item.get("snippet"),
            date=item.get("datePublished"),
            source=item.get("siteName"),
        )


def _envelope_code(value: Any, *, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
