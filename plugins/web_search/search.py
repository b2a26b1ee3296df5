"""The ``search`` tool and the settings check: the configured provider, then the optional page reads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, cast

from builder.engine.i18n import gettext_noop
from builder.sdk import CredentialCheck, PluginContext, ToolError
from plugins.web_search.models import Safesearch, SearchInput, SearchOutput
from plugins.web_search.pages import PageLimits, read_pages
from plugins.web_search.providers import Query, configured_provider

# What the settings check searches for: any query that every provider answers.
CHECK_QUERY: Final = "weather"
_SAFESEARCH: Final = ("off", "moderate", "strict")


async def search(data: SearchInput, ctx: PluginContext) -> SearchOutput:
    provider = configured_provider(ctx)
    query = Query(
        text=data.query,
        count=data.count,
        language=data.language,
        region=data.region,
        time_range=data.time_range,
        safesearch=_safesearch(ctx.config),
    )
    await ctx.progress(None, gettext_noop("Searching with %(provider)s") % {"provider": provider.label})
    results = await provider.search(query)
    if data.fetch_pages and results:
        pages = min(data.max_pages, len(results))

        async def reported(done: int, total: int) -> None:
            note = gettext_noop("Read %(done)s of %(total)s pages") % {"done": done, "total": total}
            await ctx.progress(50 + 50 * done / total, note)

        await ctx.progress(50, gettext_noop("Reading %(count)s pages") % {"count": pages})
        results = await read_pages(results, pages, page_limits(ctx.config), ctx, on_read=reported)
    await ctx.progress(100, gettext_noop("%(count)s results") % {"count": len(results)})
    return SearchOutput(query=data.query, provider=provider.name, results=results)


async def check_settings(ctx: PluginContext) -> CredentialCheck:
    """One real search with the settings in ``ctx``: do the address and the key work?"""
    try:
        provider = configured_provider(ctx)
        await provider.search(Query(text=CHECK_QUERY, count=1, safesearch=_safesearch(ctx.config)))
    except ToolError as error:
        return CredentialCheck(ok=False, message=error.message)
    message = gettext_noop("%(provider)s answered a test search: the settings work.") % {"provider": provider.label}
    return CredentialCheck(ok=True, message=message)


def page_limits(config: Mapping[str, Any]) -> PageLimits:
    return PageLimits(
        max_chars=int(config.get("page_max_chars") or 4000),
        max_bytes=int(config.get("page_max_bytes") or 2_000_000),
        timeout_s=float(config.get("page_timeout_s") or 10),
    )


def _safesearch(config: Mapping[str, Any]) -> Safesearch:
    value = config.get("safesearch")
    return cast(Safesearch, value) if value in _SAFESEARCH else "moderate"
