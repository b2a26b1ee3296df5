"""``"config:<field>"`` network permissions: the host of a URL the workspace configures, checked in
the manifest and resolved for each workspace when the plugin's HTTP client is built."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from builder.core.ssrf import SsrfSafeHttpClient
from builder.engine.runtime.contract import NodeError
from builder.pluginhost.manifest import Manifest, ManifestError, load_manifest
from builder.pluginhost.network import NOT_PERMITTED, permitted_hosts
from builder.sdk import ToolError
from builder.sdk.testing import PluginHarness
from tests.pluginhost.support import manifest, write_plugin
from tests.support.scripted_api import Reply, ScriptedApi

ENDPOINT_SCHEMA = {
    "type": "object",
    "properties": {
        "endpoint": {"type": "string", "default": "https://api.example.com"},
        "retries": {"type": "integer"},
    },
}
PERMISSIONS = {"network": ["cdn.example.com", "config:endpoint"]}


@pytest.fixture
def api() -> Iterator[ScriptedApi]:
    with ScriptedApi() as fake:
        fake.reply("GET", "/ping", Reply(json={"pong": True}))
        yield fake


def harness(tmp_path: Path, config: dict[str, Any], *, ssrf_allow: tuple[str, ...] = ("127.0.0.1",)) -> PluginHarness:
    """The plugin as a server runs it: no loopback added by the harness, only what the manifest
    allows, over the SSRF-safe client with the server's allow-list (``AGENTLOOM_HTTP_ALLOWLIST``)."""
    plugin = write_plugin(tmp_path, "endpoint_demo", config_schema=ENDPOINT_SCHEMA, permissions=PERMISSIONS)
    return PluginHarness(plugin, config=config, http=SsrfSafeHttpClient(allow=ssrf_allow), allow_hosts=())


def test_a_config_permission_names_a_string_field_of_the_settings() -> None:
    parsed = Manifest.model_validate(manifest("demo", config_schema=ENDPOINT_SCHEMA, permissions=PERMISSIONS))

    assert parsed.permissions.network == ["cdn.example.com", "config:endpoint"]
    assert parsed.permissions.config_hosts == ["endpoint"]


@pytest.mark.parametrize(
    ("network", "problem"),
    [
        (
            ["config:base_url"],
            'permissions: Value error, network: "config:base_url" names no property of config_schema',
        ),
        (["config:retries"], '"config:retries" names config_schema.properties.retries, which is not "type": "string"'),
        (["config:"], "permissions.network.0"),
        (["config:end point"], "permissions.network.0"),
    ],
)
def test_a_config_permission_without_its_string_field_is_refused(
    network: list[str], problem: str, tmp_path: Path
) -> None:
    path = tmp_path / "manifest.json"
    fields = {"config_schema": ENDPOINT_SCHEMA, "permissions": {"network": network}}
    path.write_text(json.dumps(manifest("demo", **fields)), encoding="utf-8")

    with pytest.raises(ManifestError) as caught:
        load_manifest(path)

    assert problem in str(caught.value)


def test_each_workspace_allows_the_host_of_its_own_url() -> None:
    network = ["cdn.example.com", "config:endpoint"]

    assert permitted_hosts(network, {"endpoint": "https://Search.Example.org:8443/v1"}) == [
        "cdn.example.com",
        "search.example.org",
    ]
    # Nothing set, not a URL, or a pattern in disguise: the fixed hosts only.
    for value in (None, "", "search.example.org", 42, "https://*.example.org/"):
        assert permitted_hosts(network, {"endpoint": value}) == ["cdn.example.com"]


async def test_the_configured_host_is_allowed_and_any_other_refused(tmp_path: Path, api: ScriptedApi) -> None:
    ctx = harness(tmp_path, {"endpoint": f"{api.url}/v1"}).context()

    response = await ctx.http.request("GET", f"{api.url}/ping")
    with pytest.raises(ToolError) as caught:
        await ctx.http.request("GET", f"http://localhost:{api.port}/ping")

    assert response.status_code == 200 and json.loads(response.body) == {"pong": True}
    assert caught.value.code == NOT_PERMITTED
    assert caught.value.details["host"] == "localhost"
    assert [request.path for request in api.requests] == ["/ping"]


async def test_another_workspace_s_url_does_not_open_this_one_s_host(tmp_path: Path, api: ScriptedApi) -> None:
    elsewhere = harness(tmp_path, {"endpoint": f"http://localhost:{api.port}"})
    # Without the setting, the schema's default (api.example.com) is the configured host.
    unset = elsewhere.context(config={})

    for ctx in (elsewhere.context(), unset):
        with pytest.raises(ToolError) as caught:
            await ctx.http.request("GET", f"{api.url}/ping")
        assert caught.value.code == NOT_PERMITTED
    assert api.requests == []


async def test_a_configured_private_address_still_needs_the_server_s_allow_list(
    tmp_path: Path, api: ScriptedApi
) -> None:
    ctx = harness(tmp_path, {"endpoint": api.url}, ssrf_allow=()).context()

    with pytest.raises(NodeError) as caught:
        await ctx.http.request("GET", f"{api.url}/ping")

    assert caught.value.code == "ssrf_blocked"
    assert api.requests == []


def test_the_built_in_video_plugin_names_its_base_url_settings_instead_of_any_host() -> None:
    parsed = load_manifest(Path(__file__).resolve().parents[2] / "plugins" / "video_generation" / "manifest.json")

    assert "*" not in parsed.permissions.network
    assert parsed.permissions.config_hosts == ["openai_base_url", "ark_base_url", "kling_base_url"]
