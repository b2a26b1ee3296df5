"""The MCP plugin against a real MCP server: listed with the server's schemas, called over stdio and
streamable HTTP, errors and timeouts as tool errors, one connection reused and closed cleanly."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import LazySettings

from builder.core.ssrf import SsrfSafeHttpClient
from builder.sdk import ToolError
from builder.sdk.testing import PluginHarness, assert_plugin_contract
from plugins.mcp import connections
from tests.plugins.mcp.conftest import PLUGIN, http_server, stdio_server

Harness = Callable[..., PluginHarness]


def test_the_host_accepts_the_plugin() -> None:
    plugin = assert_plugin_contract(PLUGIN)

    assert list(plugin.toolsets) == ["servers"] and plugin.tools == {}


async def test_a_stdio_server_s_tools_are_listed_with_its_schemas(plugin_harness: Harness) -> None:
    harness = plugin_harness(PLUGIN, config={"servers": [stdio_server()]})

    tools = await harness.listed_tools()

    assert sorted(tools) == [
        "local__add",
        "local__echo",
        "local__fail",
        "local__picture",
        "local__slow",
        "local__whoami",
    ]
    add = tools["local__add"]
    assert add.description == "Add two numbers."
    assert add.input_schema()["required"] == ["a", "b"]
    assert add.input_schema()["properties"]["a"]["type"] == "number"


async def test_calls_over_stdio_share_one_process_and_get_its_environment(plugin_harness: Harness) -> None:
    harness = plugin_harness(PLUGIN, config={"servers": [stdio_server(secret_env="# the key\nTOKEN=tok-0123456789\n")]})

    added = await harness.invoke_json("local__add", {"a": 2, "b": 3.5})
    first = await harness.invoke_json("local__whoami")
    second = await harness.invoke_json("local__whoami")

    assert added["text"] == "5.5" and added["structured"] == {"result": 5.5}
    assert added["content"] == [{"type": "text", "text": "5.5"}]
    assert first["text"] == second["text"]  # the same process: the connection is reused
    assert "greeting=hello" in first["text"] and "token=tok-0123456789" in first["text"]
    assert f"pid={os.getpid()}" not in first["text"]


async def test_secret_variables_are_masked_in_messages(plugin_harness: Harness) -> None:
    secret_env = "TOKEN=tok-0123456789\nREGION=eu-west"
    harness = plugin_harness(PLUGIN, config={"servers": [stdio_server(secret_env=secret_env)]})

    with pytest.raises(ToolError) as failed:
        await harness.invoke("local__fail", {"reason": "bad token tok-0123456789"})

    assert failed.value.message.endswith("bad token [redacted]")


async def test_the_server_process_does_not_inherit_the_server_s_secrets(
    plugin_harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKEN", "the-server-own-secret")
    harness = plugin_harness(PLUGIN, config={"servers": [stdio_server()]})

    whoami = await harness.invoke_json("local__whoami")

    assert "the-server-own-secret" not in whoami["text"]


async def test_an_error_result_a_bad_input_and_a_timeout_are_tool_errors(plugin_harness: Harness) -> None:
    harness = plugin_harness(PLUGIN, config={"servers": [stdio_server(timeout_s=0.5)]})

    with pytest.raises(ToolError) as failed:
        await harness.invoke("local__fail", {"reason": "out of paper"})
    with pytest.raises(ToolError) as invalid:
        await harness.invoke("local__add", {"a": "two"})
    with pytest.raises(ToolError) as slow:
        await harness.invoke("local__slow", {"seconds": 5})
    still_there = await harness.invoke_json("local__echo", {"text": "still here"})

    assert failed.value.code == "mcp_tool_error"
    assert (
        failed.value.message == "The fail tool of the MCP server local failed: Error executing tool fail: out of paper"
    )
    assert invalid.value.code == "invalid_tool_input"
    assert "a: 'two' is not of type 'number'" in invalid.value.message
    assert (slow.value.code, slow.value.retryable) == ("tool_timeout", True)
    assert slow.value.message == "The slow tool of the MCP server local did not answer within 0.5 seconds."
    assert still_there["text"] == "still here"


async def test_images_and_links_are_references(plugin_harness: Harness) -> None:
    harness = plugin_harness(PLUGIN, config={"servers": [stdio_server()]})

    picture = await harness.invoke_json("local__picture")

    assert picture["text"] == "A very small picture."
    assert picture["content"][1:] == [
        {"type": "image", "mime_type": "image/png", "bytes": 64},
        {
            "type": "resource_link",
            "uri": "https://example.com/pixel.png",
            "name": "pixel.png",
            "mime_type": "image/png",
        },
    ]


async def test_a_crashed_server_is_started_again(plugin_harness: Harness) -> None:
    harness = plugin_harness(PLUGIN, config={"servers": [stdio_server()]})
    before = (await harness.invoke_json("local__whoami"))["text"]
    [connection] = connections.pool().connections.values()
    pid = pid_of(before)
    os.kill(pid, 9)
    await asyncio.sleep(0.3)

    after = (await harness.invoke_json("local__whoami"))["text"]

    assert after != before and after.startswith("pid=")
    assert not connection.alive


async def test_connections_close_cleanly(plugin_harness: Harness) -> None:
    harness = plugin_harness(PLUGIN, config={"servers": [stdio_server()]})
    pid = pid_of((await harness.invoke_json("local__whoami"))["text"])

    await connections.close_all()

    assert connections.pool().connections == {}
    assert await exited(pid)


async def exited(pid: int) -> bool:
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        await asyncio.sleep(0.1)
    return False


async def test_the_pool_closes_the_least_recently_used_and_idle_connections(
    plugin_harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connections, "MAX_CONNECTIONS", 1)
    config = {"servers": [stdio_server("one"), stdio_server("two", env={"GREETING": "other"})]}
    harness = plugin_harness(PLUGIN, config=config)
    one = (await harness.invoke_json("one__whoami"))["text"]

    two = (await harness.invoke_json("two__whoami"))["text"]
    monkeypatch.setattr(connections, "IDLE_CLOSE_S", 0.0)
    again = (await harness.invoke_json("two__whoami"))["text"]

    assert "greeting=other" in two and len(connections.pool().connections) == 1
    assert await exited(pid_of(one))
    assert await exited(pid_of(two)) and again != two  # idle past the limit: closed, then opened again


def pid_of(whoami: str) -> int:
    return int(whoami.split()[0].removeprefix("pid="))


async def test_a_streamable_http_server(plugin_harness: Harness, mcp_http_url: str) -> None:
    harness = plugin_harness(PLUGIN, config={"servers": [http_server(mcp_http_url, bearer_token="tok-abcdef1234")]})

    tools = await harness.listed_tools()
    echoed = await harness.invoke_json("remote__echo", {"text": "over HTTP"})
    with pytest.raises(ToolError) as failed:
        await harness.invoke("remote__fail", {})

    assert "remote__add" in tools and tools["remote__add"].input_schema()["required"] == ["a", "b"]
    assert echoed["text"] == "over HTTP"
    assert failed.value.code == "mcp_tool_error"


async def test_the_http_server_s_address_goes_through_the_ssrf_policy(
    plugin_harness: Harness, mcp_http_url: str
) -> None:
    """A server (unlike the harness) allows no loopback address: the MCP SDK's own HTTP client is
    held to the same policy as ``ctx.http``."""
    harness = plugin_harness(PLUGIN, config={"servers": [http_server(mcp_http_url)]}, http=SsrfSafeHttpClient())

    with pytest.raises(ToolError) as refused:
        await harness.listed_tools()

    assert refused.value.code == "toolset_unavailable"
    assert "Requests to 127.0.0.1 are not allowed: it is not a public address." in refused.value.message


async def test_several_servers_and_one_down(plugin_harness: Harness, mcp_http_url: str, unused_tcp_port: int) -> None:
    config = {
        "servers": [
            stdio_server("local", tools=["add", "echo"]),
            http_server(mcp_http_url),
            http_server(f"http://127.0.0.1:{unused_tcp_port}/mcp", name="down"),
        ]
    }
    harness = plugin_harness(PLUGIN, config=config)

    listing = await harness.host.toolset_cache.listing(harness.plugin, harness.context(config=config))

    assert sorted(name for name in listing.tools if name.startswith("local__")) == ["local__add", "local__echo"]
    assert "remote__whoami" in listing.tools
    [problem] = listing.problems
    assert (problem.toolset, problem.source, problem.error.code) == ("servers", "down", "toolset_unavailable")
    assert problem.error.message.startswith("The down tools of the mcp plugin cannot be listed: The MCP server down")
    assert listing.problem_for("down__echo") is problem


async def test_stdio_is_refused_where_the_server_does_not_allow_it(
    plugin_harness: Harness, settings: LazySettings
) -> None:
    settings.AGENTLOOM_MCP_ALLOW_STDIO = False
    harness = plugin_harness(PLUGIN, config={"servers": [stdio_server()]})

    with pytest.raises(ToolError) as refused:
        await harness.listed_tools()
    problems = harness.host.check_config("mcp", {"servers": [stdio_server()]})

    assert "AGENTLOOM_MCP_ALLOW_STDIO is off" in refused.value.message
    assert list(problems) == ["servers.0.transport"]


def test_settings_are_checked_before_they_are_saved(plugin_harness: Harness) -> None:
    host = plugin_harness(PLUGIN).host
    config: dict[str, Any] = {
        "servers": [
            {"name": "a", "transport": "http", "url": "ftp://files.example.com"},
            {"name": "b", "transport": "stdio", "command": " ", "secret_env": "TOKEN=1\nnot a variable"},
            stdio_server("c"),
        ]
    }

    assert host.check_config("mcp", config) == {
        "servers.0.url": ["Enter the server's http:// or https:// URL."],
        "servers.1.command": ["Enter the command that starts the server."],
        "servers.1.secret_env": ["Line 2 is not NAME=value."],
    }


async def test_the_test_button_lists_each_server(plugin_harness: Harness, mcp_http_url: str) -> None:
    harness = plugin_harness(PLUGIN, config={"servers": [stdio_server(), http_server(mcp_http_url)]})

    check = await harness.validate_config()

    assert check is not None and check.ok
    assert check.message == (
        "local: 6 tools (add, echo, whoami, fail, slow…). remote: 6 tools (add, echo, whoami, fail, slow…)."
    )
