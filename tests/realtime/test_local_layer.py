"""The embedded channel layer delivers a message sent from another thread (the indexing thread)
at once, not when something else happens to wake the receivers' loop."""

from __future__ import annotations

import asyncio
import threading

import pytest

from builder.realtime.local_layer import LocalChannelLayer

pytestmark = pytest.mark.asyncio


async def test_a_group_send_from_another_thread_wakes_the_receiver() -> None:
    layer = LocalChannelLayer()
    channel = await layer.new_channel()
    await layer.group_add("knowledge-x", channel)
    receiving = asyncio.create_task(layer.receive(channel))
    await asyncio.sleep(0)  # the receiver waits on this loop
    received = threading.Event()
    receiving.add_done_callback(lambda _: received.set())
    woke: list[bool] = []

    def send_and_watch() -> None:
        asyncio.run(layer.group_send("knowledge-x", {"type": "x.event", "n": 1}))
        # Nothing else runs on the receivers' loop (its only timer is far away): only the
        # handover can wake it before this deadline.
        woke.append(received.wait(timeout=5.0))

    sender = threading.Thread(target=send_and_watch)
    sender.start()
    await asyncio.wait([receiving], timeout=30.0)
    sender.join()

    assert woke == [True]
    assert receiving.result() == {"type": "x.event", "n": 1}


async def test_a_send_on_the_receivers_loop_is_delivered_directly() -> None:
    layer = LocalChannelLayer()
    channel = await layer.new_channel()
    receiving = asyncio.create_task(layer.receive(channel))
    await asyncio.sleep(0)

    await layer.send(channel, {"type": "x.event"})

    assert await asyncio.wait_for(receiving, timeout=2.0) == {"type": "x.event"}
