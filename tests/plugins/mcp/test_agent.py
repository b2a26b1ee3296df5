"""An agent calls a tool of an MCP server: the model sees the server's schema, the host starts the
server for the run's workspace and the answer goes back to the model."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Iterator

import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from builder.accounts.models import Workspace
from builder.core.ssrf import SsrfSafeHttpClient
from builder.engine.runtime.contract import NodeError, RuntimeServices
from builder.pluginhost.invoker import PluginToolInvoker
from builder.pluginhost.manager import PluginHost
from builder.pluginhost.services import plugin_configure, plugin_enable
from tests.engine.nodes.support import ServerModels, StubContext, run_node
from tests.factories import make_workspace, owner_of
from tests.plugins.mcp.conftest import http_server, stdio_server
from tests.support.fake_openai import FakeOpenAI, Reply, ToolCall
from tests.support.plugin_hosts import host_with

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def mcp_host() -> Iterator[PluginHost]:
    with host_with(importlib.import_module("plugins.mcp")) as host:
        yield host


@pytest.fixture(autouse=True)
async def _close_async_orm_connections() -> AsyncIterator[None]:
    """The invoker reads settings with the async ORM in asgiref's thread: close its connection."""
    yield
    await sync_to_async(connections.close_all)()


@pytest.fixture
def workspace(mcp_http_url: str) -> Workspace:
    workspace = make_workspace()
    owner = owner_of(workspace)
    servers = [stdio_server(), http_server(mcp_http_url)]
    plugin_configure(actor=owner, workspace=workspace, plugin_id="mcp", config={"servers": servers})
    plugin_enable(actor=owner, workspace=workspace, plugin_id="mcp")
    return workspace


def invoker(workspace: Workspace) -> PluginToolInvoker:
    return PluginToolInvoker(workspace_id=workspace.pk, run_id="run-1", http=SsrfSafeHttpClient(allow=["127.0.0.1"]))


async def test_an_agent_calls_mcp_tools(workspace: Workspace, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(
        [
            Reply(
                tool_calls=[
                    ToolCall("local__add", {"a": 19, "b": 23}, id="call-1"),
                    ToolCall("remote__echo", {"text": "bonjour"}, id="call-2"),
                ]
            ),
            Reply(text="19 + 23 = 42, and the remote server says bonjour."),
        ]
    )
    tools = invoker(workspace)
    ctx = StubContext(RuntimeServices(tools=tools, chat_models=ServerModels(fake_openai)), sys={"query": "19 + 23?"})
    config = {
        "model": {"provider": "fake", "name": "gpt-4o-mini"},
        "tools": [{"plugin": "mcp", "tool": "local__add"}, {"plugin": "mcp", "tool": "remote__echo"}],
    }

    result = await run_node("agent", config, ctx)

    functions = {tool["function"]["name"]: tool["function"] for tool in fake_openai.requests[0].tools}
    assert functions["local__add"]["description"] == "Add two numbers."
    assert functions["local__add"]["parameters"]["required"] == ["a", "b"]
    added, echoed = result.outputs["tool_calls"]
    assert added["result"] == {
        "text": "42.0",
        "content": [{"type": "text", "text": "42.0"}],
        "structured": {"result": 42.0},
    }
    assert echoed["result"]["text"] == "bonjour"
    assert result.outputs["text"] == "19 + 23 = 42, and the remote server says bonjour."


async def test_a_failing_mcp_tool_is_a_tool_error_for_the_run(workspace: Workspace) -> None:
    tools = invoker(workspace)

    with pytest.raises(NodeError) as failed:
        await tools.invoke("mcp", "local__fail", {"reason": "no"}, StubContext(RuntimeServices(tools=tools)))
    with pytest.raises(NodeError) as unknown:
        await tools.invoke("mcp", "local__teleport", {}, StubContext(RuntimeServices(tools=tools)))

    assert (failed.value.code, failed.value.details["tool"]) == ("mcp_tool_error", "local__fail")
    assert failed.value.message == "The fail tool of the MCP server local failed: Error executing tool fail: no"
    assert (unknown.value.code, unknown.value.message) == (
        "tool_not_found",
        "The mcp plugin has no tool local__teleport.",
    )
