"""web_search is installed and loaded like a third-party package: its entry point, the host's contract,
and settings checked against its manifest's schema."""

from __future__ import annotations

import json
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

import plugins.web_search
from builder.core.exceptions import ValidationFailed
from builder.pluginhost.configuration import validate_config
from builder.pluginhost.manager import PluginHost
from builder.sdk.markers import ENTRY_POINT_GROUP
from builder.sdk.testing import assert_plugin_contract
from plugins.web_search.providers import PROVIDERS
from tests.pluginhost.commands import manage

MANIFEST = Path(plugins.web_search.__file__).parent / "manifest.json"


def test_the_host_accepts_the_plugin() -> None:
    plugin = assert_plugin_contract("plugins.web_search")

    assert (plugin.id, list(plugin.tools)) == ("web_search", ["search"])
    assert plugin.manifest.secret_fields == ["tavily_api_key", "brave_api_key", "bocha_api_key"]


def test_the_host_finds_it_through_its_entry_point() -> None:
    [entry_point] = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == "web_search"]
    assert entry_point.value == "plugins.web_search"
    assert entry_point.dist is not None and entry_point.dist.name == "agentloom"

    host = PluginHost()
    plugin = host.load_entry_point(entry_point)

    assert plugin is not None, host.problems
    assert plugin.source == f"entry point web_search = plugins.web_search (agentloom {entry_point.dist.version})"
    assert plugin.module is plugins.web_search


def test_a_fresh_server_process_lists_it() -> None:
    output = manage("plugins", "list")

    assert "ok  web_search 1.0.0  Web search" in output
    assert "    from entry point web_search = plugins.web_search (agentloom " in output
    assert "    tool search (timeout 60 s)" in output


def test_the_settings_offer_exactly_the_providers_there_are() -> None:
    schema = json.loads(MANIFEST.read_text(encoding="utf-8"))["config_schema"]

    assert schema["properties"]["provider"]["enum"] == list(PROVIDERS)


@pytest.mark.parametrize(
    ("config", "missing"),
    [
        ({}, "provider"),
        ({"provider": "searxng"}, "searxng_url"),
        ({"provider": "tavily"}, "tavily_api_key"),
        ({"provider": "brave", "tavily_api_key": "k"}, "brave_api_key"),
        ({"provider": "bocha"}, "bocha_api_key"),
    ],
)
def test_the_chosen_providers_setting_is_required(config: dict[str, Any], missing: str) -> None:
    manifest = PluginHost().load(plugins.web_search)
    assert manifest is not None

    with pytest.raises(ValidationFailed) as caught:
        validate_config(manifest.manifest, config)

    assert list(caught.value.fields) == [missing]


def test_complete_settings_are_valid() -> None:
    plugin = PluginHost().load(plugins.web_search)
    assert plugin is not None

    validate_config(plugin.manifest, {"provider": "searxng", "searxng_url": "https://search.example.com"})
    validate_config(plugin.manifest, {"provider": "brave", "brave_api_key": "BSA-1", "page_max_chars": 1000})
    with pytest.raises(ValidationFailed) as caught:
        validate_config(plugin.manifest, {"provider": "searxng", "searxng_url": "search.example.com"})
    assert list(caught.value.fields) == ["searxng_url"]
