"""An MCP server's tools as plugin tools: listed with their own input schemas, called through the
pooled connection, and their results normalised into one shape.

A result's content parts become ``{"type": "text", "text"}``, ``{"type": "image" | "audio",
"mime_type", "bytes"}`` (a reference: the bytes themselves are not passed to a model),
``{"type": "resource_link", "uri", "name"}`` and ``{"type": "resource", "uri", "text" | "bytes"}``;
``text`` joins the text, ``structured`` is the tool's structured result. ``isError`` results, MCP
errors and timeouts are ``ToolError``s. A connection that broke (a crashed process, a dropped
session) is opened again once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

import anyio
import httpx2
from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT
from pydantic import BaseModel, Field, JsonValue

from builder.engine.i18n import gettext_noop
from builder.sdk import PluginContext, ToolError, ToolSpec, json_schema_model, unique_tool_name
from mcp.shared.exceptions import MCPError
from mcp.types import (
    AudioContent,
    CallToolResult,
    EmbeddedResource,
    ImageContent,
    ResourceLink,
    TextContent,
    TextResourceContents,
    Tool,
)
from plugins.mcp.connections import described, pool, unreachable
from plugins.mcp.settings import Server, server_named

logger = logging.getLogger(__name__)

MAX_PAGES: Final = 20
MAX_DESCRIPTION_CHARS: Final = 1000
MAX_ERROR_CHARS: Final = 1000
# The host's limit sits a little above the MCP request's own, so the server's timeout speaks first.
HOST_TIMEOUT_MARGIN_S: Final = 5.0
_BROKEN: Final = (
    anyio.ClosedResourceError,
    anyio.BrokenResourceError,
    anyio.EndOfStream,
    OSError,
    httpx2.TransportError,
)
_PERMISSIVE: Final = {"type": "object", "additionalProperties": True}

T = TypeVar("T")


class McpToolOutput(BaseModel):
    """What an MCP tool answered."""

    text: str = Field(default="", description="The text of the result.")
    content: list[dict[str, JsonValue]] = Field(
        default_factory=list, description="Every part of the result: text, images and resources (by reference)."
    )
    structured: JsonValue = Field(default=None, description="The tool's structured result, when it gives one.")


async def using(server: Server, ctx: PluginContext, action: Callable[[Any], Awaitable[T]]) -> T:
    """``action(client)`` on the pooled connection to ``server``, on a fresh one if the pooled one broke."""
    for attempt in (1, 2):
        connection, fresh = await pool().connection(server, ctx)
        client = connection.client
        broken: BaseException
        connection.busy += 1
        try:
            if client is None:
                raise anyio.ClosedResourceError
            return await action(client)
        except MCPError as error:
            if error.code != CONNECTION_CLOSED:
                raise
            broken = error
        except _BROKEN as error:
            broken = error
        finally:
            connection.busy -= 1
            connection.last_used = time.monotonic()
        await pool().discard(connection)
        if fresh or attempt == 2:
            raise unreachable(server, described(broken))
    raise AssertionError("unreachable")


async def listed(server: Server, ctx: PluginContext) -> list[Tool]:
    """The server's tools (every page), only those named in the settings' ``tools`` when it lists some."""

    async def every_page(client: Any) -> list[Tool]:
        found: list[Tool] = []
        cursor: str | None = None
        for _page in range(MAX_PAGES):
            page = await client.list_tools(cursor=cursor)
            found += page.tools
            cursor = page.next_cursor
            if not cursor:
                break
        return found

    try:
        tools = await using(server, ctx, every_page)
    except MCPError as error:
        raise ToolError.from_template(
            "mcp_error",
            gettext_noop("The MCP server %(server)s did not list its tools: %(reason)s"),
            server=server.name,
            reason=error.message,
        ) from None
    return [tool for tool in tools if not server.tools or tool.name in server.tools]


def server_tool(server: Server, tool: Tool, taken: set[str]) -> ToolSpec[Any, Any]:
    """``tool`` of ``server`` as a plugin tool named ``<server>__<tool>``."""
    name = unique_tool_name(tool.name, taken, prefix=server.name)
    schema = tool.input_schema if isinstance(tool.input_schema, dict) else {}
    try:
        input_model = json_schema_model(name, {**schema, "type": "object"})
    except ValueError as error:  # a schema our validator does not accept: take any object
        logger.warning("the MCP tool %s of %s: %s", tool.name, server.name, error)
        input_model = json_schema_model(name, _PERMISSIVE)
    server_name, tool_name = server.name, tool.name

    async def invoke(data: BaseModel, ctx: PluginContext) -> McpToolOutput:
        return await call(server_named(ctx.config, server_name), tool_name, data.model_dump(), ctx)

    description = (tool.description or tool.title or f"The {tool.name} tool of the MCP server {server.name}.").strip()
    return ToolSpec(
        name=name,
        title=(tool.title or tool.name)[:100],
        description=description[:MAX_DESCRIPTION_CHARS],
        input_model=input_model,
        output_model=McpToolOutput,
        invoke=invoke,
        timeout_s=server.timeout_s + HOST_TIMEOUT_MARGIN_S,
    )


async def call(server: Server, tool: str, arguments: dict[str, Any], ctx: PluginContext) -> McpToolOutput:
    async def call_tool(client: Any) -> CallToolResult:
        result: CallToolResult = await client.call_tool(tool, arguments, read_timeout_seconds=server.timeout_s)
        return result

    try:
        result = await using(server, ctx, call_tool)
    except MCPError as error:
        if error.code == REQUEST_TIMEOUT:
            raise ToolError.from_template(
                "tool_timeout",
                gettext_noop(
                    "The %(tool)s tool of the MCP server %(server)s did not answer within %(seconds)s seconds."
                ),
                retryable=True,
                tool=tool,
                server=server.name,
                seconds=f"{server.timeout_s:g}",
            ) from None
        raise ToolError.from_template(
            "mcp_error",
            gettext_noop("The MCP server %(server)s refused the call: %(reason)s"),
            server=server.name,
            reason=error.message,
        ) from None
    output = normalised(result)
    if result.is_error:
        message = output.text.strip()
        if not message:
            raise ToolError.from_template(
                "mcp_tool_error",
                gettext_noop(
                    "The %(tool)s tool of the MCP server %(server)s failed: it reported an error without a message"
                ),
                tool=tool,
                server=server.name,
            )
        raise ToolError.from_template(  # the tool's own text is a parameter, never translated
            "mcp_tool_error",
            gettext_noop("The %(tool)s tool of the MCP server %(server)s failed: %(message)s"),
            tool=tool,
            server=server.name,
            message=message[:MAX_ERROR_CHARS],
        )
    return output


def normalised(result: CallToolResult) -> McpToolOutput:
    parts: list[dict[str, JsonValue]] = []
    texts: list[str] = []
    for block in result.content:
        if isinstance(block, TextContent):
            parts.append({"type": "text", "text": block.text})
            texts.append(block.text)
        elif isinstance(block, ImageContent | AudioContent):
            parts.append({"type": block.type, "mime_type": block.mime_type, "bytes": _decoded_size(block.data)})
        elif isinstance(block, ResourceLink):
            link: dict[str, JsonValue] = {"type": "resource_link", "uri": str(block.uri), "name": block.name}
            if block.mime_type:
                link["mime_type"] = block.mime_type
            parts.append(link)
        elif isinstance(block, EmbeddedResource):
            resource = block.resource
            part: dict[str, JsonValue] = {"type": "resource", "uri": str(resource.uri)}
            if resource.mime_type:
                part["mime_type"] = resource.mime_type
            if isinstance(resource, TextResourceContents):
                part["text"] = resource.text
                texts.append(resource.text)
            else:
                part["bytes"] = _decoded_size(resource.blob)
            parts.append(part)
        else:
            parts.append({"type": str(getattr(block, "type", "unknown"))})
    return McpToolOutput(text="\n".join(texts), content=parts, structured=result.structured_content)


def _decoded_size(data: str) -> int:
    """The size of base64 ``data`` once decoded (without decoding it)."""
    return len(data) * 3 // 4 - data[-2:].count("=")
