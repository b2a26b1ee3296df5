"""The SSRF-safe HTTP client every node and plugin uses for outbound requests (plain httpx).

No Django here, so the engine can use it too; the host builds one from settings
(``SsrfSafeHttpClient(allow=settings.…)``) and hands it to runs as ``RuntimeServices.http``.

For each hop of a request:

1. only ``http`` and ``https`` URLs are followed;
2. the host name is resolved once, and every address it resolves to must be public (not private,
   loopback, link-local, multicast, reserved, unspecified, CGNAT 100.64/10, IPv6 ULA or
   link-local, IPv4-mapped/6to4/Teredo/NAT64 wrapping such an address) unless the host name or
   the address is allow-listed;
3. the connection goes to that vetted address (the URL's host is swapped for it), with the
   original ``Host`` header and TLS SNI / certificate name, so a second DNS answer (rebinding)
   is never asked for;
4. redirects are followed by hand, at most ``max_redirects``, each hop checked again;
5. the response body is read up to ``max_response_bytes`` and the whole exchange (DNS included)
   must end within the timeout.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import httpx

from builder.engine.i18n import gettext_noop
from builder.engine.runtime.contract import HttpResponse, NodeError, node_error

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port -> the addresses to consider (the default asks the system resolver).
Resolver = Callable[[str, int], Awaitable[list[str]]]

# Where ``download`` streams a successful body, and how many bytes it takes at most.
_Sink = tuple[Callable[[bytes], Awaitable[None]], int]

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
DEFAULT_PORTS = {"http": 80, "https": 443}
# Never sent on to another origin after a redirect.
_CREDENTIAL_HEADERS = ("authorization", "cookie", "proxy-authorization")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_INVALID_URL = gettext_noop("Invalid URL: %(error)s")
_NOT_PUBLIC = gettext_noop("Requests to %(host)s are not allowed: it is not a public address.")
_RESOLVED_NOT_PUBLIC = gettext_noop("Requests to %(host)s (%(address)s) are not allowed: it is not a public address.")


def is_public_address(address: IPAddress) -> bool:
    """True for an address on the public internet; False for anything local, private or special."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return False
        embedded = [address.sixtofour] if address.sixtofour else []
        if address.teredo:
            embedded += list(address.teredo)
        if address in _NAT64:
            embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if not all(is_public_address(inner) for inner in embedded):
            return False
        if address.is_site_local:
            return False
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or address in _CGNAT
        or not address.is_global
    )


class AllowList:
    """Host names (exact, or ``*.example.com`` for subdomains) and IP networks exempt from the check."""

    def __init__(self, entries: Iterable[str] = ()) -> None:
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        self.hosts: set[str] = set()
        self.suffixes: list[str] = []
        for raw in entries:
            entry = raw.strip().lower().rstrip(".")
            if not entry:
                continue
            try:
                self.networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                if entry.startswith("*."):
                    self.suffixes.append(entry[1:])
                else:
                    self.hosts.add(entry)

    def allows_host(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return host in self.hosts or any(host.endswith(suffix) for suffix in self.suffixes)

    def allows_address(self, address: IPAddress) -> bool:
        return any(address.version == network.version and address in network for network in self.networks)


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


_default_ssl_context: ssl.SSLContext | None = None


def _ssl_context() -> ssl.SSLContext:
    """httpx's default (certifi) context, built once: loading the CA bundle takes ~20 ms."""
    global _default_ssl_context
    if _default_ssl_context is None:
        _default_ssl_context = httpx.create_ssl_context()
    return _default_ssl_context


class SsrfSafeHttpClient:
    """Implements the engine's ``HttpClient``. Raises ``NodeError``: ``invalid_url``, ``ssrf_blocked``,
    ``http_timeout`` and ``http_error`` (both retryable, except too many redirects), ``response_too_large``."""

    def __init__(
        self,
        *,
        allow: Iterable[str] = (),
        max_redirects: int = 5,
        max_response_bytes: int = 10 * 1024 * 1024,
        user_agent: str = "Agentloom",
        resolver: Resolver | None = None,
        verify: ssl.SSLContext | None = None,
    ) -> None:
        self.allow = AllowList(allow)
        self.max_redirects = max_redirects
        self.max_response_bytes = max_response_bytes
        self.user_agent = user_agent
        self.resolver = resolver or system_resolver
        self._verify = verify

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        content: str | bytes | None = None,
        timeout_s: float = 30.0,
    ) -> HttpResponse:
        try:
            target = httpx.URL(url)
            if params:
                target = target.copy_merge_params(dict(params))  # added to the URL's own query
            first = httpx.Request(method.upper(), target, headers=headers, json=json, data=data, content=content)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError, TypeError) as error:
            raise node_error(
                "invalid_url", gettext_noop("Invalid URL or request: %(error)s"), error=str(error)
            ) from error
        try:
            async with asyncio.timeout(timeout_s):
                return await self._follow(first, timeout_s)
        except TimeoutError as error:
            template = gettext_noop("No complete response within %(seconds)s s.")
            raise node_error("http_timeout", template, retryable=True, seconds=f"{timeout_s:g}") from error

    async def download(
        self,
        url: str,
        sink: Callable[[bytes], Awaitable[None]],
        *,
        max_bytes: int,
        headers: Mapping[str, str] | None = None,
        timeout_s: float = 600.0,
    ) -> HttpResponse:
        """GET ``url`` as ``request`` does (every hop checked), but hand a successful (2xx) body to
        ``sink`` chunk by chunk instead of holding it: a file of hundreds of megabytes. Past
        ``max_bytes`` it stops with ``response_too_large``. The response returned has an empty body
        then; any other status comes back as ``request`` returns it."""
        try:
            first = httpx.Request("GET", httpx.URL(url), headers=headers)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError, TypeError) as error:
            raise node_error("invalid_url", _INVALID_URL, error=str(error)) from error
        try:
            async with asyncio.timeout(timeout_s):
                return await self._follow(first, timeout_s, sink=(sink, max_bytes))
        except TimeoutError as error:
            template = gettext_noop("No complete download within %(seconds)s s.")
            raise node_error("http_timeout", template, retryable=True, seconds=f"{timeout_s:g}") from error

    async def vet_url(self, url: str) -> str:
        """The address a connection for ``url`` must go to, after the checks above: for a library that
        opens its own connections (the MCP SDK) and pins each one to it. ``NodeError`` otherwise."""
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as error:
            raise node_error("invalid_url", _INVALID_URL, error=str(error)) from error
        return str(await self.vet(parsed))

    async def vet(self, url: httpx.URL) -> IPAddress:
        """The address to connect to for ``url``, or ``NodeError`` ssrf_blocked / invalid_url / http_error."""
        host, literal = _target(url)
        if literal is not None:
            return self._choose(host, literal, [literal])
        try:
            resolved = await self.resolver(host, url.port or DEFAULT_PORTS[url.scheme])
        except (OSError, UnicodeError) as error:
            raise _unresolved(host, error) from error
        return self._choose(host, None, resolved)

    def vet_sync(self, url: httpx.URL) -> IPAddress:
        """``vet`` for synchronous callers (an SDK's blocking client), asking the system resolver."""
        host, literal = _target(url)
        if literal is not None:
            return self._choose(host, literal, [literal])
        try:
            infos = socket.getaddrinfo(host, url.port or DEFAULT_PORTS[url.scheme], type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as error:
            raise _unresolved(host, error) from error
        return self._choose(host, None, [str(info[4][0]) for info in infos])

    def _choose(self, host: str, literal: IPAddress | None, resolved: list[Any]) -> IPAddress:
        candidates = [ipaddress.ip_address(str(address).split("%", 1)[0]) for address in resolved]
        if not candidates:
            raise node_error("http_error", gettext_noop("Could not resolve %(host)s."), retryable=True, host=host)
        if literal is None and self.allow.allows_host(host):
            return candidates[0]
        for address in candidates:
            if not (self.allow.allows_address(address) or is_public_address(address)):
                template = _NOT_PUBLIC if literal is not None else _RESOLVED_NOT_PUBLIC
                raise node_error(
                    "ssrf_blocked",
                    template,
                    details={"host": host, "address": str(address)},
                    host=host,
                    address=str(address),
                )
        return candidates[0]

    async def _follow(self, request: httpx.Request, timeout_s: float, sink: _Sink | None = None) -> HttpResponse:
        body = request.read()
        for _ in range(self.max_redirects + 1):
            address = await self.vet(request.url)
            response = await self._send_pinned(request, body, address, timeout_s, sink)
            location = response.headers.get("location")
            if response.status_code not in REDIRECT_STATUSES or not location:
                return response
            request, body = self._redirected(request, body, response.status_code, location)
        raise node_error("http_error", gettext_noop("More than %(count)s redirects."), count=self.max_redirects)

    def _redirected(
        self, request: httpx.Request, body: bytes, status: int, location: str
    ) -> tuple[httpx.Request, bytes]:
        try:
            target = request.url.join(location)
        except (httpx.InvalidURL, ValueError) as error:
            template = gettext_noop("The server redirected to an invalid URL: %(location)s")
            raise node_error("http_error", template, location=location) from error
        method = request.method
        headers = httpx.Headers(request.headers)
        if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
            method, body = "GET", b""
            for name in ("content-type", "content-length", "transfer-encoding"):
                headers.pop(name, None)
        if (target.scheme, target.host, target.port) != (request.url.scheme, request.url.host, request.url.port):
            for name in _CREDENTIAL_HEADERS:
                headers.pop(name, None)
        headers.pop("host", None)
        return httpx.Request(method, target, headers=headers, content=body or None), body

    async def _send_pinned(
        self, request: httpx.Request, body: bytes, address: IPAddress, timeout_s: float, sink: _Sink | None = None
    ) -> HttpResponse:
        """Send ``request`` to ``address``, keeping the original Host and TLS server name (a 2xx body
        to ``sink`` when there is one)."""
        url = request.url
        headers = httpx.Headers(request.headers)
        headers["host"] = url.netloc.decode("ascii")
        headers.setdefault("user-agent", self.user_agent)
        headers.setdefault("accept", "*/*")
        extensions: dict[str, Any] = {"timeout": dict.fromkeys(("connect", "read", "write", "pool"), timeout_s)}
        if url.scheme == "https":
            extensions["sni_hostname"] = url.host
        pinned = httpx.Request(
            request.method, url.copy_with(host=str(address)), headers=headers, content=body, extensions=extensions
        )
        # The transport itself, not a client: no environment proxies, no redirects, no logging of
        # URLs (which may carry an API key). One per hop: pooled connections are keyed by address,
        # and two host names on one address must not share a TLS connection verified for one.
        transport = httpx.AsyncHTTPTransport(verify=self._verify or _ssl_context(), trust_env=False)
        try:
            async with transport:
                response = await transport.handle_async_request(pinned)
                try:
                    if sink is not None and 200 <= response.status_code < 300:
                        await self._stream_capped(response, *sink)
                        content = b""
                    else:
                        content = await self._read_capped(response)
                finally:
                    await response.aclose()
        except httpx.TimeoutException as error:
            template = gettext_noop("%(host)s did not answer in time.")
            raise node_error("http_timeout", template, retryable=True, host=url.host) from error
        except httpx.HTTPError as error:
            template = gettext_noop("Request to %(host)s failed: %(error)s")
            reason = str(error) or type(error).__name__
            raise node_error("http_error", template, retryable=True, host=url.host, error=reason) from error
        return HttpResponse(
            status_code=response.status_code,
            headers=dict(response.headers.items()),
            body=_decoded(content, response),
            content=content,
        )

    async def _read_capped(self, response: httpx.Response) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_response_bytes:
            raise self._too_large()
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self.max_response_bytes:
                raise self._too_large()
            chunks.append(chunk)
        return b"".join(chunks)

    async def _stream_capped(
        self, response: httpx.Response, sink: Callable[[bytes], Awaitable[None]], max_bytes: int
    ) -> None:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise self._too_large(max_bytes)
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise self._too_large(max_bytes)
            await sink(chunk)

    def _too_large(self, limit: int | None = None) -> NodeError:
        limit = self.max_response_bytes if limit is None else limit
        return node_error(
            "response_too_large", gettext_noop("The response is larger than %(limit)s bytes."), limit=limit
        )


def _target(url: httpx.URL) -> tuple[str, IPAddress | None]:
    """The host ``url`` names (and the address, when it is written as one); only http and https."""
    if url.scheme not in DEFAULT_PORTS:
        if not url.scheme:
            raise node_error("ssrf_blocked", gettext_noop("Only http and https URLs may be requested."))
        template = gettext_noop("Only http and https URLs may be requested, not %(scheme)s.")
        raise node_error("ssrf_blocked", template, scheme=url.scheme)
    host = url.host
    if not host:
        raise node_error("invalid_url", gettext_noop("The URL has no host."))
    try:
        return host, ipaddress.ip_address(host)
    except ValueError:
        return host, None


def _unresolved(host: str, error: BaseException) -> NodeError:
    template = gettext_noop("Could not resolve %(host)s: %(error)s")
    return node_error("http_error", template, retryable=True, host=host, error=str(error))


def _decoded(content: bytes, response: httpx.Response) -> str:
    try:
        return content.decode(response.charset_encoding or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return content.decode("utf-8", errors="replace")
