"""The builder's chat over a real websocket (uvicorn + the websockets client)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import websockets
from asgiref.sync import sync_to_async

from builder.accounts.roles import Role
from builder.bots.models import Bot
from builder.conversations.models import Conversation, Message, Run, RunEvent
from tests.conversations.conftest import TERMINAL, ThreadedServer, chat_socket, published_chat, receive_until
from tests.conversations.graphs import echo_bot, question_bot
from tests.factories import key_client, make_workspace

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def _published_bot(graph: dict[str, Any]) -> tuple[Bot, Conversation, str]:
    conversation, raw = published_chat(make_workspace(), graph)
    return conversation.bot, conversation, raw


async def test_a_message_streams_back_typed_events_in_order(asgi_live_server: ThreadedServer) -> None:
    _bot, conversation, key = await sync_to_async(_published_bot)(echo_bot())
    async with await chat_socket(asgi_live_server, conversation, key) as socket_:
        await socket_.send(json.dumps({"type": "message.send", "text": "hello 你好"}))
        queued = json.loads(await socket_.recv())
        assert queued["type"] == "run.queued"
        events = await receive_until(socket_, TERMINAL)
    types = [event["type"] for event in events]
    assert types[0] == "run.started" and types[-1] == "run.finished"
    assert [event["seq"] for event in events] == list(range(1, len(events) + 1))
    assert {"node.started", "node.finished", "message.delta", "message.completed"} <= set(types)
    streamed = "".join(event["text"] for event in events if event["type"] == "message.delta")
    assert streamed == events[-1]["answer"] == "You said: hello 你好"
    finished_nodes = [event["node_id"] for event in events if event["type"] == "node.finished"]
    assert finished_nodes == ["start", "echo", "answer"]
    # The assistant message was stored before run.finished went out.
    run = await Run.objects.aget(pk=queued["run_id"])
    assert run.status == Run.Status.FINISHED
    assert await Message.objects.filter(run=run, role="assistant", content="You said: hello 你好").aexists()
    # Tokens are folded: the database keeps no delta events but the completed message.
    stored_types = [t async for t in RunEvent.objects.filter(run=run).values_list("type", flat=True)]
    assert "message.delta" not in stored_types and "message.completed" in stored_types


async def test_reconnecting_with_the_last_seq_gets_the_rest_exactly_once(asgi_live_server: ThreadedServer) -> None:
    _bot, conversation, key = await sync_to_async(_published_bot)(echo_bot())
    async with await chat_socket(asgi_live_server, conversation, key) as socket_:
        await socket_.send(json.dumps({"type": "message.send", "text": "again"}))
        run_id = json.loads(await socket_.recv())["run_id"]
        events = await receive_until(socket_, TERMINAL)
    cut = 3
    async with await chat_socket(
        asgi_live_server, conversation, key, query=f"?run_id={run_id}&after_seq={cut}"
    ) as socket_:
        replayed = await receive_until(socket_, TERMINAL)
    assert replayed == events[cut:]


async def test_once_the_live_log_is_gone_the_compact_copy_is_replayed(asgi_live_server: ThreadedServer) -> None:
    from builder.realtime.event_log import live_event_log

    _bot, conversation, key = await sync_to_async(_published_bot)(echo_bot())
    async with await chat_socket(asgi_live_server, conversation, key) as socket_:
        await socket_.send(json.dumps({"type": "message.send", "text": "compact"}))
        run_id = json.loads(await socket_.recv())["run_id"]
        events = await receive_until(socket_, TERMINAL)
    await live_event_log().forget(run_id)
    async with await chat_socket(asgi_live_server, conversation, key, query=f"?run_id={run_id}&after_seq=1") as socket_:
        replayed = await receive_until(socket_, TERMINAL)
    expected = [event for event in events[1:] if event["type"] not in {"message.delta", "node.delta"}]
    assert replayed == expected
    assert any(event["type"] == "message.completed" and event["text"] == "You said: compact" for event in replayed)


async def test_a_user_without_access_is_closed_with_a_reason(asgi_live_server: ThreadedServer) -> None:
    _bot, conversation, _key = await sync_to_async(_published_bot)(echo_bot())
    other_workspace = await sync_to_async(make_workspace)(name="Other")
    _client, stranger_key = await sync_to_async(key_client)(other_workspace, role=Role.EDITOR)
    async with await chat_socket(asgi_live_server, conversation, stranger_key) as socket_:
        error = json.loads(await socket_.recv())
        assert error["type"] == "error" and error["code"] == "not_found"
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await socket_.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    anonymous = await websockets.connect(f"{asgi_live_server.ws}/ws/conversations/{conversation.pk}/")
    async with anonymous:
        assert json.loads(await anonymous.recv())["code"] == "not_authenticated"
        with pytest.raises(websockets.ConnectionClosed):
            await anonymous.recv()


async def test_bad_messages_get_typed_errors_and_the_socket_stays_open(asgi_live_server: ThreadedServer) -> None:
    _bot, conversation, key = await sync_to_async(_published_bot)(echo_bot())
    async with await chat_socket(asgi_live_server, conversation, key) as socket_:
        for bad in [{"type": "fly"}, {"type": "message.send", "text": ""}, {"type": "run.cancel", "run_id": "nope"}]:
            await socket_.send(json.dumps(bad))
            error = json.loads(await socket_.recv())
            assert error["type"] == "error", error
        await socket_.send("not json at all")
        assert json.loads(await socket_.recv())["code"] == "invalid_json"
        await socket_.send(json.dumps({"type": "message.send", "text": "still works"}))
        assert json.loads(await socket_.recv())["type"] == "run.queued"
        assert (await receive_until(socket_, TERMINAL))[-1]["type"] == "run.finished"


async def test_a_question_pauses_the_run_and_the_answer_resumes_it(asgi_live_server: ThreadedServer) -> None:
    _bot, conversation, key = await sync_to_async(_published_bot)(question_bot())
    async with await chat_socket(asgi_live_server, conversation, key) as socket_:
        await socket_.send(json.dumps({"type": "message.send", "text": "hi"}))
        run_id = json.loads(await socket_.recv())["run_id"]
        paused = await receive_until(socket_, TERMINAL)
        assert paused[-1]["type"] == "run.paused"
        assert paused[-1]["question"]["text"] == "What is your name?"
        busy = {"type": "message.send", "text": "another"}
        await socket_.send(json.dumps(busy))
        assert json.loads(await socket_.recv())["code"] == "run_in_progress"
        await socket_.send(json.dumps({"type": "question.answer", "run_id": run_id, "answer": "Ada"}))
        resumed = await receive_until(socket_, TERMINAL)
    assert resumed[-1]["type"] == "run.finished"
    assert resumed[-1]["answer"] == "Nice to meet you, Ada!"
    assert resumed[0]["seq"] == paused[-1]["seq"] + 1
