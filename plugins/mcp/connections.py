"""Connections to MCP servers, opened with the official ``mcp`` SDK and reused.

Opening a connection is costly (a process to start, an HTTP session and a handshake), so each
event loop keeps a few open (``MAX_CONNECTIONS``), keyed by everything that identifies the server
(its URL and headers, or its command, arguments and environment): changing a setting opens a new
one. One idle for ``IDLE_CLOSE_S`` is closed on the next use of the pool, the least recently used
when the pool is full, and every one when its loop ends. The SDK's transports are anyio task
groups that must be entered and left by one task, so each connection is owned by a task that
opens it, waits to be told to close, and closes it; calls from any task share the session.

Security (README.md):

- **stdio** runs a command an admin typed as a subprocess of the server or worker: code execution
  on it. It is refused unless ``AGENTLOOM_MCP_ALLOW_STDIO`` (on by default only in the embedded
  default). The process gets the SDK's minimal environment (PATH, HOME, USER…) plus the server's
  own variables, never the server's secrets (``DJANGO_SECRET_KEY``, ``DATABASE_URL``…).
- **HTTP**: the SDK brings its own HTTP client, so the SSRF policy cannot come from ``ctx.http``
  itself. Every request it makes goes through ``PinnedTransport``: the URL is vetted by
  ``ctx.http.vet_url`` (the manifest's hosts, then the SSRF checks: no private, loopback or
  link-local address unless allow-listed) and the connection goes to the vetted address (Host
  header and TLS name kept), so DNS cannot be rebound between the check and the connection;
  redirects are followed only within the server's origin (the SDK's rule), each one vetted again.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
import time
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Final

import httpx2

from builder.engine.i18n import gettext_noop
from builder.engine.runtime.contract import NodeError
from builder.sdk import PluginContext, ToolError, UrlVetting
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.types import Implementation
from plugins.mcp.settings import Server, stdio_allowed

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S: Final = 30.0
CLOSE_TIMEOUT_S: Final = 5.0
IDLE_CLOSE_S: Final = 300.0
MAX_CONNECTIONS: Final = 8
UNREACHABLE: Final = "mcp_unavailable"
STDIO_REFUSED: Final = "mcp_stdio_disabled"
CLIENT_INFO: Final = Implementation(name="agentloom", version="1.0")

Vet = Callable[[str], Awaitable[str]]


class PinnedTransport(httpx2.AsyncBaseTransport):
    """An httpx2 transport that vets each request's URL and connects to the vetted address only."""

    def __init__(self, vet: Vet) -> None:
        self._vet = vet
        # No proxies from the environment: the connection goes where it was vetted to go.
        self._inner = httpx2.AsyncHTTPTransport(trust_env=False)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        url = request.url
        address = await self._vet(str(url))
        headers = httpx2.Headers(request.headers)
        headers["host"] = url.netloc.decode("ascii")
        extensions = dict(request.extensions)
        if url.scheme == "https":
            extensions["sni_hostname"] = url.host
        pinned = httpx2.Request(
            request.method, url.copy_with(host=address), headers=headers, stream=request.stream, extensions=extensions
        )
        return await self._inner.handle_async_request(pinned)

    async def aclose(self) -> None:
        await self._inner.aclose()


def unreachable(server: Server, reason: str) -> ToolError:
    """``server`` could not be reached for ``reason``: the SDK's or the network's own words."""
    return _unreachable(server, gettext_noop("The MCP server %(server)s cannot be reached: %(reason)s"), reason=reason)


def _unreachable(server: Server, template: str, **params: Any) -> ToolError:
    return ToolError.from_template(UNREACHABLE, template, retryable=True, server=server.name, **params)


def described(error: BaseException) -> str:
    """A readable reason from what the SDK raised (often an exception group around the real one)."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    message = getattr(error, "message", None) or str(error)
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def opener(server: Server, ctx: PluginContext) -> Callable[[], AbstractAsyncContextManager[Client]]:
    """How to open ``server``: a checked stdio command, or an HTTP URL vetted by ``ctx.http``."""
    if server.transport == "stdio":
        if not stdio_allowed():
            raise ToolError.from_template(
                STDIO_REFUSED,
                gettext_noop(
                    "The MCP server %(server)s is a local command, which this server does not run "
                    "(AGENTLOOM_MCP_ALLOW_STDIO is off)."
                ),
                server=server.name,
            )
        return lambda: _stdio(server)
    http = ctx.http
    if not isinstance(http, UrlVetting):
        raise ToolError.from_template(UNREACHABLE, gettext_noop("This server cannot vet the MCP server's address."))
    vet = http.vet_url
    return lambda: _http(server, vet)


@asynccontextmanager
async def _stdio(server: Server) -> AsyncIterator[Client]:
    params = StdioServerParameters(command=server.command, args=server.args, env=server.environment())
    async with Client(params, read_timeout_seconds=server.timeout_s, client_info=CLIENT_INFO) as client:
        yield client


@asynccontextmanager
async def _http(server: Server, vet: Vet) -> AsyncIterator[Client]:
    await vet(server.url)  # a clear error before the SDK's transport is involved
    timeout = httpx2.Timeout(30.0, read=max(server.timeout_s, 300.0))
    async with (
        httpx2.AsyncClient(transport=PinnedTransport(vet), headers=server.http_headers(), timeout=timeout) as http,
        Client(
            streamable_http_client(server.url, http_client=http),
            read_timeout_seconds=server.timeout_s,
            client_info=CLIENT_INFO,
        ) as client,
    ):
        yield client


class Connection:
    """One open MCP session, owned by its own task (see the module's docstring)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.client: Client | None = None
        self.failure: BaseException | None = None
        self.last_used = time.monotonic()
        # Calls under way: a busy connection is neither idle nor evicted.
        self.busy = 0
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def alive(self) -> bool:
        return self.client is not None and self._task is not None and not self._task.done()

    async def open(self, open_client: Callable[[], AbstractAsyncContextManager[Client]]) -> None:
        self._task = asyncio.create_task(self._own(open_client), name=f"mcp-{self.server.name}")
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                await self._ready.wait()
        except TimeoutError:
            await self.close()
            raise _unreachable(
                self.server,
                gettext_noop("The MCP server %(server)s cannot be reached: no answer within %(seconds)s seconds"),
                seconds=f"{CONNECT_TIMEOUT_S:g}",
            ) from None
        except asyncio.CancelledError:  # the call was cancelled while connecting: its owner closes it once open
            self._stop.set()
            raise
        if self.client is None:
            failure = self.failure
            if isinstance(failure, ToolError | NodeError):  # the address refused (manifest, SSRF checks)
                raise failure
            if failure is None:
                raise _unreachable(
                    self.server,
                    gettext_noop("The MCP server %(server)s cannot be reached: it closed the connection"),
                )
            raise unreachable(self.server, described(failure))

    async def _own(self, open_client: Callable[[], AbstractAsyncContextManager[Client]]) -> None:
        try:
            async with open_client() as client:
                self.client = client
                self._ready.set()
                await self._stop.wait()
        except asyncio.CancelledError:
            raise
        except BaseException as error:  # the SDK raises exception groups; kept to say why
            self.failure = _leaf(error)
            if self._ready.is_set():
                logger.info("the MCP server %s closed: %s", self.server.name, described(error))
        finally:
            self.client = None
            self._ready.set()

    async def close(self) -> None:
        self._stop.set()
        task = self._task
        if task is None or task.done():
            return
        done, _pending = await asyncio.wait({task}, timeout=CLOSE_TIMEOUT_S)
        if not done:
            task.cancel()
            await asyncio.wait({task}, timeout=CLOSE_TIMEOUT_S)


def _leaf(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error


class Pool:
    """The open connections of one event loop."""

    def __init__(self) -> None:
        self.connections: OrderedDict[str, Connection] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}

    async def connection(self, server: Server, ctx: PluginContext) -> tuple[Connection, bool]:
        """An open connection to ``server`` and whether it was just opened; ``ToolError`` otherwise."""
        open_client = opener(server, ctx)  # refuses a stdio server here, before any lock
        key = _key(server)
        await self._close_idle()
        async with self._locks.setdefault(key, asyncio.Lock()):
            existing = self.connections.get(key)
            if existing is not None and existing.alive:
                existing.last_used = time.monotonic()
                self.connections.move_to_end(key)
                return existing, False
            if existing is not None:
                await self.discard(existing)
            connection = Connection(server)
            await connection.open(open_client)
            self.connections[key] = connection
            idle = [held for held in self.connections.values() if held is not connection and not held.busy]
            for evicted in idle[: max(len(self.connections) - MAX_CONNECTIONS, 0)]:  # least recently used first
                await self.discard(evicted)
            return connection, True

    async def discard(self, connection: Connection) -> None:
        for key, held in list(self.connections.items()):
            if held is connection:
                del self.connections[key]
                lock = self._locks.get(key)
                if lock is not None and not lock.locked():
                    del self._locks[key]
        await connection.close()

    async def close_all(self) -> None:
        connections = list(self.connections.values())
        self.connections.clear()
        await asyncio.gather(*(connection.close() for connection in connections))

    async def _close_idle(self) -> None:
        now = time.monotonic()
        for connection in [c for c in self.connections.values() if not c.busy and now - c.last_used > IDLE_CLOSE_S]:
            await self.discard(connection)


_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Pool] = weakref.WeakKeyDictionary()
# Connection keys cover secrets (a token, environment variables): keyed digests reveal nothing.
_key_secret = secrets.token_bytes(32)


def pool() -> Pool:
    """The running event loop's pool (a worker's loop, a test's loop: connections never cross loops)."""
    loop = asyncio.get_running_loop()
    found = _pools.get(loop)
    if found is None:
        found = _pools[loop] = Pool()
    return found


async def close_all() -> None:
    """Close the running loop's connections (stops stdio servers): at shutdown, and in tests."""
    await pool().close_all()


def _key(server: Server) -> str:
    material = server.model_dump(mode="json", exclude={"name", "tools"})
    digest = hmac.new(_key_secret, json.dumps(material, sort_keys=True).encode(), hashlib.sha256)
    return digest.hexdigest()
