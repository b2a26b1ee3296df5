"""A scripted HTTP server on 127.0.0.1 standing in for a video API (and the CDN its files come from).

Each route (method + path, or path + query when one was scripted with its query) answers with its
scripted replies in order, the last one repeating;
every request is recorded, so a test asserts the request shape the real API expects (method,
path, query, headers, JSON body).

    api.reply("POST", "/v1/videos", Reply(json={"id": "video_1", "status": "queued", "progress": 0}))
    ...
    [create] = api.requests_to("POST", "/v1/videos")
    assert create.headers["authorization"] == "Bearer sk-test"
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass(frozen=True)
class Reply:
    status: int = 200
    json: Any = None
    body: bytes = b""
    content_type: str = "application/json"

    def content(self) -> bytes:
        return json.dumps(self.json, ensure_ascii=False).encode() if self.json is not None else self.body


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names lowercased
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FakeApi:
    routes: dict[tuple[str, str], deque[Reply]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)

    def __post_init__(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._answer(self)

            def do_POST(self) -> None:
                fake._answer(self)

            def do_DELETE(self) -> None:
                fake._answer(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def reply(self, method: str, path: str, *replies: Reply) -> None:
        self.routes[(method, path)] = deque(replies)

    def requests_to(self, method: str, path: str) -> list[Recorded]:
        return [request for request in self.requests if (request.method, request.path) == (method, path)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        target = urlsplit(handler.path)
        length = int(handler.headers.get("content-length") or 0)
        self.requests.append(
            Recorded(
                method=handler.command,
                path=target.path,
                query=dict(parse_qsl(target.query)),
                headers={name.lower(): value for name, value in handler.headers.items()},
                body=handler.rfile.read(length) if length else b"",
            )
        )
        replies = self.routes.get((handler.command, f"{target.path}?{target.query}")) or self.routes.get(
            (handler.command, target.path)
        )
        reply = (
            (replies.popleft() if len(replies) > 1 else replies[0]) if replies else Reply(404, {"error": "no route"})
        )
        content = reply.content()
        try:
            handler.send_response(reply.status)
            handler.send_header("Content-Type", reply.content_type)
            handler.send_header("Content-Length", str(len(content)))
            handler.end_headers()
            handler.wfile.write(content)
        except (BrokenPipeError, ConnectionResetError):
            pass
