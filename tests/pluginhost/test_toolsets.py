"""Tool sets (``register_toolsets``): tools listed per workspace from its settings, cached per state
of the settings, run by the invoker like static tools, listed by the API; ``check_config`` refuses
settings before they are saved; secrets inside a list's named items."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from builder.accounts.models import Workspace
from builder.accounts.roles import Role
from builder.core.ssrf import SsrfSafeHttpClient
from builder.engine.runtime.contract import NodeError, RuntimeServices
from builder.pluginhost.contexts import plugin_context
from builder.pluginhost.invoker import PluginToolInvoker
from builder.pluginhost.manager import PluginHost
from builder.pluginhost.manifest import Manifest
from builder.pluginhost.services import plugin_configure, plugin_enable
from builder.pluginhost.toolsets import FAILED_TTL_S, ToolSetCache
from tests.engine.nodes.support import StubContext
from tests.factories import client_for, error_of, make_workspace, member, owner_of
from tests.pluginhost.support import manifest, write_plugin
from tests.support.plugin_hosts import host_with

WORDY_HOOKS = """
from pydantic import BaseModel

from builder.sdk import ListedTools, ToolError, ToolSet, ToolSpec, hookimpl, json_schema_model

listed = []


class Said(BaseModel):
    said: str


def word_tool(word):
    async def say(data, ctx):
        return Said(said=f"{word} x{data.model_dump()['times']}{ctx.config.get('suffix', '')}")

    schema = {"type": "object", "properties": {"times": {"type": "integer", "minimum": 1}}, "required": ["times"]}
    return ToolSpec(
        name=f"say_{word}", description=f"Says {word}.", input_model=json_schema_model(word, schema),
        output_model=Said, invoke=say,
    )


async def list_words(ctx):
    words = list(ctx.config.get("words", []))
    listed.append(words)
    if "boom" in words:
        raise ToolError("the word list is on fire")
    tools = [word_tool(word) for word in words if word != "partial"]
    if "partial" in words:
        return ListedTools(tools=tools, problems={"down": "the down source does not answer"})
    return tools


@hookimpl
def register_toolsets():
    return [ToolSet(name="words", description="A tool per word.", list_tools=list_words, cache_ttl_s=60)]


@hookimpl
def check_config(plugin_id, config):
    if plugin_id != "wordy":
        return None
    if "forbidden" in config.get("words", []):
        return {"words": ["No forbidden words."]}
    return None
"""

WORDY_SCHEMA = {
    "type": "object",
    "properties": {
        "words": {"type": "array", "items": {"type": "string", "pattern": "^[a-z]+$"}},
        "suffix": {"type": "string"},
    },
}


def wordy(tmp_path: Path) -> ModuleType:
    return write_plugin(
        tmp_path, "wordy", hooks=WORDY_HOOKS, provides={"toolsets": ["words"]}, config_schema=WORDY_SCHEMA
    )


@pytest.fixture
def wordy_host(tmp_path: Path) -> Iterator[PluginHost]:
    with host_with(wordy(tmp_path)) as host:
        yield host


def test_a_tool_set_must_be_in_the_manifest(tmp_path: Path) -> None:
    host = PluginHost()

    host.load(write_plugin(tmp_path, "wordy", hooks=WORDY_HOOKS, provides={}, config_schema=WORDY_SCHEMA))

    assert host.problems["wordy"].message == (
        "manifest.json provides.toolsets does not match what register_toolsets registers: "
        "listed but not registered: none; registered but not listed: words"
    )


async def test_the_list_is_cached_per_state_of_the_settings(wordy_host: PluginHost) -> None:
    plugin = wordy_host.plugins["wordy"]
    now = [1000.0]
    cache = ToolSetCache(clock=lambda: now[0])

    def ctx(**config: Any) -> Any:
        return plugin_context(plugin, config=config, http=SsrfSafeHttpClient())

    first = await cache.listing(plugin, ctx(words=["hi", "yo"]))
    again = await cache.listing(plugin, ctx(words=["hi", "yo"]))
    changed = await cache.listing(plugin, ctx(words=["hi"]))
    now[0] += 61
    expired = await cache.listing(plugin, ctx(words=["hi"]))
    failing = [await cache.listing(plugin, ctx(words=["boom"])) for _ in range(2)]
    now[0] += FAILED_TTL_S + 1
    await cache.listing(plugin, ctx(words=["boom"]))

    assert list(first.tools) == ["say_hi", "say_yo"] and again.tools == first.tools
    assert list(changed.tools) == list(expired.tools) == ["say_hi"]
    assert plugin.module.listed == [["hi", "yo"], ["hi"], ["hi"], ["boom"], ["boom"]]
    [problem] = failing[0].problems
    assert (problem.toolset, problem.source, problem.error.code) == ("words", "", "toolset_unavailable")
    assert problem.error.message == "The words tools of the wordy plugin cannot be listed: the word list is on fire"


@pytest.mark.django_db(transaction=True)
class TestInvoker:
    @pytest.fixture(autouse=True)
    async def _close_async_orm_connections(self) -> AsyncIterator[None]:
        yield
        await sync_to_async(connections.close_all)()

    @pytest.fixture
    def workspace(self, wordy_host: PluginHost) -> Workspace:
        workspace = make_workspace()
        owner = owner_of(workspace)
        config = {"words": ["hello", "partial"], "suffix": "!"}
        plugin_configure(actor=owner, workspace=workspace, plugin_id="wordy", config=config)
        plugin_enable(actor=owner, workspace=workspace, plugin_id="wordy")
        return workspace

    @staticmethod
    def invoker(workspace: Any) -> PluginToolInvoker:
        return PluginToolInvoker(workspace_id=getattr(workspace, "pk", workspace), http=SsrfSafeHttpClient())

    async def test_a_listed_tool_runs_with_the_workspace_s_settings(self, workspace: Workspace) -> None:
        tools = self.invoker(workspace)

        said = await tools.invoke("wordy", "say_hello", {"times": 2}, StubContext(RuntimeServices(tools=tools)))
        described = await tools.describe("wordy", "say_hello")

        assert said == {"said": "hello x2!"}
        assert described == {
            "name": "say_hello",
            "description": "Says hello.",
            "input_schema": {
                "type": "object",
                "properties": {"times": {"type": "integer", "minimum": 1}},
                "required": ["times"],
            },
        }

    async def test_what_cannot_be_run_is_a_typed_error(self, workspace: Workspace) -> None:
        other = await sync_to_async(make_workspace)(name="Other")
        tools = self.invoker(workspace)
        ctx = StubContext(RuntimeServices(tools=tools))

        with pytest.raises(NodeError) as invalid:
            await tools.invoke("wordy", "say_hello", {"times": 0}, ctx)
        with pytest.raises(NodeError) as down:
            await tools.invoke("wordy", "down__say_it", {}, ctx)
        with pytest.raises(NodeError) as disabled:
            await self.invoker(other).invoke("wordy", "say_hello", {"times": 1}, ctx)

        assert invalid.value.code == "invalid_tool_input"
        assert invalid.value.message == "Invalid input for the say_hello tool: times: 0 is less than the minimum of 1"
        assert (down.value.code, down.value.retryable) == ("toolset_unavailable", True)
        assert (
            down.value.message == "The down tools of the wordy plugin cannot be listed: the down source does not answer"
        )
        assert down.value.details["template"].startswith("The %(toolset)s tools of the %(plugin)s plugin")
        assert disabled.value.code == "plugin_disabled"
        assert await self.invoker(other).describe("wordy", "say_hello") is None

    async def test_the_api_lists_a_workspace_s_tools(self, workspace: Workspace) -> None:
        client = await sync_to_async(lambda: client_for(member(workspace, Role.VIEWER)))()

        response = await sync_to_async(client.get)(f"/api/v1/workspaces/{workspace.pk}/plugins/wordy/tools")

        assert response.status_code == 200, response.json()
        [tool] = response.json()["tools"]
        assert (tool["name"], tool["title"], tool["input_schema"]["required"]) == ("say_hello", "Say hello", ["times"])
        assert response.json()["problems"] == [
            {
                "toolset": "words",
                "source": "down",
                "code": "toolset_unavailable",
                "message": "The down tools of the wordy plugin cannot be listed: the down source does not answer",
            }
        ]


@pytest.mark.django_db
def test_check_config_refuses_settings_before_they_are_saved(wordy_host: PluginHost) -> None:
    workspace = make_workspace()
    client = client_for(member(workspace, Role.ADMIN))

    response = client.put(
        f"/api/v1/workspaces/{workspace.pk}/plugins/wordy/config", {"config": {"words": ["forbidden"]}}, format="json"
    )

    assert response.status_code == 400
    assert error_of(response) == {
        "code": "invalid",
        "message": "The plugin's settings are invalid.",
        "fields": {"words": ["No forbidden words."]},
    }


KEYED = {
    "type": "object",
    "properties": {
        "accounts": {
            "type": "array",
            "items": {
                "type": "object",
                "x-key": "name",
                "required": ["name"],
                "properties": {"name": {"type": "string"}, "key": {"type": "string", "x-secret": True}},
            },
        }
    },
}


def test_secrets_inside_a_list_need_named_items() -> None:
    unnamed = {
        "type": "object",
        "properties": {
            "accounts": {
                "type": "array",
                "items": {"type": "object", "properties": {"key": {"type": "string", "x-secret": True}}},
            }
        },
    }
    deeper = {
        "type": "object",
        "properties": {
            "accounts": {
                "type": "array",
                "items": {
                    "type": "object",
                    "x-key": "name",
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string"},
                        "auth": {"type": "object", "properties": {"key": {"type": "string", "x-secret": True}}},
                    },
                },
            }
        },
    }

    parsed = Manifest.model_validate(manifest("keyed", config_schema=KEYED))

    with pytest.raises(ValueError, match='a list whose items have "x-secret" fields names each item'):
        Manifest.model_validate(manifest("keyed", config_schema=unnamed))
    with pytest.raises(ValueError, match=r"not at accounts\.items\.properties\.auth\.properties\.key\.x-secret"):
        Manifest.model_validate(manifest("keyed", config_schema=deeper))
    values = {"accounts": [{"name": "work", "key": "k-1"}, {"name": "home"}], "other": 1}
    assert [(slot.key, slot.where) for slot in parsed.secret_slots(values)] == [
        ("accounts[work].key", "accounts.0.key"),
        ("accounts[home].key", "accounts.1.key"),
    ]
