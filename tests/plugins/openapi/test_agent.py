"""An agent calls an imported operation: the model sees the operation's schema, the call reaches the
API with the workspace's key, and the answer goes back to the model."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Iterator

import pytest
from asgiref.sync import sync_to_async
from django.conf import LazySettings
from django.db import connections

from builder.accounts.models import Workspace
from builder.core.ssrf import SsrfSafeHttpClient
from builder.engine.runtime.contract import RuntimeServices
from builder.pluginhost.invoker import PluginToolInvoker
from builder.pluginhost.manager import PluginHost
from builder.pluginhost.services import plugin_configure, plugin_enable
from tests.engine.nodes.support import ServerModels, StubContext, run_node
from tests.factories import make_workspace, owner_of
from tests.plugins.openapi.conftest import source
from tests.plugins.openapi.fake_petstore import API_KEY, FakePetstore
from tests.support.fake_openai import FakeOpenAI, Reply, ToolCall
from tests.support.plugin_hosts import host_with

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def openapi_host(settings: LazySettings) -> Iterator[PluginHost]:
    settings.AGENTLOOM_HTTP_ALLOWLIST = ["127.0.0.1"]
    with host_with(importlib.import_module("plugins.openapi")) as host:
        yield host


@pytest.fixture(autouse=True)
async def _close_async_orm_connections() -> AsyncIterator[None]:
    """The invoker reads settings with the async ORM in asgiref's thread: close its connection."""
    yield
    await sync_to_async(connections.close_all)()


@pytest.fixture
def workspace(api: FakePetstore) -> Workspace:
    workspace = make_workspace()
    owner = owner_of(workspace)
    petstore = source(spec_url=f"{api.url}/specs/petstore.yaml", auth="api_key", secret=API_KEY)
    plugin_configure(actor=owner, workspace=workspace, plugin_id="openapi", config={"sources": [petstore]})
    plugin_enable(actor=owner, workspace=workspace, plugin_id="openapi")
    return workspace


async def test_an_agent_calls_an_imported_operation(
    workspace: Workspace, api: FakePetstore, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(
        [
            Reply(tool_calls=[ToolCall("petstore__get_pet_by_id", {"petId": 10}, id="call-1")]),
            Reply(text="Pet 10, doggie, is available."),
        ]
    )
    tools = PluginToolInvoker(workspace_id=workspace.pk, run_id="run-1", http=SsrfSafeHttpClient(allow=["127.0.0.1"]))
    ctx = StubContext(
        RuntimeServices(tools=tools, chat_models=ServerModels(fake_openai)), sys={"query": "Is pet 10 available?"}
    )
    config = {
        "model": {"provider": "fake", "name": "gpt-4o-mini"},
        "tools": [{"plugin": "openapi", "tool": "petstore__get_pet_by_id"}],
    }

    result = await run_node("agent", config, ctx)

    [function] = [tool["function"] for tool in fake_openai.requests[0].tools]
    assert function["name"] == "petstore__get_pet_by_id"
    assert function["description"] == "Find pet by ID.\n\nReturns a single pet."
    assert function["parameters"]["properties"]["petId"] == {
        "type": "integer",
        "format": "int64",
        "description": "ID of pet to return",
    }
    [call] = result.outputs["tool_calls"]
    assert call["result"] == {
        "status": 200,
        "data": {"id": 10, "name": "doggie", "photoUrls": [], "status": "available"},
    }
    [request] = api.api_calls()
    assert (request.path, request.headers["api_key"]) == ("/api/v3/pet/10", API_KEY)
    assert "doggie" in fake_openai.requests[1].messages[-1]["content"]
    assert result.outputs["text"] == "Pet 10, doggie, is available."
