"""A small MCP server for the tests, written with the official SDK's ``MCPServer`` (FastMCP in mcp 1.x).

    python server.py                 # stdio
    python server.py --http PORT     # streamable HTTP on 127.0.0.1:PORT/mcp

Its tools: ``add`` (numbers in, a number out, structured), ``echo``, ``whoami`` (the process id and
an environment variable, to see that a connection is reused and what the command was given),
``fail`` (an error result), ``slow`` (sleeps) and ``picture`` (an image and a resource link).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ImageContent, ResourceLink, TextContent

server = MCPServer(name="test-tools", instructions="Tools for Agentloom's tests.", log_level="WARNING")

PIXEL = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 56).decode()


@server.tool(description="Add two numbers.")
def add(a: float, b: float) -> float:
    return a + b


@server.tool(description="Say the text back.")
def echo(text: str) -> str:
    return text


@server.tool(description="The server process's id and the GREETING variable.")
def whoami() -> str:
    return f"pid={os.getpid()} greeting={os.environ.get('GREETING', '')} token={os.environ.get('TOKEN', '')}"


@server.tool(description="Always fails.")
def fail(reason: str = "the printer is on fire") -> str:
    raise ToolError(reason)


@server.tool(description="Sleeps, then answers.")
async def slow(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "awake"


@server.tool(description="A picture and a link to its source.")
def picture() -> list[TextContent | ImageContent | ResourceLink]:
    return [
        TextContent(type="text", text="A very small picture."),
        ImageContent(type="image", data=PIXEL, mime_type="image/png"),
        ResourceLink(
            type="resource_link", uri="https://example.com/pixel.png", name="pixel.png", mime_type="image/png"
        ),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", type=int, default=0)
    options = parser.parse_args()
    if options.http:
        server.run("streamable-http", host="127.0.0.1", port=options.http)
    else:
        server.run()
