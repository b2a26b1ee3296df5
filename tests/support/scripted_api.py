"""A scripted HTTP API on 127.0.0.1 standing in for an external service (a search API, a video
API, the pages and files they link to). A real threaded server, so the product's own HTTP client
code runs against it; other processes (a Celery worker) reach it too.

Each route (method + path) answers with its scripted replies in order, the last one repeating; a
route scripted with its query (``/v1/videos/1/content?variant=video``) is matched before the bare
path. Every request is recorded with its path, query, headers and body, so a test asserts the
request shape the real API expects:

    api = ScriptedApi()
    api.reply("POST", "/search", Reply(json={"results": []}), Reply(status=429))
    ...
    [request] = api.requests
    assert request.headers["authorization"] == "Bearer tvly-test"

A reply may also be a function of the request, and ``fallback`` answers what was not scripted (a
404 by default): fakes with behaviour (a job API whose status advances at each poll) are written
as one function of the request instead of another server.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, TypeAlias
from urllib.parse import parse_qsl, urlsplit


@dataclass(frozen=True)
class Reply:
    status: int = 200
    json: Any = None
    body: str | bytes = b""
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # wait before answering: a slow API, for the client's timeouts

    def content(self) -> bytes:
        if self.json is not None:
            return json.dumps(self.json, ensure_ascii=False).encode()
        return self.body.encode() if isinstance(self.body, str) else self.body


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, str]  # one value per name (the last); ``query_string`` has them all
    headers: dict[str, str]  # names lowercased
    body: bytes
    query_string: str = ""

    def json(self) -> Any:
        return json.loads(self.body)

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


Responder: TypeAlias = Callable[[Recorded], Reply]


def not_found(request: Recorded) -> Reply:
    return Reply(404, {"error": f"no route for {request.method} {request.path}"})


class ScriptedApi:
    """The server (started at once, stopped by ``close()`` or at the end of a ``with`` block)."""

    def __init__(self, *, fallback: Responder = not_found, tls: ssl.SSLContext | None = None) -> None:
        self.routes: dict[tuple[str, str], deque[Reply | Responder]] = {}
        self.requests: list[Recorded] = []
        self.fallback = fallback
        self.scheme = "https" if tls else "http"
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.api = self
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def reply(self, method: str, path: str, *replies: Reply | Responder) -> None:
        self.routes[(method, path)] = deque(replies)

    def page(self, path: str, html: str, *, content_type: str = "text/html; charset=utf-8", **options: Any) -> str:
        """Serve ``html`` at ``path``; returns its URL."""
        self.reply("GET", path, Reply(body=html, content_type=content_type, **options))
        return self.url + path

    def requests_to(self, method: str, path: str) -> list[Recorded]:
        return [request for request in self.requests if (request.method, request.path) == (method, path)]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ScriptedApi:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def answer(self, request: Recorded) -> Reply:
        replies = self.routes.get((request.method, f"{request.path}?{request.query_string}")) or self.routes.get(
            (request.method, request.path)
        )
        if not replies:
            return self.fallback(request)
        scripted = replies.popleft() if len(replies) > 1 else replies[0]
        return scripted(request) if callable(scripted) else scripted


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _handle(self) -> None:
        target = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        request = Recorded(
            method=self.command,
            path=target.path,
            query=dict(parse_qsl(target.query)),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=self.rfile.read(length) if length else b"",
            query_string=target.query,
        )
        api = self.server.api
        api.requests.append(request)
        reply = api.answer(request)
        if reply.delay_s:
            time.sleep(reply.delay_s)
        content = reply.content()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(content)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(content)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            pass

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    api: ScriptedApi
