"""One async HTTP client per event loop for the provider SDKs.

By default langchain-openai and langchain-anthropic share one process-wide async HTTP client. Its
pooled connections belong to the event loop that opened them, so the next event loop (each Celery
task's ``asyncio.run``, each test) would reuse dead connections and fail with "Event loop is
closed". Keying the client by the running loop keeps connection reuse within a loop (hundreds of
concurrent streams share one pool) and never across loops.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any, Literal

Sdk = Literal["openai", "anthropic"]
_CLIENTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Any]] = weakref.WeakKeyDictionary()


def loop_http_client(sdk: Sdk) -> Any | None:
    """The running loop's async client for ``sdk``; None outside a loop (LangChain's default then)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    clients = _CLIENTS.setdefault(loop, {})
    client = clients.get(sdk)
    if client is None or client.is_closed:
        # Imported here: the SDKs take a second to import and most processes need one at most.
        if sdk == "openai":
            import openai

            client = openai.DefaultAsyncHttpxClient()
        else:
            import anthropic

            client = anthropic.DefaultAsyncHttpxClient()
        clients[sdk] = client
    return client
