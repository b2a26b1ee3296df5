"""A plugin's tool sets listed for one workspace's settings, cached per process.

A ``ToolSet`` (``register_toolsets``) lists its tools from a workspace's settings: the operations of
the OpenAPI specs it imported, the tools of its MCP servers. Listing may be slow (a spec to fetch,
a server to ask), so the host keeps each list for the tool set's ``cache_ttl_s``, keyed by the
plugin, the tool set and a keyed digest of the settings: saving new settings lists again at once,
and two workspaces with identical settings share a list (it depends on the settings only). A list
with failures (a source down) is kept for ``FAILED_TTL_S`` only, so that a bot calling tools of a
server that is down does not wait for it on every call, and a server that is back is seen soon.

The tools listed are checked like ``register_tools``' (each a ``ToolSpec``, unique names, none
shadowing a static tool, long-running ones only with the permission); a tool set (or one of its
sources) that fails or lists something wrong is reported as a problem, and the plugin's other tools
carry on. Nothing here imports Django.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from builder.engine.i18n import gettext_noop
from builder.engine.runtime.contract import NodeError
from builder.sdk.context import PluginContext
from builder.sdk.errors import ToolError
from builder.sdk.tools import ToolSpec
from builder.sdk.toolsets import ListedTools, ToolSet

if TYPE_CHECKING:  # the manager holds a cache: it imports this module
    from builder.pluginhost.manager import LoadedPlugin

logger = logging.getLogger(__name__)

UNAVAILABLE: Final = "toolset_unavailable"
LIST_TIMEOUT_S: Final = 60.0
FAILED_TTL_S: Final = 15.0
MAX_CACHED_LISTS: Final = 256
MAX_REASON_CHARS: Final = 500


@dataclass(frozen=True)
class ToolSetProblem:
    """Why a tool set (or one ``source`` of it: a spec, a server) lists nothing now."""

    toolset: str
    source: str
    error: ToolError


@dataclass(frozen=True)
class ToolListing:
    """A plugin's listed tools for one workspace's settings, by name, and the problems."""

    tools: Mapping[str, ToolSpec[Any, Any]] = field(default_factory=dict)
    problems: Sequence[ToolSetProblem] = ()

    def problem_for(self, tool: str) -> ToolSetProblem | None:
        """The problem that may explain why ``tool`` is missing: its source's (tool names start with
        ``<source>__``, see ``unique_tool_name``), else the first."""
        for problem in self.problems:
            if problem.source and tool.startswith(f"{problem.source}__"):
                return problem
        return self.problems[0] if self.problems else None


def unavailable(plugin: str, toolset: str, reason: str, *, source: str = "") -> ToolError:
    return ToolError.from_template(
        UNAVAILABLE,
        gettext_noop("The %(toolset)s tools of the %(plugin)s plugin cannot be listed: %(reason)s"),
        retryable=True,
        details={"toolset": toolset, "source": source},
        plugin=plugin,
        toolset=source or toolset,
        reason=reason[:MAX_REASON_CHARS],
    )


@dataclass(frozen=True)
class _Listed:
    tools: tuple[ToolSpec[Any, Any], ...]
    problems: tuple[ToolSetProblem, ...]


class ToolSetCache:
    """The listed tools of each (plugin, tool set, settings), for the tool set's ``cache_ttl_s``."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_entries: int = MAX_CACHED_LISTS) -> None:
        self.clock = clock
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str, str], tuple[float, _Listed]] = OrderedDict()
        # The digest covers secrets: keyed with a per-process random key, it says nothing about them.
        self._digest_key = secrets.token_bytes(32)

    def forget(self, plugin_id: str | None = None) -> None:
        """Drop the cached lists (of one plugin): the next call lists again."""
        for key in [key for key in self._entries if plugin_id is None or key[0] == plugin_id]:
            del self._entries[key]

    async def listing(self, plugin: LoadedPlugin, ctx: PluginContext) -> ToolListing:
        """Every tool set's tools for the settings in ``ctx.config`` (listed, or from the cache)."""
        digest = self._digest(ctx.config)
        tools: dict[str, ToolSpec[Any, Any]] = {}
        problems: list[ToolSetProblem] = []
        for name, toolset in sorted(plugin.toolsets.items()):
            listed = await self._listed(plugin, toolset, ctx, digest)
            problems += listed.problems
            for spec in listed.tools:
                if spec.name in plugin.tools or spec.name in tools:
                    reason = f"it lists a tool named {spec.name}, which the plugin has already"
                    problems.append(ToolSetProblem(name, "", unavailable(plugin.id, name, reason)))
                    continue
                tools[spec.name] = spec
        return ToolListing(tools=tools, problems=tuple(problems))

    async def _listed(self, plugin: LoadedPlugin, toolset: ToolSet, ctx: PluginContext, digest: str) -> _Listed:
        key = (plugin.id, toolset.name, digest)
        cached = self._entries.get(key)
        if cached is not None and cached[0] > self.clock():
            self._entries.move_to_end(key)
            return cached[1]
        listed = await _list(plugin, toolset, ctx)
        ttl = min(toolset.cache_ttl_s, FAILED_TTL_S) if listed.problems else toolset.cache_ttl_s
        if ttl > 0:
            self._entries[key] = (self.clock() + ttl, listed)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return listed

    def _digest(self, config: Mapping[str, Any]) -> str:
        canonical = json.dumps(config, sort_keys=True, default=str, ensure_ascii=False).encode()
        return hmac.new(self._digest_key, canonical, hashlib.sha256).hexdigest()


async def _list(plugin: LoadedPlugin, toolset: ToolSet, ctx: PluginContext) -> _Listed:
    """Call ``list_tools`` within the time limit and check what it returns; a failure is a problem."""

    def failed(reason: str) -> _Listed:
        error = unavailable(plugin.id, toolset.name, ctx.redact(reason))
        return _Listed(tools=(), problems=(ToolSetProblem(toolset.name, "", error),))

    try:
        async with asyncio.timeout(LIST_TIMEOUT_S):
            listed = await toolset.list_tools(ctx)
    except TimeoutError:
        return failed(f"no answer within {LIST_TIMEOUT_S:g} seconds")
    except (ToolError, NodeError) as error:  # NodeError: from ctx.http (ssrf_blocked, http_timeout…)
        return failed(error.message)
    except Exception as error:  # the plugin's bug: the admin sees it, the run goes on
        logger.exception("list_tools of the %s tool set of the plugin %s raised", toolset.name, plugin.id)
        return failed(f"{type(error).__name__}: {error}")
    problems: tuple[ToolSetProblem, ...] = ()
    if isinstance(listed, ListedTools):
        problems = tuple(
            ToolSetProblem(
                toolset.name, str(source), unavailable(plugin.id, toolset.name, ctx.redact(str(reason)), source=source)
            )
            for source, reason in listed.problems.items()
        )
        listed = listed.tools
    try:
        return _Listed(tools=_checked(plugin, listed), problems=problems)
    except ValueError as error:
        return failed(str(error))


def _checked(plugin: LoadedPlugin, listed: Any) -> tuple[ToolSpec[Any, Any], ...]:
    if isinstance(listed, str | bytes | Mapping) or not isinstance(listed, Sequence):
        raise ValueError(f"list_tools returned {type(listed).__name__}, not a list")
    names: set[str] = set()
    for spec in listed:
        if not isinstance(spec, ToolSpec):
            raise ValueError(f"list_tools returned a {type(spec).__name__}, not a ToolSpec")
        if spec.name in names:
            raise ValueError(f"list_tools lists two tools named {spec.name}")
        if spec.long_running and not plugin.manifest.permissions.long_running:
            raise ValueError(f"the tool {spec.name} is long-running, which the manifest does not permit")
        names.add(spec.name)
    return tuple(listed)
