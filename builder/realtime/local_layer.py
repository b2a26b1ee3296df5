"""The channel layer of the embedded default: one process, no Redis.

Channels' ``InMemoryChannelLayer`` is meant for tests. On every ``group_send`` it scans every channel
and every group for expired entries, deep-copies the message once per member and starts one task
per member. With hundreds of chats streaming tokens that is O(chats) work per token; here a send is
O(members of the group), expiry is swept at most once a second, and nothing is copied.
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

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._swept_at < SWEEP_INTERVAL_S:
            return
        self._swept_at = now
        super()._clean_expired()

    async def send(self, channel: str, message: dict[str, Any]) -> None:
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
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        for channel in list(self.groups.get(group, ())):
            # As channels' layers do: a full channel (a stuck client) loses the message.
            with contextlib.suppress(ChannelFull):
                self._put(channel, message)
