"""SsrfSafeHttpClient.download: a large body streamed to a sink, capped, every hop checked as for requests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from builder.core.ssrf import SsrfSafeHttpClient
from builder.engine.runtime.contract import NodeError
from tests.support.http_server import LocalHttpServer, serve


@pytest.fixture
def server() -> Iterator[LocalHttpServer]:
    with serve() as local:
        yield local


class Sink:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    async def __call__(self, chunk: bytes) -> None:
        self.chunks.append(chunk)


async def test_a_body_larger_than_the_request_cap_is_streamed_to_the_sink(server: LocalHttpServer) -> None:
    client = SsrfSafeHttpClient(allow=["127.0.0.1"], max_response_bytes=1000)
    sink = Sink()

    response = await client.download(server.url("/bytes?size=300000"), sink, max_bytes=400_000)

    assert response.status_code == 200 and response.content == b""
    assert b"".join(sink.chunks) == b"x" * 300_000


async def test_a_download_past_its_cap_stops(server: LocalHttpServer) -> None:
    client = SsrfSafeHttpClient(allow=["127.0.0.1"])

    with pytest.raises(NodeError) as caught:
        await client.download(server.url("/bytes?size=5000"), Sink(), max_bytes=4096)

    assert caught.value.code == "response_too_large" and "4096" in caught.value.message


async def test_an_error_status_is_answered_not_streamed(server: LocalHttpServer) -> None:
    client = SsrfSafeHttpClient(allow=["127.0.0.1"])
    sink = Sink()

    response = await client.download(server.url("/status/404"), sink, max_bytes=4096)

    assert response.status_code == 404 and response.body == "status 404" and sink.chunks == []


async def test_a_download_is_checked_like_a_request(server: LocalHttpServer) -> None:
    redirected = server.url(f"/redirect?to={server.url('/bytes?size=10')}")

    with pytest.raises(NodeError) as caught:
        await SsrfSafeHttpClient().download(server.url("/bytes?size=10"), Sink(), max_bytes=100)
    sink = Sink()
    await SsrfSafeHttpClient(allow=["127.0.0.1"]).download(redirected, sink, max_bytes=100)

    assert caught.value.code == "ssrf_blocked"
    assert b"".join(sink.chunks) == b"x" * 10
