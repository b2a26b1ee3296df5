"""Testing a plugin without a server: a pytest fixture module for plugin authors.

It is an importable fixture module, not an auto-loaded pytest plugin (nothing is registered under
``pytest11``): a plugin's ``tests/conftest.py`` opts in with one line,

    pytest_plugins = ["builder.sdk.testing"]

and its tests get ``plugin_harness`` (and ``plugin_config``, to override with fake credentials).
The harness loads the plugin through the host's own loader, so a test fails on exactly what would
keep the plugin off a server: a bad manifest, ``provides`` not matching the hooks, a missing
permission. Tools run through the host's own call path (input validation, timeout, output check,
errors as ``ToolError``), with fake credentials, progress captured in ``harness.progress``, and
the SSRF-safe HTTP client allowed to reach 127.0.0.1 (where a test's fake API server listens).

    async def test_greets(plugin_harness):
        harness = plugin_harness("agentloom_hello", config={"api_key": "test-key"})
        result = await harness.invoke("greet", {"name": "Ada"})
        assert result.greeting == "Hello, Ada!"
        assert harness.progress[-1].percent == 100
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Final

import pytest
from pydantic import BaseModel

from builder.core.ssrf import SsrfSafeHttpClient
from builder.engine.runtime.contract import HttpClient
from builder.pluginhost.contexts import plugin_context
from builder.pluginhost.manager import LoadedPlugin, PluginHost
from builder.sdk.context import CredentialCheck, PluginContext
from builder.sdk.execution import check_output, run_cancel, run_poll, run_tool
from builder.sdk.jobs import JobStatus
from builder.sdk.langchain import to_langchain_tool
from builder.sdk.tools import JobHandle, ToolSpec

LOOPBACK: Final = ("127.0.0.1", "localhost", "::1")


class PluginRefused(AssertionError):
    """The host would not load the plugin; the message says why (as ``plugins validate`` does)."""


@dataclass(frozen=True)
class ProgressUpdate:
    tool: str
    percent: float | None
    note: str


class PluginHarness:
    """One plugin, loaded the way the server loads it, with fake credentials.

    ``plugin``: the module or its import name (the module the entry point names). ``config``: the
    workspace settings to pretend (secrets in clear). ``http``: the client tools get; by default
    the real SSRF-safe client with loopback allowed, so tests talk to fake servers on 127.0.0.1.
    """

    def __init__(
        self,
        plugin: str | ModuleType,
        *,
        config: Mapping[str, Any] | None = None,
        http: HttpClient | None = None,
        allow_hosts: Sequence[str] = LOOPBACK,
    ) -> None:
        module = importlib.import_module(plugin) if isinstance(plugin, str) else plugin
        self.host = PluginHost()
        loaded = self.host.load(module)
        if loaded is None:
            problem = next(iter(self.host.problems.values()))
            raise PluginRefused(f"the host refuses the plugin {problem.plugin_id}: {problem.message}")
        self.plugin: LoadedPlugin = loaded
        self.config: dict[str, Any] = dict(config or {})
        self.http = http or SsrfSafeHttpClient(allow=allow_hosts)
        self.allow_hosts = tuple(allow_hosts)
        self.progress: list[ProgressUpdate] = []
        self.cancel_requested = False

    def tool(self, name: str) -> ToolSpec[Any, Any]:
        spec = self.plugin.tools.get(name)
        if spec is None:
            raise LookupError(f"the plugin {self.plugin.id} has no tool {name}; it has {sorted(self.plugin.tools)}")
        return spec

    def context(self, tool: str = "", *, config: Mapping[str, Any] | None = None) -> PluginContext:
        """A context like the host's, with ``config`` (default: the harness's) and progress captured."""

        async def capture(percent: float | None, note: str) -> None:
            self.progress.append(ProgressUpdate(tool=tool, percent=percent, note=note))

        return plugin_context(
            self.plugin,
            config=self.config if config is None else config,
            http=self.http,
            tool=tool,
            workspace_id="test-workspace",
            run_id="test-run",
            reporter=capture,
            is_cancelled=lambda: self.cancel_requested,
            extra_hosts=self.allow_hosts,
        )

    async def listed_tools(self, *, config: Mapping[str, Any] | None = None) -> dict[str, ToolSpec[Any, Any]]:
        """What the plugin's tool sets (``register_toolsets``) list for ``config`` (default: the
        harness's), by name, through the host's own cache; a tool set that cannot list raises its
        ``ToolError`` (code ``toolset_unavailable``)."""
        listing = await self.host.toolset_cache.listing(self.plugin, self.context(config=config))
        for problem in listing.problems:
            raise problem.error
        return dict(listing.tools)

    async def invoke(
        self, tool: str, inputs: Mapping[str, Any] | BaseModel | None = None, *, config: Mapping[str, Any] | None = None
    ) -> Any:
        """Run a tool (a static one, or one the tool sets list) as the host would: its output model
        (or ``JobHandle``), or ``ToolError`` raised."""
        spec = self.plugin.tools.get(tool)
        if spec is None and self.plugin.toolsets:
            spec = (await self.listed_tools(config=config)).get(tool)
        return await run_tool(spec or self.tool(tool), inputs or {}, self.context(tool, config=config))

    async def invoke_json(
        self, tool: str, inputs: Mapping[str, Any] | BaseModel | None = None, *, config: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """The result as a bot sees it (JSON data)."""
        output: BaseModel | JobHandle = await self.invoke(tool, inputs, config=config)
        return output.model_dump(mode="json")

    async def validate_config(self, config: Mapping[str, Any] | None = None) -> CredentialCheck | None:
        """The plugin's ``validate_config`` answer for ``config`` (exceptions propagate, for the traceback)."""
        ctx = self.context(config=config)
        answer = self.host.validate_config(self.plugin.id, ctx.config, ctx)
        if inspect.isawaitable(answer):
            answer = await answer
        return answer  # type: ignore[no-any-return]

    async def poll(self, tool: str, job: JobHandle, *, config: Mapping[str, Any] | None = None) -> JobStatus:
        """One poll of a long-running tool's job, as the host makes it (``ToolError`` raised)."""
        return await run_poll(self.tool(tool), job, self.context(tool, config=config))

    async def cancel(self, tool: str, job: JobHandle, *, config: Mapping[str, Any] | None = None) -> None:
        """The tool's ``cancel`` of a job, as the host calls it (``ToolError`` raised)."""
        await run_cancel(self.tool(tool), job, self.context(tool, config=config))

    async def run_job(
        self,
        tool: str,
        inputs: Mapping[str, Any] | BaseModel | None = None,
        *,
        config: Mapping[str, Any] | None = None,
        max_polls: int = 100,
        interval_s: float = 0.0,
    ) -> JobStatus:
        """Start a long-running tool's job and poll it until it is over, as the host does (but
        ``interval_s`` apart, not ``poll_interval_s``): its last ``JobStatus``. Progress goes to
        ``progress``, ``handle_state`` is carried to the next poll, and a success's output (its
        files' fields standing for the stored files' URLs) is checked against the output model."""
        job = await self.invoke(tool, inputs, config=config)
        if not isinstance(job, JobHandle):
            raise AssertionError(f"the {tool} tool returned {type(job).__name__}, not a JobHandle")
        for _ in range(max_polls):
            status = await self.poll(tool, job, config=config)
            if status.handle_state is not None:
                job = job.model_copy(update={"state": status.handle_state})
            if status.state == "succeeded":
                stored = {field: f"/media/{field}" for field in status.files}
                check_output(self.tool(tool), {**(status.output or {}), **stored})
            if status.state != "running":
                return status
            self.progress.append(ProgressUpdate(tool=tool, percent=status.percent, note=status.note))
            await asyncio.sleep(interval_s)
        raise AssertionError(f"the {tool} tool's job was still running after {max_polls} polls")


async def invoke_tool(
    plugin: str | ModuleType,
    tool: str,
    inputs: Mapping[str, Any] | BaseModel | None = None,
    *,
    config: Mapping[str, Any] | None = None,
) -> Any:
    """One call, one line: ``await invoke_tool("agentloom_hello", "greet", {"name": "Ada"})``."""
    return await PluginHarness(plugin, config=config).invoke(tool, inputs)


def assert_plugin_contract(plugin: str | ModuleType) -> LoadedPlugin:
    """What every plugin (built-ins included) must satisfy beyond loading: each tool's schemas are
    JSON, it turns into a LangChain tool, and its description says something."""
    harness = PluginHarness(plugin)
    for name, spec in harness.plugin.tools.items():
        for schema in (spec.input_schema(), spec.output_schema()):
            assert schema.get("type") == "object", f"{name}: a tool's input and output are objects"
            json.dumps(schema)
        assert len(spec.description.strip()) >= 10, f"{name}: describe the tool for the model that will pick it"
        langchain_tool = to_langchain_tool(spec, harness.context(name))
        assert langchain_tool.name == name
    return harness.plugin


@pytest.fixture
def plugin_config() -> dict[str, Any]:
    """The fake workspace settings ``plugin_harness`` uses; override it in your conftest.py."""
    return {}


@pytest.fixture
def plugin_harness(plugin_config: dict[str, Any]) -> Callable[..., PluginHarness]:
    """``plugin_harness("my_plugin", config=...)`` → a ``PluginHarness`` (config: ``plugin_config``)."""

    def make(plugin: str | ModuleType, *, config: Mapping[str, Any] | None = None, **options: Any) -> PluginHarness:
        return PluginHarness(plugin, config=plugin_config if config is None else config, **options)

    return make
