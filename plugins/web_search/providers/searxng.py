"""A self-hosted SearXNG instance: ``GET <instance>/search?q=…&format=json``, no key.

The instance must allow JSON output (``search.formats`` in its settings.yml lists ``json``);
otherwise it answers 403, which is reported as exactly that. Results:
``{"results": [{"title", "url", "content", "publishedDate", …}], "unresponsive_engines": [[name, why]]}``.
"""

from __future__ import annotations

from typing import Any, Final

from builder.engine.i18n import gettext_noop
from builder.sdk import HttpResponse, ToolError
from plugins.web_search.errors import REJECTED, UNAVAILABLE
from plugins.web_search.models import SearchResult
from plugins.web_search.providers.base import Provider, Query

SAFESEARCH: Final = {"off": "0", "moderate": "1", "strict": "2"}


class SearxngProvider(Provider):
    name = "searxng"
    label = "SearXNG"
    url_setting = "searxng_url"

    async def search(self, query: Query) -> list[SearchResult]:
        params = {"q": query.text, "format": "json", "pageno": "1", "safesearch": SAFESEARCH[query.safesearch]}
        if query.language:
            language = query.language.replace("_", "-")
            if query.region and "-" not in language:
                language = f"{language}-{query.region.upper()}"
            params["language"] = language
        if query.time_range:
            params["time_range"] = query.time_range
        body = await self.call("GET", "/search", headers={"Accept": "application/json"}, params=params)
        if not isinstance(body, dict):
            body = {}
        results = self.results(body.get("results"), query.count, self._describe)
        if not results and body.get("unresponsive_engines"):
            raise self._engines_failed(body["unresponsive_engines"])
        return results

    def problem(self, response: HttpResponse) -> ToolError | None:
        if response.status_code == 403:
            return ToolError.from_template(
                REJECTED,
                gettext_noop(
                    "The SearXNG instance refuses JSON results (HTTP 403): add json to search.formats in its "
                    "settings.yml."
                ),
                details={"status": 403},
            )
        return super().problem(response)

    def _describe(self, item: dict[str, Any]) -> SearchResult | None:
        return self.result(
            title=item.get("title"),
            url=item.get("url"),
            snippet=item.get("content"),
            date=item.get("publishedDate"),
        )

    def _engines_failed(self, engines: Any) -> ToolError:
        described = ", ".join(
            f"{engine[0]} ({engine[1]})" if isinstance(engine, list) and len(engine) > 1 else str(engine)
            for engine in (engines if isinstance(engines, list) else [engines])
        )
        return ToolError.from_template(
            UNAVAILABLE,
            gettext_noop("SearXNG found nothing because its search engines failed: %(engines)s"),
            retryable=True,
            engines=described,
        )
