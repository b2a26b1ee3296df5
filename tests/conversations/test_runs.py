"""Runs with a (scripted) model: live token streaming, cancel, dead workers, the trace."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from builder.bots.services import bot_publish
from builder.conversations.executor import reap_stale_runs
from builder.conversations.models import Conversation, Run, RunEvent
from builder.conversations.services import conversation_create, message_send
from tests.conversations.conftest import (
    TERMINAL,
    ThreadedServer,
    chat_socket,
    published_chat,
    receive_until,
    use_fake_model,
)
from tests.conversations.graphs import echo_bot, llm_bot
from tests.factories import make_bot, make_workspace, owner_of
from tests.support.fake_openai import FakeOpenAI, Reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def _llm_conversation(fake: FakeOpenAI) -> tuple[Conversation, str]:
    workspace = make_workspace()
    owner = owner_of(workspace)
    use_fake_model(workspace, owner, fake)
    return published_chat(workspace, llm_bot())


async def test_model_tokens_reach_the_client_while_the_model_is_still_writing(
    asgi_live_server: ThreadedServer, fake_openai: FakeOpenAI
) -> None:
    words = [f"w{i}" for i in range(12)]
    fake_openai.script([Reply(text=" ".join(words), usage=(7, 12))])
    conversation, key = await sync_to_async(_llm_conversation)(fake_openai)
    async with await chat_socket(asgi_live_server, conversation, key) as socket_:
        await socket_.send(json.dumps({"type": "message.send", "text": "count"}))
        json.loads(await socket_.recv())
        events = await receive_until(socket_, TERMINAL)
    types = [event["type"] for event in events]
    llm_finished = next(i for i, e in enumerate(events) if e["type"] == "node.finished" and e["node_id"] == "llm")
    first_delta = types.index("message.delta")
    assert first_delta < llm_finished  # streamed live, not after the model was done
    assert "".join(e["text"] for e in events if e["type"] == "message.delta") == " ".join(words)
    finished = events[-1]
    assert finished["type"] == "run.finished" and finished["usage"]["total_tokens"] == 19
    llm_event = events[llm_finished]
    assert llm_event["usage"]["prompt_tokens"] == 7 and llm_event["latency_ms"] > 0
    # The persona and the user's message reached the model.
    messages = fake_openai.requests[-1].body["messages"]
    assert messages[0]["content"] == "Be brief." and messages[-1]["content"] == "count"


async def test_cancel_stops_a_streaming_run(asgi_live_server: ThreadedServer, fake_openai: FakeOpenAI) -> None:
    fake_openai.script([Reply(text=" ".join(["slow"] * 200), tokens_per_second=20)])
    conversation, key = await sync_to_async(_llm_conversation)(fake_openai)
    async with await chat_socket(asgi_live_server, conversation, key) as socket_:
        await socket_.send(json.dumps({"type": "message.send", "text": "go"}))
        run_id = json.loads(await socket_.recv())["run_id"]
        await receive_until(socket_, {"message.delta"})
        await socket_.send(json.dumps({"type": "run.cancel", "run_id": run_id}))
        events = await receive_until(socket_, TERMINAL)
    assert events[-1]["type"] == "run.failed" and events[-1]["error"]["code"] == "cancelled"
    run = await Run.objects.aget(pk=run_id)
    assert run.status == Run.Status.CANCELLED
    started = {e["node_id"] for e in events if e["type"] == "node.started"}
    ended = {e["node_id"] for e in events if e["type"] in {"node.finished", "node.failed"}}
    assert started <= ended


def _stale_run() -> Run:
    workspace = make_workspace()
    owner = owner_of(workspace)
    bot = make_bot(workspace, draft=echo_bot())
    bot_publish(actor=owner, bot=bot)
    bot.refresh_from_db()
    conversation = conversation_create(actor=owner, bot=bot)
    run = Run.objects.create(
        conversation=conversation,
        bot=bot,
        graph=bot.draft,
        query="lost",
        status=Run.Status.RUNNING,
        heartbeat_at=timezone.now() - timedelta(minutes=5),
        last_seq=4,
    )
    return run


async def test_a_run_whose_worker_died_is_marked_failed_not_left_running() -> None:
    run = await sync_to_async(_stale_run)()
    assert await reap_stale_runs() == 1
    await run.arefresh_from_db()
    assert run.status == Run.Status.FAILED and run.error["code"] == "worker_lost"
    event = await RunEvent.objects.aget(run=run)
    assert event.type == "run.failed" and event.seq == 5
    assert await reap_stale_runs() == 0


def _send_twice() -> tuple[Run, Any]:
    workspace = make_workspace()
    owner = owner_of(workspace)
    bot = make_bot(workspace, draft=echo_bot())
    bot_publish(actor=owner, bot=bot)
    bot.refresh_from_db()
    conversation = conversation_create(actor=owner, bot=bot)
    first = message_send(actor=owner, conversation=conversation, text="one")
    return first, owner


@pytest.mark.usefixtures("run_executor")
async def test_the_trace_records_every_node() -> None:
    run, _owner = await sync_to_async(_send_twice)()
    for _ in range(100):
        await run.arefresh_from_db()
        if run.status not in Run.ACTIVE:
            break
        await asyncio.sleep(0.05)
    steps = [step async for step in run.steps.order_by("started_seq")]
    assert [(s.node_id, s.status) for s in steps] == [
        ("start", "finished"),
        ("echo", "finished"),
        ("answer", "finished"),
    ]
    assert steps[1].outputs == {"text": "You said: one"} and steps[1].latency_ms is not None
