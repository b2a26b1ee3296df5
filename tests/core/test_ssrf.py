"""The SSRF-safe client against real servers on 127.0.0.1: blocked unless allow-listed, every
redirect hop checked again, the vetted address used for the connection, sizes and time capped."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import pytest

from builder.core.ssrf import SsrfSafeHttpClient, is_public_address
from builder.engine.runtime.contract import NodeError
from tests.support.http_server import LocalHttpServer, serve, tls_for


@pytest.fixture
def server() -> Iterator[LocalHttpServer]:
    with serve() as running:
        yield running


class FakeDns:
    """A resolver answering from a table (and counting questions), like a DNS the attacker controls."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.questions: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.questions.append(host)
        if host not in self.answers:
            raise OSError(f"unknown host {host}")
        return self.answers[host]


async def blocked(client: SsrfSafeHttpClient, url: str) -> NodeError:
    with pytest.raises(NodeError) as caught:
        await client.request("GET", url, timeout_s=5)
    assert caught.value.code == "ssrf_blocked", caught.value.message
    return caught.value


async def test_a_local_server_is_blocked_by_default(server: LocalHttpServer) -> None:
    error = await blocked(SsrfSafeHttpClient(), server.url("/echo"))

    assert error.message == "Requests to 127.0.0.1 are not allowed: it is not a public address."
    assert server.requests == []


async def test_an_allow_listed_address_is_reached(server: LocalHttpServer) -> None:
    client = SsrfSafeHttpClient(allow=["127.0.0.1"])

    response = await client.request(
        "POST", server.url("/echo"), params={"q": "1"}, json={"a": [1, "ü"]}, headers={"X-Test": "yes"}
    )

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    echo = server.requests[0]
    assert (echo.method, echo.query, echo.text()) == ("POST", {"q": "1"}, '{"a":[1,"ü"]}')
    assert echo.headers["x-test"] == "yes"
    assert echo.headers["host"] == f"127.0.0.1:{server.port}"
    assert echo.headers["user-agent"] == "Agentloom"


@pytest.mark.parametrize("entry", ["127.0.0.0/8", "127.0.0.1/32", "localhost"])
async def test_allow_list_takes_networks_and_host_names(server: LocalHttpServer, entry: str) -> None:
    client = SsrfSafeHttpClient(allow=[entry])
    url = server.url("/text", host="localhost" if entry == "localhost" else "127.0.0.1")

    response = await client.request("GET", url)

    assert response.body == "plain text, not JSON — ünïcode"


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1]/",
        "http://0x7f000001/",
        "http://2130706433/",
        "http://127.1/",
        "http://localhost/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://[::]/",
        "http://0.0.0.0/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/",
        "http://[fd00::1]/",
        "http://10.0.0.1/",
        "http://172.16.5.4/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",
        "http://224.0.0.1/",
        "http://[2002:7f00:1::]/",
    ],
)
async def test_local_and_special_addresses_are_blocked(url: str) -> None:
    await blocked(SsrfSafeHttpClient(), url)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/", "gopher://127.0.0.1:70/"])
async def test_only_http_and_https(url: str) -> None:
    error = await blocked(SsrfSafeHttpClient(allow=["127.0.0.1"]), url)

    assert error.message.startswith("Only http and https URLs may be requested")


async def test_a_name_resolving_to_a_private_address_is_blocked() -> None:
    dns = FakeDns({"innocent.example": ["93.184.216.34", "10.0.0.5"]})

    error = await blocked(SsrfSafeHttpClient(resolver=dns), "http://innocent.example/")

    assert error.message == "Requests to innocent.example (10.0.0.5) are not allowed: it is not a public address."


@pytest.mark.parametrize(
    "target", ["http://127.0.0.1:{port}/echo", "http://169.254.169.254/", "http://localhost:{port}/"]
)
async def test_a_redirect_from_an_allowed_host_to_a_local_one_is_blocked(server: LocalHttpServer, target: str) -> None:
    # The allowed host is allow-listed by name (say, a partner API); 127.0.0.1 itself is not.
    dns = FakeDns({"partner.test": ["127.0.0.1"], "localhost": ["127.0.0.1"]})
    client = SsrfSafeHttpClient(allow=["partner.test"], resolver=dns)
    redirect = server.url("/redirect", host="partner.test") + "?to=" + target.format(port=server.port)

    await blocked(client, redirect)

    assert [request.path for request in server.requests] == ["/redirect"]


async def test_redirects_are_followed_and_each_hop_resolved_once(server: LocalHttpServer) -> None:
    dns = FakeDns({"a.test": ["127.0.0.1"], "b.test": ["127.0.0.1"]})
    client = SsrfSafeHttpClient(allow=["*.test"], resolver=dns)
    final = server.url("/echo", host="b.test")
    first = server.url("/redirect", host="a.test") + f"?status=303&to={final}"

    response = await client.request("POST", first, content="payload", headers={"Authorization": "Bearer s3cret"})

    assert response.status_code == 200
    assert dns.questions == ["a.test", "b.test"]
    landed = server.requests[-1]
    assert (landed.method, landed.body) == ("GET", b"")  # 303: GET without the body
    assert landed.headers["host"] == f"b.test:{server.port}"
    assert "authorization" not in landed.headers  # credentials stay with the origin they were for


async def test_too_many_redirects(server: LocalHttpServer) -> None:
    client = SsrfSafeHttpClient(allow=["127.0.0.1"], max_redirects=2)
    url = server.url("/redirect") + "?to=/redirect%3Fto%3D/redirect%253Fto%253D/echo"

    with pytest.raises(NodeError) as caught:
        await client.request("GET", url)

    assert (caught.value.code, caught.value.message) == ("http_error", "More than 2 redirects.")


async def test_the_vetted_address_is_used_with_the_original_tls_name() -> None:
    # The certificate is only valid for secure.test: the handshake succeeds only if the client
    # connects to the pinned 127.0.0.1 while sending SNI secure.test and checking that name.
    server_tls, client_tls = tls_for("secure.test")
    dns = FakeDns({"secure.test": ["127.0.0.1"]})
    client = SsrfSafeHttpClient(allow=["secure.test"], resolver=dns, verify=client_tls)
    with serve(tls=server_tls) as server:
        response = await client.request("GET", server.url("/echo", host="secure.test"))

    assert response.status_code == 200
    assert dns.questions == ["secure.test"]
    assert server.requests[0].headers["host"] == f"secure.test:{server.port}"


async def test_a_response_over_the_size_cap(server: LocalHttpServer) -> None:
    client = SsrfSafeHttpClient(allow=["127.0.0.1"], max_response_bytes=1000)

    small = await client.request("GET", server.url("/bytes?size=1000"))
    with pytest.raises(NodeError) as caught:
        await client.request("GET", server.url("/bytes?size=1001"))

    assert len(small.body) == 1000
    assert caught.value.code == "response_too_large"


async def test_a_slow_server_times_out(server: LocalHttpServer) -> None:
    client = SsrfSafeHttpClient(allow=["127.0.0.1"])

    with pytest.raises(NodeError) as caught:
        await client.request("GET", server.url("/slow?s=2"), timeout_s=0.3)

    assert caught.value.code == "http_timeout"
    assert caught.value.retryable


async def test_a_refused_connection_is_a_retryable_http_error() -> None:
    client = SsrfSafeHttpClient(allow=["127.0.0.1"])
    with serve() as gone:
        url = gone.url("/echo")

    with pytest.raises(NodeError) as caught:
        await client.request("GET", url)

    assert caught.value.code == "http_error"
    assert caught.value.retryable


async def test_an_invalid_url() -> None:
    with pytest.raises(NodeError) as caught:
        await SsrfSafeHttpClient().request("GET", "http://0177.0.0.1/")

    assert caught.value.code == "invalid_url"


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("2002:808:808::1", True),
        ("127.0.0.1", False),
        ("100.127.255.255", False),
        ("198.18.0.1", False),
        ("255.255.255.255", False),
        ("fec0::1", False),
        ("ff02::1", False),
        ("::ffff:8.8.8.8", False),
        ("64:ff9b::a00:1", False),
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public
