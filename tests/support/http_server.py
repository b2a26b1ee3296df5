"""A small HTTP(S) server on 127.0.0.1 for tests of outbound requests (the SSRF-safe client, the
http_request node): a ``ScriptedApi`` with fixed routes, recording every request it gets.

Routes: ``/echo`` (the request as JSON), ``/redirect?to=URL&status=302``, ``/status/<code>``,
``/bytes?size=N``, ``/slow?s=SECONDS``, ``/text``; anything else is 404. ``tls_for("host.test")``
makes a self-signed certificate so HTTPS can be served under a host name that resolves (in the
test's resolver) to 127.0.0.1.
"""

from __future__ import annotations

import datetime
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs

from tests.support.scripted_api import Recorded, Reply, ScriptedApi


class LocalHttpServer:
    """Where the server listens (under any host name) and what it received."""

    def __init__(self, api: ScriptedApi) -> None:
        self.api = api

    @property
    def requests(self) -> list[Recorded]:
        return self.api.requests

    @property
    def port(self) -> int:
        return self.api.port

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"{self.api.scheme}://{host}:{self.port}{path}"


def _routes(request: Recorded) -> Reply:
    query = parse_qs(request.query_string)
    path = request.path
    if path == "/echo":
        echo = {
            "method": request.method,
            "path": path,
            "query": query,
            "headers": request.headers,
            "body": request.text(),
        }
        return Reply(json=echo)
    if path == "/redirect":
        status = int(query.get("status", ["302"])[0])
        return Reply(status, content_type="text/plain", headers={"Location": query["to"][0]})
    if path.startswith("/status/"):
        status = int(path.rsplit("/", 1)[1])
        return Reply(status, body=f"status {status}", content_type="text/plain", headers={"Retry-After": "1"})
    if path == "/bytes":
        return Reply(body=b"x" * int(query["size"][0]), content_type="application/octet-stream")
    if path == "/slow":
        return Reply(body="late", content_type="text/plain", delay_s=float(query["s"][0]))
    if path == "/text":
        return Reply(body="plain text, not JSON — ünïcode", content_type="text/plain; charset=utf-8")
    return Reply(404, body="not found", content_type="text/plain")


@contextmanager
def serve(tls: ssl.SSLContext | None = None) -> Iterator[LocalHttpServer]:
    with ScriptedApi(fallback=_routes, tls=tls) as api:
        yield LocalHttpServer(api)


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
