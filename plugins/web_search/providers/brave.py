"""Brave Search API: ``GET <endpoint>/res/v1/web/search?q=…&count=…`` with ``X-Subscription-Token``.

Results: ``{"web": {"results": [{"title", "url", "description", "page_age"?, "profile": {"name"},
"meta_url": {"hostname"}}]}}`` (no ``web`` at all when nothing was found). Errors come as
``{"type": "ErrorResponse", "error": {"status", "code", "detail", "meta"}}``: an unknown or
missing token is a 422 with code ``SUBSCRIPTION_TOKEN_INVALID``, and a 429 is a rate limit unless
its ``meta`` shows the plan's quota used up.

Brave also has its own language codes (``zh-hans``, ``jp``, ``pt-br``…), mapped from ISO ones here.
"""

from __future__ import annotations

from typing import Any, Final

from builder.sdk import HttpResponse, ToolError
from plugins.web_search.errors import AUTH_FAILED, QUOTA_EXCEEDED, provider_message, status_error
from plugins.web_search.models import SearchResult
from plugins.web_search.providers.base import Provider, Query, json_or_none

FRESHNESS: Final = {"day": "pd", "week": "pw", "month": "pm", "year": "py"}
# ISO codes (lowercased) whose Brave ``search_lang`` is not simply the language part.
_LANGUAGES: Final = {
    "zh-tw": "zh-hant",
    "zh-hk": "zh-hant",
    "zh-mo": "zh-hant",
    "zh-hant": "zh-hant",
    "ja": "jp",
    "en-gb": "en-gb",
    "pt-br": "pt-br",
    "no": "nb",
    "nn": "nb",
}
_DEFAULT_FOR_LANGUAGE: Final = {"zh": "zh-hans", "pt": "pt-pt"}


def brave_language(code: str) -> str:
    """``zh-CN`` -> ``zh-hans``, ``ja`` -> ``jp``, ``de-AT`` -> ``de``."""
    code = code.lower().replace("_", "-")
    primary = code.split("-", 1)[0]
    return _LANGUAGES.get(code) or _LANGUAGES.get(primary) or _DEFAULT_FOR_LANGUAGE.get(primary, primary)


class BraveProvider(Provider):
    name = "brave"
    label = "Brave Search"
    url_setting = "brave_url"
    key_setting = "brave_api_key"

    async def search(self, query: Query) -> list[SearchResult]:
        params = {
            "q": query.text,
            "count": str(query.count),
            "safesearch": query.safesearch,
            "text_decorations": "false",
        }
        if query.region:
            params["country"] = query.region.upper()
        if query.language:
            params["search_lang"] = brave_language(query.language)
        if query.time_range:
            params["freshness"] = FRESHNESS[query.time_range]
        headers = {"X-Subscription-Token": self.api_key(), "Accept": "application/json"}
        answer = await self.call("GET", "/res/v1/web/search", headers=headers, params=params)
        if not isinstance(answer, dict):
            answer = {}
        web = answer.get("web")
        items = web.get("results") if isinstance(web, dict) else []
        return self.results(items, query.count, self._describe)

    def problem(self, response: HttpResponse) -> ToolError | None:
        body = json_or_none(response)
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        code = str(error.get("code") or "")
        message = provider_message(error)
        if response.status_code == 422 and "TOKEN" in code:
            return status_error(AUTH_FAILED, self.label, response.status_code, message)
        meta = error.get("meta")
        if response.status_code == 429 and isinstance(meta, dict) and _quota_used_up(meta):
            return status_error(QUOTA_EXCEEDED, self.label, response.status_code, message)
        return super().problem(response)

    def _describe(self, item: dict[str, Any]) -> SearchResult | None:
        profile = item.get("profile")
        meta_url = item.get("meta_url")
        source = (profile.get("name") if isinstance(profile, dict) else None) or (
            meta_url.get("hostname") if isinstance(meta_url, dict) else None
        )
        return self.result(
            title=item.get("title"),
            url=item.get("url"),
            snippet=item.get("description"),
            date=item.get("page_age"),
            source=source,
        )


def _quota_used_up(meta: dict[str, Any]) -> bool:
    limit, current = meta.get("quota_limit"), meta.get("quota_current")
    return isinstance(limit, int) and isinstance(current, int) and limit > 0 and current >= limit
