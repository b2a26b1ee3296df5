"""The live log of a run's events, for clients that reconnect while the run is still going.

Every event (token deltas included) is appended here as it is published; a client that reconnects
with its last ``seq`` reads the rest from here, then follows the group. Once the run ends the
database holds the compact copy (deltas folded into ``message.completed``), and the live log expires.
Embedded default: process memory. Production (``REDIS_URL``): a Redis list per run, shared by all
web and worker processes.
"""

from __future__ import annotations

import asyncio
import json
import time
import weakref
from collections import OrderedDict
from functools import lru_cache
from typing import Any, Protocol

from django.conf import settings

LIVE_LOG_TTL_S = 3600
MAX_RUNS_IN_MEMORY = 2000


class LiveEventLog(Protocol):
    async def append(self, run_id: str, events: list[dict[str, Any]]) -> None:
        """Add a batch of events, in ``seq`` order."""

    async def since(self, run_id: str, seq: int) -> list[dict[str, Any]] | None:
        """Events with a greater ``seq``, or None when this log knows nothing of the run."""

    async def forget(self, run_id: str) -> None: ...


class MemoryEventLog:
    def __init__(self) -> None:
        self._runs: OrderedDict[str, tuple[float, list[dict[str, Any]]]] = OrderedDict()

    async def append(self, run_id: str, events: list[dict[str, Any]]) -> None:
        _stamp, logged = self._runs.get(run_id) or (0.0, [])
        logged.extend(events)
        self._runs[run_id] = (time.monotonic(), logged)
        self._runs.move_to_end(run_id)
        self._evict()

    async def since(self, run_id: str, seq: int) -> list[dict[str, Any]] | None:
        entry = self._runs.get(run_id)
        if entry is None:
            return None
        return [event for event in entry[1] if event["seq"] > seq]

    async def forget(self, run_id: str) -> None:
        self._runs.pop(run_id, None)

    def _evict(self) -> None:
        deadline = time.monotonic() - LIVE_LOG_TTL_S
        while self._runs and (len(self._runs) > MAX_RUNS_IN_MEMORY or next(iter(self._runs.values()))[0] < deadline):
            self._runs.popitem(last=False)


class RedisEventLog:
    def __init__(self, url: str) -> None:
        self._url = url
        # A connection pool belongs to one event loop (Celery tasks each run their own loop).
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()

    def _client(self) -> Any:
        import redis.asyncio as redis

        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = redis.Redis.from_url(self._url)
        return client

    async def append(self, run_id: str, events: list[dict[str, Any]]) -> None:
        key = f"agentloom:run-events:{run_id}"
        async with self._client().pipeline(transaction=False) as pipe:
            pipe.rpush(key, *(json.dumps(event, separators=(",", ":")) for event in events))
            pipe.expire(key, LIVE_LOG_TTL_S)
            await pipe.execute()

    async def since(self, run_id: str, seq: int) -> list[dict[str, Any]] | None:
        raw = await self._client().lrange(f"agentloom:run-events:{run_id}", 0, -1)
        if not raw:
            return None
        events = [json.loads(item) for item in raw]
        return [event for event in events if event["seq"] > seq]

    async def forget(self, run_id: str) -> None:
        await self._client().delete(f"agentloom:run-events:{run_id}")


@lru_cache(maxsize=1)
def live_event_log() -> LiveEventLog:
    return RedisEventLog(settings.REDIS_URL) if settings.REDIS_URL else MemoryEventLog()
