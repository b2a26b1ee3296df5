"""MCP: the tools of any Model Context Protocol server, as plugin tools (README.md).

A workspace lists its servers in the settings (``servers``: streamable HTTP URLs, or local commands
over stdio where this server allows them). The ``servers`` tool set lists, per workspace, every tool
of every server, named ``<server>__<tool>``, with the server's own input schema; the host caches the
list per state of the settings. Connections use the official ``mcp`` SDK and are reused
(``connections.py``). A built-in plugin shaped exactly like a third-party package: these hooks,
``manifest.json`` next to them, and the entry point ``mcp = "plugins.mcp"`` in Agentloom's pyproject.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Mapping
from typing import Any, Final

from builder.sdk import CredentialCheck, ListedTools, PluginContext, ToolSet, ToolSpec, hookimpl, source_problems
from plugins.mcp.connections import described
from plugins.mcp.settings import Server, servers, stdio_allowed
from plugins.mcp.tools import listed, server_tool

PLUGIN_ID: Final = "mcp"
logger = logging.getLogger(__name__)


def _reason(error: BaseException) -> str:
    message = getattr(error, "message", None)
    if isinstance(message, str):  # ToolError, and NodeError from the address check
        return message
    logger.error("mcp: a server failed", exc_info=error)
    return described(error)


async def list_server_tools(ctx: PluginContext) -> ListedTools:
    """Every tool of every server (asked concurrently); a server that fails is a problem of its own."""
    configured = servers(ctx.config)
    answers = await asyncio.gather(*(listed(server, ctx) for server in configured), return_exceptions=True)
    tools: list[ToolSpec[Any, Any]] = []
    problems: dict[str, str] = {}
    taken: set[str] = set()
    for server, answer in zip(configured, answers, strict=True):
        if isinstance(answer, BaseException):
            if isinstance(answer, asyncio.CancelledError):
                raise answer
            problems[server.name] = _reason(answer)
            continue
        tools += [server_tool(server, tool, taken) for tool in answer]
    return ListedTools(tools=tools, problems=problems)


@hookimpl
def register_toolsets() -> list[ToolSet]:
    return [
        ToolSet(
            name="servers",
            description="The tools of each MCP server in the settings.",
            list_tools=list_server_tools,
            cache_ttl_s=300,
        )
    ]


@hookimpl
def check_config(plugin_id: str, config: Mapping[str, Any]) -> dict[str, list[str]] | None:
    """Before saving: each server has what its transport needs, and stdio only where it is allowed."""
    if plugin_id != PLUGIN_ID:
        return None
    return source_problems(config.get("servers"), field="servers", model=Server, problems_of=_server_problems)


def _server_problems(server: Server) -> list[tuple[str, str]]:
    if server.transport == "http":
        if not server.url.startswith(("http://", "https://")):
            return [("url", "Enter the server's http:// or https:// URL.")]
        return []
    found: list[tuple[str, str]] = []
    if not stdio_allowed():
        found.append(
            (
                "transport",
                "This server does not start MCP servers as local commands (AGENTLOOM_MCP_ALLOW_STDIO is off): "
                "use a streamable HTTP server.",
            )
        )
    if not server.command.strip():
        found.append(("command", "Enter the command that starts the server."))
    problem = server.secret_env_problem()
    if problem:
        found.append(("secret_env", problem))
    return found


@hookimpl
def validate_config(plugin_id: str, config: Mapping[str, Any], ctx: PluginContext) -> Awaitable[CredentialCheck] | None:
    """The Test button: connect to every server and list its tools."""
    if plugin_id != PLUGIN_ID:
        return None
    return _test(ctx)


async def _test(ctx: PluginContext) -> CredentialCheck:
    configured = servers(ctx.config)
    if not configured:
        return CredentialCheck(ok=False, message="Add an MCP server.")
    answers = await asyncio.gather(*(listed(server, ctx) for server in configured), return_exceptions=True)
    lines: list[str] = []
    for server, answer in zip(configured, answers, strict=True):
        if isinstance(answer, BaseException):
            lines.append(f"{server.name}: {_reason(answer)}")
        else:
            names = ", ".join(tool.name for tool in answer[:5]) + ("…" if len(answer) > 5 else "")
            lines.append(f"{server.name}: {len(answer)} tools" + (f" ({names})." if names else "."))
    ok = not any(isinstance(answer, BaseException) for answer in answers)
    return CredentialCheck(ok=ok, message=" ".join(lines))
