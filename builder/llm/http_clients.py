"""The HTTP clients the provider SDKs use: one async client per event loop, all through the SSRF policy.

By default langchain-openai and langchain-anthropic share one process-wide async HTTP client. Its
pooled connections belong to the event loop that opened them, so the next event loop (each Celery
task's ``asyncio.run``, each test) would reuse dead connections and fail with "Event loop is
closed". Keying the client by the running loop keeps connection reuse within a loop (hundreds of
concurrent streams share one pool) and never across loops.

Every client sends through ``builder.core.ssrf_transport``: a provider's base URL may not reach a
private, loopback or link-local address unless the allow-list (``AGENTLOOM_HTTP_ALLOWLIST``, which
the embedded default fills with loopback for a local Ollama or vLLM) names it, checked on every
request since DNS can change after the provider was saved. No environment proxies (``trust_env``):
a proxy would connect where the policy never looked.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Iterable
from typing import Any, Literal

from builder.core.ssrf_transport import http_library, ssrf_safe_async_transport, ssrf_safe_transport

Sdk = Literal["openai", "anthropic"]
_CLIENTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, tuple[str, ...]], Any]] = (
    weakref.WeakKeyDictionary()
)
_BLOCKING: dict[tuple[str, tuple[str, ...]], Any] = {}
_blocking_lock = threading.Lock()


def loop_http_client(sdk: Sdk, allow: Iterable[str] = ()) -> Any:
    """The running loop's async client for ``sdk`` and this allow-list (outside a loop, a new one)."""
    key = (sdk, tuple(allow))
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return _async_client(*key)
    clients = _CLIENTS.setdefault(loop, {})
    client = clients.get(key)
    if client is None or client.is_closed:
        client = clients[key] = _async_client(*key)
    return client


def _async_client(sdk: str, allow: tuple[str, ...]) -> Any:
    # Imported here: the SDKs take a second to import and most processes need one at most.
    if sdk == "openai":
        import openai

        client_class = openai.DefaultAsyncHttpxClient
    else:
        import anthropic

        client_class = anthropic.DefaultAsyncHttpxClient
    transport = ssrf_safe_async_transport(http_library(client_class), allow=allow)
    return client_class(transport=transport, trust_env=False)


def blocking_http_client(sdk: Sdk, allow: Iterable[str] = ()) -> Any:
    """A process-wide blocking client for ``sdk`` and this allow-list (not bound to any loop)."""
    key = (sdk, tuple(allow))
    with _blocking_lock:
        client = _BLOCKING.get(key)
        if client is None or client.is_closed:
            if sdk == "openai":
                import openai

                client_class = openai.DefaultHttpxClient
            else:
                import anthropic

                client_class = anthropic.DefaultHttpxClient
            transport = ssrf_safe_transport(http_library(client_class), allow=key[1])
            client = _BLOCKING[key] = client_class(transport=transport, trust_env=False)
        return client


def ollama_client_kwargs(allow: Iterable[str], timeout_s: float) -> dict[str, Any]:
    """``ChatOllama`` / ``OllamaEmbeddings`` arguments for their httpx clients, through the policy."""
    import httpx  # ollama's clients are httpx ones

    return {
        "client_kwargs": {"timeout": timeout_s, "trust_env": False},
        "sync_client_kwargs": {"transport": ssrf_safe_transport(httpx, allow=allow)},
        "async_client_kwargs": {"transport": ssrf_safe_async_transport(httpx, allow=allow)},
    }
