"""The channel layer of the embedded default: one process, no Redis.

Channels' ``InMemoryChannelLayer`` is meant for tests. On every ``group_send`` it scans every channel
and every group for expired entries, deep-copies the message once per member and starts one task
per member. With hundreds of chats streaming tokens that is O(chats) work per token; here a send is
O(members of the group), expiry is swept at most once a second, and nothing is copied.

Receivers wait on the server's event loop; a sender on another thread (documents are indexed in a
thread of the web process) hands its message over to that loop, since putting it into the queues
directly would not wake the loop: it would arrive whenever something else did.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer

SWEEP_INTERVAL_S = 1.0


class LocalChannelLayer(InMemoryChannelLayer):
    """Messages are delivered as they are to every member: receivers must not mutate them."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._swept_at = 0.0
        self._receivers_loop: asyncio.AbstractEventLoop | None = None

    async def receive(self, channel: str) -> dict[str, Any]:
        self._receivers_loop = asyncio.get_running_loop()
        message: dict[str, Any] = await super().receive(channel)
        return message

    def _foreign_loop(self) -> asyncio.AbstractEventLoop | None:
        """The receivers' loop when this send runs on another one (another thread)."""
        loop = self._receivers_loop
        if loop is None or loop.is_closed() or not loop.is_running() or loop is asyncio.get_running_loop():
            return None
        return loop

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._swept_at < SWEEP_INTERVAL_S:
            return
        self._swept_at = now
        super()._clean_expired()

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        if (loop := self._foreign_loop()) is not None:
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self.send(channel, message), loop))
            return
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        self._put(channel, message)

    def _put(self, channel: str, message: dict[str, Any]) -> None:
        queue = self.channels.get(channel)
        if queue is None:
            queue = self.channels[channel] = asyncio.Queue(maxsize=self.get_capacity(channel))
        try:
            queue.put_nowait((time.time() + self.expiry, message))
        except asyncio.QueueFull:
            raise ChannelFull(channel) from None

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        if (loop := self._foreign_loop()) is not None:
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self.group_send(group, message), loop))
            return
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        for channel in list(self.groups.get(group, ())):
            # As channels' layers do: a full channel (a stuck client) loses the message.
            with contextlib.suppress(ChannelFull):
                self._put(channel, message)
