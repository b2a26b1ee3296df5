"""Tavily: ``POST <endpoint>/search`` with ``Authorization: Bearer tvly-…`` and a JSON body
``{"query", "max_results", "search_depth", "topic", "time_range"?, …}``. Results:
``{"results": [{"title", "url", "content", "score", "published_date"?}]}``.

432 (plan limit) and 433 (pay-as-you-go limit) mean the account's credit is used up. Tavily has
no language parameter, and its ``country`` takes country names, so ``language`` and ``region``
are not sent.
"""

from __future__ import annotations

from typing import Any

from builder.sdk import HttpResponse, ToolError
from plugins.web_search.errors import QUOTA_EXCEEDED, provider_message, status_error
from plugins.web_search.models import SearchResult
from plugins.web_search.providers.base import Provider, Query, json_or_none


class TavilyProvider(Provider):
    name = "tavily"
    label = "Tavily"
    url_setting = "tavily_url"
    key_setting = "tavily_api_key"

    async def search(self, query: Query) -> list[SearchResult]:
        body: dict[str, Any] = {
            "query": query.text,
            "max_results": query.count,
            "search_depth": "basic",
            "topic": "general",
            "include_answer": False,
            "include_raw_content": False,
            "include_images": False,
        }
        if query.time_range:
            body["time_range"] = query.time_range
        answer = await self.call(
            "POST", "/search", headers={"Authorization": f"Bearer {self.api_key()}"}, json_body=body
        )
        items = answer.get("results") if isinstance(answer, dict) else None
        return self.results(items, query.count, self._describe)

    def problem(self, response: HttpResponse) -> ToolError | None:
        if response.status_code in (432, 433):
            message = provider_message(json_or_none(response))
            return status_error(QUOTA_EXCEEDED, self.label, response.status_code, message)
        return super().problem(response)

    def _describe(self, item: dict[str, Any]) -> SearchResult | None:
        return self.result(
            title=item.get("title"),
            url=item.get("url"),
            snippet=item.get("content"),
            date=item.get("published_date"),
        )
