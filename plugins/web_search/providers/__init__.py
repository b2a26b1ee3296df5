"""The search providers, by the name the ``provider`` setting uses. Adding one: a module with a
``Provider`` subclass, listed here and in the manifest's ``provider`` enum (a test checks both)."""

from __future__ import annotations

from typing import Final

from builder.engine.i18n import gettext_noop
from builder.sdk import PluginContext
from plugins.web_search.errors import not_configured
from plugins.web_search.providers.base import Provider, Query
from plugins.web_search.providers.bocha import BochaProvider
from plugins.web_search.providers.brave import BraveProvider
from plugins.web_search.providers.searxng import SearxngProvider
from plugins.web_search.providers.tavily import TavilyProvider

PROVIDERS: Final[dict[str, type[Provider]]] = {
    provider.name: provider for provider in (SearxngProvider, TavilyProvider, BraveProvider, BochaProvider)
}


def configured_provider(ctx: PluginContext) -> Provider:
    """The provider the workspace chose in the plugin's settings."""
    name = ctx.credential("provider")
    provider = PROVIDERS.get(name)
    if provider is None:
        raise not_configured(
            gettext_noop("Unknown search provider %(provider)s: choose one of %(choices)s in the settings."),
            provider=name,
            choices=", ".join(PROVIDERS),
        )
    return provider(ctx)


__all__ = ["PROVIDERS", "Provider", "Query", "configured_provider"]
