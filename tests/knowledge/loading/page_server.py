"""A real HTTP server on 127.0.0.1 for documents fetched by URL (tests/support/http_server.py serves
fixed routes only; these tests need pages with any body and content type)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# A held page is answered after this long anyway: a failing test never leaves a handler waiting.
HOLD_TIMEOUT_S = 120.0


@dataclass
class PageServer:
    """A real HTTP server on 127.0.0.1 serving whatever a test puts in ``pages``:
    path -> (body, Content-Type)."""

    port: int
    pages: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    # path -> an event the answer waits for: a page that is "still downloading" until the test says.
    holds: dict[str, threading.Event] = field(default_factory=dict)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        hold = self.server.site.holds.get(self.path)
        if hold is not None:
            hold.wait(timeout=HOLD_TIMEOUT_S)
        body, content_type = self.server.site.pages.get(self.path, (b"not found", "text/plain"))
        self.send_response(200 if self.path in self.server.site.pages else 404)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    site: PageServer


@contextmanager
def serve_pages() -> Iterator[PageServer]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.site = PageServer(port=int(server.server_address[1]))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.site
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
