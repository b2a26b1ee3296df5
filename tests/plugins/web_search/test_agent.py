"""An agent node whose model calls ``search``: the workspace's settings, the host's invoker, a fake
search API and a fake OpenAI-compatible model, as in a real turn."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import pytest
from asgiref.sync import sync_to_async
from django.db import connections

import plugins.web_search
from builder.accounts.models import Workspace
from builder.core.ssrf import SsrfSafeHttpClient
from builder.engine.runtime.contract import RuntimeServices
from builder.pluginhost.invoker import PluginToolInvoker
from builder.pluginhost.manager import PluginHost
from builder.pluginhost.services import plugin_configure, plugin_enable
from tests.engine.nodes.support import ServerModels, StubContext, run_node
from tests.factories import make_workspace, owner_of
from tests.plugins.web_search.conftest import KEYS, provider_config
from tests.plugins.web_search.test_providers import BRAVE_ANSWER
from tests.support.fake_openai import FakeOpenAI, ToolCall
from tests.support.fake_openai import Reply as ModelReply
from tests.support.plugin_hosts import host_with
from tests.support.scripted_api import Reply, ScriptedApi

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("_web_search_host", "_close_async_orm_connections"),
]

AGENT = {"model": {"provider": "fake", "name": "gpt-4o-mini"}, "tools": [{"plugin": "web_search", "tool": "search"}]}


@pytest.fixture
def _web_search_host() -> Iterator[PluginHost]:
    """``get_host()`` answers with web_search loaded, as a server that discovered it."""
    with host_with(plugins.web_search) as host:
        yield host


@pytest.fixture
async def _close_async_orm_connections() -> AsyncIterator[None]:
    """The invoker reads settings with the async ORM in asgiref's worker thread; close its connection."""
    yield
    await sync_to_async(connections.close_all)()


@pytest.fixture
def workspace(api: ScriptedApi) -> Workspace:
    """A workspace with web_search enabled on Brave (the fake), its key stored encrypted."""
    workspace = make_workspace()
    owner = owner_of(workspace)
    plugin_configure(actor=owner, workspace=workspace, plugin_id="web_search", config=provider_config("brave", api.url))
    plugin_enable(actor=owner, workspace=workspace, plugin_id="web_search")
    return workspace


async def test_an_agent_searches_the_web_and_reads_normalised_results(
    workspace: Workspace, api: ScriptedApi, fake_openai: FakeOpenAI
) -> None:
    api.reply("GET", "/res/v1/web/search", Reply(json=BRAVE_ANSWER))
    fake_openai.script(
        [
            ModelReply(tool_calls=[ToolCall("search", {"query": "北京天气", "count": 1, "language": "zh"}, id="s1")]),
            ModelReply(text="北京今天晴，最高 21°C。"),
        ]
    )
    tools = PluginToolInvoker(workspace_id=workspace.pk, run_id="run-1", http=SsrfSafeHttpClient(allow=["127.0.0.1"]))
    ctx = StubContext(
        RuntimeServices(tools=tools, chat_models=ServerModels(fake_openai)), sys={"query": "北京天气怎么样？"}
    )

    result = await run_node("agent", AGENT, ctx)

    assert result.outputs["text"] == "北京今天晴，最高 21°C。"
    [call] = result.outputs["tool_calls"]
    assert call["result"]["results"] == [
        {
            "title": "北京天气预报",
            "url": "https://weather.example.cn/beijing",
            "snippet": "今天晴，最高 21°C。",
            "date": "2024-05-12T08:30:00",
            "source": "中国天气网",
            "provider": "brave",
            "page_text": None,
            "page_error": None,
        }
    ]
    # The real request went out with the workspace's (decrypted) key.
    [request] = api.requests
    assert request.headers["x-subscription-token"] == KEYS["brave"]
    assert (request.query["q"], request.query["count"], request.query["search_lang"]) == ("北京天气", "1", "zh-hans")
    # The model saw the tool's schema, then the normalised results as the tool's answer.
    first, second = fake_openai.requests
    [function] = [tool["function"] for tool in first.tools]
    assert function["name"] == "search"
    assert function["parameters"]["properties"]["time_range"]["anyOf"][0]["enum"] == ["day", "week", "month", "year"]
    [tool_message] = [message for message in second.messages if message["role"] == "tool"]
    assert json.loads(tool_message["content"])["results"][0]["source"] == "中国天气网"
    assert ctx.deltas_with("tool_progress") == ["web_search/search", "web_search/search"]


async def test_a_provider_error_reaches_the_model_as_the_tools_answer(
    workspace: Workspace, api: ScriptedApi, fake_openai: FakeOpenAI
) -> None:
    api.reply("GET", "/res/v1/web/search", Reply(429, {"type": "ErrorResponse", "error": {"detail": "Slow down"}}))
    fake_openai.script(
        [ModelReply(tool_calls=[ToolCall("search", {"query": "news"}, id="s1")]), ModelReply(text="Search is busy.")]
    )
    tools = PluginToolInvoker(workspace_id=workspace.pk, http=SsrfSafeHttpClient(allow=["127.0.0.1"]))
    ctx = StubContext(RuntimeServices(tools=tools, chat_models=ServerModels(fake_openai)), sys={"query": "news?"})

    result = await run_node("agent", AGENT, ctx)

    [call] = result.outputs["tool_calls"]
    assert call["error"] == (
        "Brave Search is limiting the rate of searches (HTTP 429: Slow down). Try again in a moment."
    )
    assert result.outputs["text"] == "Search is busy."
