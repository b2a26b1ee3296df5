"""The engine's ``ToolInvoker`` (and ``ToolCatalog``) over the plugin host, for one run.

``invoke(plugin, tool, inputs, ctx)``: find the tool, check that the run's workspace has the
plugin enabled, decrypt the workspace's settings into a ``PluginContext``, and run the tool
through the SDK's ``run_tool`` (input validation, per-tool timeout, output check). Every failure
is a ``NodeError`` with a stable code — the tool node fails (or takes its error branch), an agent's
model reads the message — and never an exception that crashes the run or the server:

``tool_not_found`` · ``plugin_unavailable`` (installed but refused at load) · ``plugin_disabled`` ·
``plugin_settings_unreadable`` · ``invalid_tool_input`` · ``missing_credentials`` ·
``tool_timeout`` (retryable) · ``tool_failed`` (the plugin raised) · ``invalid_tool_output`` ·
``network_not_permitted`` · ``long_running_unavailable`` · ``toolset_unavailable`` (retryable) · the
SSRF client's codes · and whatever code a plugin's own ``ToolError`` carries.

A tool the plugin does not register statically is looked up in what its tool sets list for the
workspace's settings (``register_toolsets``; cached by ``toolsets.ToolSetCache``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from django.utils.translation import gettext_noop

from builder.core.crypto import SecretUnreadable
from builder.engine.runtime.contract import HttpClient, NodeContext, NodeError, node_error
from builder.pluginhost.configuration import decrypted_config
from builder.pluginhost.contexts import plugin_context
from builder.pluginhost.manager import LoadedPlugin, PluginHost, get_host
from builder.pluginhost.models import PluginInstallation
from builder.sdk.context import PluginContext
from builder.sdk.errors import ToolError
from builder.sdk.execution import output_json, run_tool
from builder.sdk.tools import JobHandle, ToolSpec

# tool ("plugin/tool"), percent, note
ProgressCallback = Callable[[str, float | None, str], Awaitable[None]]


@dataclass(frozen=True)
class StoredFile:
    """A result file of a job, kept in the file storage: the output ``field`` whose value is its
    ``url``, the ``name`` a user would save it as, its media type and size (bytes, when known)."""

    field: str
    url: str
    name: str
    content_type: str
    size: int | None = None


FileCallback = Callable[[StoredFile], Awaitable[None]]


class JobRunner(Protocol):
    """Follows a long-running tool's job to its output (``job_runner.PluginJobRunner``), telling
    ``on_file`` of each result file the host stored before it returns."""

    async def run(
        self, spec: ToolSpec[Any, Any], job: JobHandle, ctx: PluginContext, *, on_file: FileCallback
    ) -> Any: ...


def _error(code: str, template: str, *, retryable: bool = False, **params: Any) -> NodeError:
    """The engine's translatable NodeError, naming the plugin and tool in its details too."""
    named: dict[str, Any] = {key: params[key] for key in ("plugin", "tool") if key in params}
    return node_error(code, template, retryable=retryable, details=named, **params)


class PluginToolInvoker:
    """Plugin tools for one run of a bot in ``workspace_id``.

    ``http`` is the run's SSRF-safe client (each plugin gets it limited to its manifest's hosts).
    Progress goes to ``on_progress`` when given, else to the node's ``emit_tool_progress`` (the
    chat's ``tool.progress`` events). ``job_runner`` follows long-running tools' jobs; without it
    they fail with ``long_running_unavailable``. The files a job's result keeps go to the node's
    ``emit_tool_file`` (``tool.file``: the chat shows a video as a video). ``host`` defaults to the
    process's plugin host.
    """

    def __init__(
        self,
        *,
        workspace_id: Any,
        http: HttpClient,
        run_id: Any = "",
        on_progress: ProgressCallback | None = None,
        job_runner: JobRunner | None = None,
        host: PluginHost | None = None,
    ) -> None:
        self.workspace_id = workspace_id
        self.run_id = str(run_id)
        self.http = http
        self.on_progress = on_progress
        self.job_runner = job_runner
        self._host = host
        # One run sees one state of the workspace's settings (read once per plugin).
        self._settings: dict[str, tuple[bool, dict[str, Any]]] = {}

    @property
    def host(self) -> PluginHost:
        return self._host or get_host()

    async def describe(self, plugin: str, tool: str) -> Mapping[str, Any] | None:
        """How an agent's model sees the tool: its name, description and input JSON Schema."""
        spec = self.host.tool(plugin, tool)
        loaded = self.host.get(plugin)
        if spec is None and loaded is not None and loaded.toolsets:
            try:
                enabled, config = await self._workspace_settings(loaded)
                spec = await self._listed_tool(loaded, tool, config) if enabled else None
            except NodeError:  # calling the tool says why
                return None
        if spec is None:
            return None
        return {"name": spec.name, "description": spec.description, "input_schema": spec.input_schema()}

    async def invoke(self, plugin: str, tool: str, inputs: Mapping[str, Any], ctx: NodeContext) -> Any:
        loaded, spec = self._find(plugin, tool)
        enabled, config = await self._workspace_settings(loaded)
        if not enabled:
            raise _error(
                "plugin_disabled",
                gettext_noop("The %(plugin)s plugin is not enabled in this workspace."),
                plugin=plugin,
            )
        if spec is None:  # not a static tool: one of the tools its tool sets list for this workspace
            spec = await self._listed_tool(loaded, tool, config)
        label = f"{plugin}/{tool}"

        async def report(percent: float | None, note: str) -> None:
            if self.on_progress is not None:
                await self.on_progress(label, percent, note)
            else:
                await ctx.emit_tool_progress(label, percent, note)

        async def report_file(file: StoredFile) -> None:
            await ctx.emit_tool_file(
                label, url=file.url, name=file.name, content_type=file.content_type, size=file.size, field=file.field
            )

        plugin_ctx = plugin_context(
            loaded,
            config=config,
            http=self.http,
            tool=tool,
            workspace_id=str(self.workspace_id),
            run_id=self.run_id or ctx.run_id,
            reporter=report,
            is_cancelled=ctx.cancelled,
        )
        try:
            output = await run_tool(spec, dict(inputs or {}), plugin_ctx)
            if isinstance(output, JobHandle):
                if self.job_runner is None:
                    raise _error(
                        "long_running_unavailable",
                        gettext_noop("The %(tool)s tool runs as a background job, which this server cannot run yet."),
                        plugin=plugin,
                        tool=tool,
                    )
                return await self.job_runner.run(spec, output, plugin_ctx, on_file=report_file)
            return output_json(output)
        except ToolError as error:
            raise NodeError(
                error.code,
                error.message,
                retryable=error.retryable,
                details={**error.details, "plugin": plugin, "tool": tool},
            ) from None

    def _find(self, plugin: str, tool: str) -> tuple[LoadedPlugin, ToolSpec[Any, Any] | None]:
        """The plugin and its static tool (None: the plugin's tool sets may list it)."""
        host = self.host
        loaded = host.get(plugin)
        if loaded is None:
            if any(problem.plugin_id == plugin for problem in host.problems.values()):
                raise _error(
                    "plugin_unavailable",
                    gettext_noop(
                        "The %(plugin)s plugin could not be loaded on this server; an administrator can see why "
                        "in the plugin list."
                    ),
                    plugin=plugin,
                )
            raise _error("tool_not_found", gettext_noop("There is no plugin %(plugin)s on this server."), plugin=plugin)
        spec = loaded.tools.get(tool)
        if spec is None and not loaded.toolsets:
            raise _error(
                "tool_not_found", gettext_noop("The %(plugin)s plugin has no tool %(tool)s."), plugin=plugin, tool=tool
            )
        return loaded, spec

    async def _listed_tool(self, plugin: LoadedPlugin, tool: str, config: dict[str, Any]) -> ToolSpec[Any, Any]:
        """A tool the plugin's tool sets list for the workspace's settings (``toolsets.py``)."""
        ctx = plugin_context(
            plugin, config=config, http=self.http, workspace_id=str(self.workspace_id), run_id=self.run_id
        )
        listing = await self.host.toolset_cache.listing(plugin, ctx)
        spec = listing.tools.get(tool)
        if spec is not None:
            return spec
        problem = listing.problem_for(tool)  # the tool may be one that a failing tool set would list
        if problem is not None:
            error = problem.error
            raise NodeError(
                error.code,
                error.message,
                retryable=error.retryable,
                details={**error.details, "plugin": plugin.id, "tool": tool},
            )
        raise _error(
            "tool_not_found", gettext_noop("The %(plugin)s plugin has no tool %(tool)s."), plugin=plugin.id, tool=tool
        )

    async def _workspace_settings(self, plugin: LoadedPlugin) -> tuple[bool, dict[str, Any]]:
        cached = self._settings.get(plugin.id)
        if cached is not None:
            return cached
        installation = await PluginInstallation.objects.filter(
            workspace_id=self.workspace_id, plugin_id=plugin.id
        ).afirst()
        enabled = installation is not None and installation.enabled
        try:
            config = decrypted_config(plugin.manifest, installation) if enabled else {}
        except SecretUnreadable:
            raise _error(
                "plugin_settings_unreadable",
                gettext_noop(
                    "The stored settings of the %(plugin)s plugin cannot be decrypted: an administrator must enter "
                    "them again."
                ),
                plugin=plugin.id,
            ) from None
        self._settings[plugin.id] = (enabled, config)
        return enabled, config
