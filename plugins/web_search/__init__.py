"""Web search: one ``search`` tool over a self-hosted SearXNG, Tavily, Brave Search or Bocha,
with results in one shape and, on request, the readable text of the top pages (README.md).

A built-in plugin shaped exactly like a third-party package: these hooks, ``manifest.json`` next
to them, and the entry point ``web_search = "plugins.web_search"`` in Agentloom's pyproject.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any, Final

from builder.sdk import CredentialCheck, PluginContext, ToolSpec, hookimpl
from plugins.web_search.models import SearchInput, SearchOutput
from plugins.web_search.search import check_settings, search

PLUGIN_ID: Final = "web_search"


@hookimpl
def register_tools() -> list[ToolSpec[Any, Any]]:
    return [
        ToolSpec(
            name="search",
            title="Web search",
            description=(
                "Search the web. Returns the top results with title, URL, snippet, date and site. Use it for "
                "recent events and facts you are not sure of; set fetch_pages to also read the top pages' text."
            ),
            input_model=SearchInput,
            output_model=SearchOutput,
            invoke=search,
            timeout_s=60,
        )
    ]


@hookimpl
def validate_config(plugin_id: str, config: Mapping[str, Any], ctx: PluginContext) -> Awaitable[CredentialCheck] | None:
    """The settings form's Test button: a real search with the chosen provider."""
    if plugin_id != PLUGIN_ID:
        return None
    return check_settings(ctx)
