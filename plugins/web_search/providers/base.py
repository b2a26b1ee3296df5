"""What every search provider shares: its settings, one HTTP call through ``ctx.http`` with its
failures turned into the plugin's tool errors, and the result shape."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Final

from builder.engine.i18n import gettext_noop
from builder.engine.runtime.contract import NodeError
from builder.sdk import HttpResponse, PluginContext, ToolError
from plugins.web_search.errors import (
    bad_response,
    code_for_status,
    not_configured,
    provider_message,
    status_error,
    unreachable,
)
from plugins.web_search.models import Safesearch, SearchResult, TimeRange
from plugins.web_search.normalise import http_url, iso_date, plain_text, site_of

SEARCH_TIMEOUT_S: Final = 20.0


@dataclass(frozen=True)
class Query:
    text: str
    count: int
    language: str | None = None
    region: str | None = None
    time_range: TimeRange | None = None
    safesearch: Safesearch = "moderate"


class Provider(ABC):
    """One search API. A subclass sets its names and settings and implements ``search``; it
    overrides ``problem`` only where its API reports errors unlike plain HTTP statuses."""

    name: ClassVar[str]  # what the settings and results call it: "tavily"
    label: ClassVar[str]  # what messages call it: "Tavily"
    url_setting: ClassVar[str]  # the setting with the API's base URL
    key_setting: ClassVar[str | None] = None  # the setting with the API key, if it needs one

    def __init__(self, ctx: PluginContext) -> None:
        self.ctx = ctx

    @abstractmethod
    async def search(self, query: Query) -> list[SearchResult]:
        """The provider's results for ``query``, at most ``query.count``, best first."""

    # --- for subclasses -----------------------------------------------------------------------
    def api_key(self) -> str:
        assert self.key_setting is not None
        return self.ctx.credential(self.key_setting)

    def base_url(self) -> str:
        configured = self.ctx.credential(self.url_setting).strip().rstrip("/")
        if http_url(configured) is None:
            raise not_configured(
                gettext_noop(
                    "The %(provider)s address %(url)s is not an http or https URL: correct it in the settings."
                ),
                provider=self.label,
                url=configured,
            )
        return configured

    async def call(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str],
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
    ) -> Any:
        """Call the API at ``path`` (under its base URL) and return the decoded JSON of a good answer."""
        url = self.base_url() + path
        try:
            response = await self.ctx.http.request(
                method, url, headers=headers, params=params, json=json_body, timeout_s=SEARCH_TIMEOUT_S
            )
        except NodeError as error:  # ctx.http's own failures: unreachable, timed out, refused by the SSRF check
            raise self._transport_error(url, error) from None
        problem = self.problem(response)
        if problem is not None:
            raise problem
        return self.decoded(response)

    def problem(self, response: HttpResponse) -> ToolError | None:
        """The error an answer means, by its HTTP status (None for a good one)."""
        code = code_for_status(response.status_code)
        if code is None:
            return None
        return status_error(code, self.label, response.status_code, provider_message(json_or_none(response)))

    def decoded(self, response: HttpResponse) -> Any:
        try:
            return json.loads(response.body)
        except ValueError:
            content_type = response.headers.get("content-type", "") or "no content type"
            raise bad_response(self.label, f"it is not JSON ({content_type.split(';')[0]})") from None

    def result(
        self, *, title: Any, url: Any, snippet: Any, date: Any = None, source: Any = None
    ) -> SearchResult | None:
        """One normalised result; None when the provider's item has no usable URL."""
        address = http_url(url)
        if address is None:
            return None
        site = plain_text(source, limit=200) or site_of(address)
        return SearchResult(
            title=plain_text(title, limit=300) or site,
            url=address,
            snippet=plain_text(snippet),
            date=iso_date(date),
            source=site,
            provider=self.name,
        )

    def results(
        self, items: Any, count: int, describe: Callable[[dict[str, Any]], SearchResult | None]
    ) -> list[SearchResult]:
        """``describe(item)`` for each item of the provider's list (``bad_response`` unless it is a
        list of objects), at most ``count``: without items that have no URL, and without a page met
        before (metasearch engines list a page once per engine that found it)."""
        if not isinstance(items, list):
            raise bad_response(self.label, "the results are missing")
        found: dict[str, SearchResult] = {}
        for item in items:
            if not isinstance(item, dict):
                raise bad_response(self.label, "a result is not an object")
            result = describe(item)
            if result is not None and result.url not in found:
                found[result.url] = result
            if len(found) == count:
                break
        return list(found.values())

    # --- internals ----------------------------------------------------------------------------
    def _transport_error(self, url: str, error: NodeError) -> ToolError:
        if error.code in ("http_error", "http_timeout"):
            return unreachable(self.label, url, error.message)
        if error.code == "ssrf_blocked":
            return ToolError.from_template(
                "ssrf_blocked",
                gettext_noop(
                    "%(provider)s at %(url)s is on a private or local network, which this server only reaches "
                    "when its operator lists the host in AGENTLOOM_HTTP_ALLOWLIST."
                ),
                provider=self.label,
                url=url,
            )
        if error.code == "invalid_url":
            return not_configured(
                gettext_noop("The %(provider)s address %(url)s is not a valid URL: correct it in the settings."),
                provider=self.label,
                url=url,
            )
        if error.code == "response_too_large":
            return bad_response(self.label, error.message)
        return ToolError(error.message, code=error.code, retryable=error.retryable, details=error.details)


def json_or_none(response: HttpResponse) -> Any:
    try:
        return json.loads(response.body)
    except ValueError:
        return None
