"""httpx transports that hold an SDK's HTTP client to the SSRF policy of ``ssrf.py``.

Model providers are reached through their SDKs (openai, anthropic, ollama), which build requests
and open connections themselves. Given to the SDKs' httpx clients, these transports vet each
request's host when it is sent (DNS may have changed since the provider was saved), refuse a
private, loopback or link-local address unless the allow-list names it (``AGENTLOOM_HTTP_ALLOWLIST``),
and pin the connection to the vetted address with the original Host and TLS server name, so a
second DNS answer is never asked for. A refusal is the ``NodeError`` ``ssrf_blocked``, which the
SDKs wrap as a connection error (``model_calls.policy_refusal`` finds it again). No Django here.

Each vetted (scheme, host, port, address) gets a pooled inner transport of its own: two host names
on one address must not share a TLS connection verified for one of them.
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Iterable
from types import ModuleType
from typing import Any

from builder.core.ssrf import IPAddress, Resolver, SsrfSafeHttpClient

# What the SDKs' own default clients allow (openai's DEFAULT_CONNECTION_LIMITS).
MAX_CONNECTIONS, MAX_KEEPALIVE = 1000, 100
_Key = tuple[str, str, int | None, str]


def http_library(client_class: type) -> ModuleType:
    """The httpx-like library an SDK's client class is built on: httpx (ollama) or its fork httpx2
    (openai, anthropic), whose classes are unrelated to httpx's though their API is the same."""
    for klass in client_class.__mro__:
        if klass.__name__ in ("Client", "AsyncClient"):
            return sys.modules[klass.__module__.partition(".")[0]]
    raise TypeError(f"{client_class.__name__} is not an httpx client")


def ssrf_safe_async_transport(http: ModuleType, *, allow: Iterable[str] = (), resolver: Resolver | None = None) -> Any:
    """An async transport of library ``http`` that vets and pins every request (module docstring)."""
    return _transport_classes(http)[0](allow=allow, resolver=resolver)


def ssrf_safe_transport(http: ModuleType, *, allow: Iterable[str] = ()) -> Any:
    """The same for blocking clients (the "check connection" call, listing models, embeddings)."""
    return _transport_classes(http)[1](allow=allow)


def _pinned(http: ModuleType, request: Any, address: IPAddress) -> Any:
    """``request`` sent to ``address``: the same Host header, TLS server name and body."""
    url = request.url
    extensions = dict(request.extensions)
    if url.scheme == "https":
        extensions["sni_hostname"] = url.host
    headers = http.Headers(request.headers)
    headers["host"] = url.netloc.decode("ascii")
    return http.Request(
        request.method,
        url.copy_with(host=str(address)),
        headers=headers,
        stream=request.stream,
        extensions=extensions,
    )


def _key(url: Any, address: IPAddress) -> _Key:
    return url.scheme, url.host, url.port, str(address)


@functools.cache
def _transport_classes(http: ModuleType) -> tuple[type, type]:
    limits = http.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_KEEPALIVE)

    class SsrfSafeAsyncTransport(http.AsyncBaseTransport):  # type: ignore[name-defined]
        def __init__(self, *, allow: Iterable[str] = (), resolver: Resolver | None = None) -> None:
            self._policy = SsrfSafeHttpClient(allow=allow, resolver=resolver)
            self._inner: dict[_Key, Any] = {}

        async def handle_async_request(self, request: Any) -> Any:
            address = await self._policy.vet(request.url)
            key = _key(request.url, address)
            inner = self._inner.get(key)
            if inner is None:
                inner = self._inner[key] = http.AsyncHTTPTransport(limits=limits, trust_env=False)
            return await inner.handle_async_request(_pinned(http, request, address))

        async def aclose(self) -> None:
            inner, self._inner = self._inner, {}
            for transport in inner.values():
                await transport.aclose()

    class SsrfSafeTransport(http.BaseTransport):  # type: ignore[name-defined]
        def __init__(self, *, allow: Iterable[str] = ()) -> None:
            self._policy = SsrfSafeHttpClient(allow=allow)
            self._inner: dict[_Key, Any] = {}
            self._lock = threading.Lock()  # blocking clients are shared by threads

        def handle_request(self, request: Any) -> Any:
            address = self._policy.vet_sync(request.url)
            key = _key(request.url, address)
            with self._lock:
                inner = self._inner.get(key)
                if inner is None:
                    inner = self._inner[key] = http.HTTPTransport(limits=limits, trust_env=False)
            return inner.handle_request(_pinned(http, request, address))

        def close(self) -> None:
            with self._lock:
                inner, self._inner = self._inner, {}
            for transport in inner.values():
                transport.close()

    return SsrfSafeAsyncTransport, SsrfSafeTransport
