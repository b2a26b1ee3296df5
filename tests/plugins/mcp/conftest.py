"""A small MCP server (``server.py``, the official SDK's MCPServer) over stdio and streamable HTTP,
and the plugin's settings for each."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import LazySettings

from builder.sdk.testing import plugin_config, plugin_harness  # noqa: F401  (fixtures)
from plugins.mcp.connections import close_all
from tests.support.processes import stop_process, wait_for_port

PLUGIN = "plugins.mcp"
SERVER_SCRIPT = Path(__file__).with_name("server.py")
SERVER_START_TIMEOUT_S = 30.0


def stdio_server(name: str = "local", **settings: Any) -> dict[str, Any]:
    """Settings of a server started as ``python server.py``."""
    return {
        "name": name,
        "transport": "stdio",
        "command": sys.executable,
        "args": [str(SERVER_SCRIPT)],
        "env": {"GREETING": "hello"},
        **settings,
    }


def http_server(url: str, name: str = "remote", **settings: Any) -> dict[str, Any]:
    return {"name": name, "transport": "http", "url": url, **settings}


@pytest.fixture(scope="session")
def mcp_http_url(tmp_path_factory: pytest.TempPathFactory, unused_tcp_port_factory: Any) -> Iterator[str]:
    """``python server.py --http PORT``: the same server over streamable HTTP (uvicorn), for the session."""
    port = unused_tcp_port_factory()
    log_path = tmp_path_factory.mktemp("mcp") / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(SERVER_SCRIPT), "--http", str(port)], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        wait_for_port(port, process, log_path, SERVER_START_TIMEOUT_S)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        stop_process(process)


@pytest.fixture(autouse=True)
def _stdio_allowed(settings: LazySettings) -> None:
    """Both modes run stdio servers in these tests (production's default is off: tested explicitly)."""
    settings.AGENTLOOM_MCP_ALLOW_STDIO = True


@pytest.fixture(autouse=True)
async def _connections_closed() -> AsyncIterator[None]:
    """Each test's loop closes its connections (stopping the stdio servers it started)."""
    yield
    await close_all()
