"""builder.sdk.testing: what a plugin author's tests get (fixtures from tests/sdk/conftest.py, as a plugin's)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from builder.sdk import ToolError
from builder.sdk.testing import PluginHarness, PluginRefused, assert_plugin_contract, invoke_tool
from tests.pluginhost.example_plugin import VALID_KEY, EchoOutput
from tests.pluginhost.support import write_plugin
from tests.support.http_server import serve

EXAMPLE = "tests.pluginhost.example_plugin"


async def test_the_harness_invokes_tools_and_captures_progress(plugin_harness: Callable[..., PluginHarness]) -> None:
    harness = plugin_harness(EXAMPLE, config={"api_key": VALID_KEY})

    result = await harness.invoke("echo", {"text": "hi", "times": 2})

    assert result == EchoOutput(text="hi hi", region="eu")  # the schema's default region
    assert [(update.tool, update.percent, update.note) for update in harness.progress] == [
        ("echo", 50.0, "halfway"),
        ("echo", 100.0, "done"),
    ]
    assert await harness.invoke_json("needs_key") == {"text": "key ends with 3456", "region": "eu"}


async def test_fake_credentials_come_from_the_plugin_config_fixture(
    plugin_harness: Callable[..., PluginHarness],
) -> None:
    with pytest.raises(ToolError) as caught:
        await plugin_harness(EXAMPLE).invoke("needs_key")

    assert caught.value.code == "missing_credentials"


async def test_validate_config_answers_as_the_plugin_does(plugin_harness: Callable[..., PluginHarness]) -> None:
    harness = plugin_harness(EXAMPLE)

    good = await harness.validate_config({"api_key": VALID_KEY})
    bad = await harness.validate_config({"api_key": "nope"})

    assert good is not None and good.ok
    assert bad is not None and not bad.ok


async def test_tools_reach_a_fake_api_on_loopback_but_no_undeclared_host() -> None:
    harness = PluginHarness(EXAMPLE)

    with serve() as server:
        result = await harness.invoke_json("fetch", {"url": server.url("/status/204")})
    with pytest.raises(ToolError) as caught:
        await harness.invoke("fetch", {"url": "https://elsewhere.example.org/"})

    assert result == {"status": 204}
    assert caught.value.code == "network_not_permitted"
    assert "may not connect to elsewhere.example.org" in caught.value.message


async def test_one_call_in_one_line() -> None:
    result = await invoke_tool(EXAMPLE, "echo", {"text": "yo"})

    assert result.text == "yo"


def test_a_plugin_the_host_would_refuse_fails_the_test_with_the_reason(tmp_path: Path) -> None:
    module = write_plugin(tmp_path, "broken", provides={"tools": ["missing"]})

    with pytest.raises(PluginRefused, match=r"provides\.tools does not match"):
        PluginHarness(module)


def test_the_example_plugin_keeps_the_contract_every_plugin_keeps() -> None:
    plugin = assert_plugin_contract(EXAMPLE)

    assert plugin.id == "example" and "echo" in plugin.tools
