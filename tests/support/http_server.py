"""A small HTTP(S) server on 127.0.0.1 for tests of outbound requests (the SSRF-safe client, the
http_request node). A real server in a thread, recording every request it gets.

Routes: ``/echo`` (the request as JSON), ``/redirect?to=URL&status=302``, ``/status/<code>``,
``/bytes?size=N``, ``/slow?s=SECONDS``, ``/text``; anything else is 404. ``tls_for("host.test")``
makes a self-signed certificate so HTTPS can be served under a host name that resolves (in the
test's resolver) to 127.0.0.1.
"""

from __future__ import annotations

import datetime
import json
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: str


class LocalHttpServer:
    def __init__(self, server: ThreadingHTTPServer, scheme: str) -> None:
        self.server = server
        self.scheme = scheme
        self.requests: list[Recorded] = []

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length).decode("utf-8", errors="replace") if length else ""
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        recorded = Recorded(self.command, parts.path, query, {k.lower(): v for k, v in self.headers.items()}, body)
        self.server.owner.requests.append(recorded)
        path = parts.path
        if path == "/echo":
            echo = {"method": recorded.method, "path": path, "query": query, "headers": recorded.headers, "body": body}
            self._reply(200, json.dumps(echo).encode(), "application/json")
        elif path == "/redirect":
            status = int(query.get("status", ["302"])[0])
            self._reply(status, b"", "text/plain", {"Location": query["to"][0]})
        elif path.startswith("/status/"):
            status = int(path.rsplit("/", 1)[1])
            self._reply(status, f"status {status}".encode(), "text/plain", {"Retry-After": "1"})
        elif path == "/bytes":
            self._reply(200, b"x" * int(query["size"][0]), "application/octet-stream")
        elif path == "/slow":
            time.sleep(float(query["s"][0]))
            self._reply(200, b"late", "text/plain")
        elif path == "/text":
            self._reply(200, "plain text, not JSON — ünïcode".encode(), "text/plain; charset=utf-8")
        else:
            self._reply(404, b"not found", "text/plain")

    def _reply(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: LocalHttpServer


@contextmanager
def serve(tls: ssl.SSLContext | None = None) -> Iterator[LocalHttpServer]:
    server = _Server(("127.0.0.1", 0), _Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    owner = server.owner = LocalHttpServer(server, "https" if tls else "http")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield owner
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def tls_for(host: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context trusting only this certificate) for a self-signed ``host``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certificate_pem = certificate.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # load_cert_chain reads files only; a pair of in-memory files via a temporary directory.
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as directory:
        cert_file, key_file = Path(directory) / "cert.pem", Path(directory) / "key.pem"
        cert_file.write_bytes(certificate_pem)
        key_file.write_bytes(key_pem)
        server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cadata=certificate_pem.decode())
    return server, client
