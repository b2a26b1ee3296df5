"""Cancelling a run that may execute in this process (embedded) or on a worker (production).

In-process runs get an asyncio.Event set at once; elsewhere the executor's heartbeat sees the flag
in the shared cache (Redis in production) within a couple of seconds.
"""

from __future__ import annotations

import asyncio

from django.core.cache import cache

_local: dict[str, asyncio.Event] = {}
CANCEL_FLAG_TTL_S = 3600


def _key(run_id: str) -> str:
    return f"agentloom:run-cancel:{run_id}"


def local_cancel_event(run_id: str) -> asyncio.Event:
    event = _local.get(run_id)
    if event is None:
        event = _local[run_id] = asyncio.Event()
    return event


def forget_cancel(run_id: str) -> None:
    _local.pop(run_id, None)


def request_cancel(run_id: str) -> None:
    cache.set(_key(run_id), True, CANCEL_FLAG_TTL_S)
    event = _local.get(run_id)
    if event is not None:
        # Called from sync code too: set the event on its own loop.
        loop = getattr(event, "_loop", None)
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(event.set)
        else:
            event.set()


async def cancel_requested(run_id: str) -> bool:
    return bool(await cache.aget(_key(run_id)))
