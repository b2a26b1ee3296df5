"""The SDK's harness for plugin authors, a scripted fake API, and the plugin set up against it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from builder.sdk.testing import PluginHarness, plugin_config, plugin_harness  # noqa: F401  (fixtures)
from tests.support.scripted_api import ScriptedApi

PLUGIN = "plugins.web_search"
KEYS = {"tavily": "tvly-test-0123456789", "brave": "BSA-test-0123456789", "bocha": "sk-bocha-0123456789"}


def provider_config(provider: str, api_url: str, **settings: Any) -> dict[str, Any]:
    """The plugin's settings for ``provider`` with its API at ``api_url`` (the fake)."""
    if provider == "searxng":
        return {"provider": provider, "searxng_url": api_url, **settings}
    return {"provider": provider, f"{provider}_api_key": KEYS[provider], f"{provider}_url": api_url, **settings}


@pytest.fixture
def api() -> Iterator[ScriptedApi]:
    fake = ScriptedApi()
    yield fake
    fake.close()


@pytest.fixture
def web_search(
    plugin_harness: Callable[..., PluginHarness],  # noqa: F811  (the fixture imported above)
    api: ScriptedApi,
) -> Callable[..., PluginHarness]:
    """``web_search("brave", safesearch="strict")``: the plugin, as the server loads it, using the fake."""

    def make(provider: str, **settings: Any) -> PluginHarness:
        return plugin_harness(PLUGIN, config=provider_config(provider, api.url, **settings))

    return make
