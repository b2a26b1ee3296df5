"""Hostile chat input (SSE and websocket): refused in the one error shape, nothing stored, the socket
stays open."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async

from builder.conversations.models import Conversation, Message
from builder.core.untrusted import MAX_NESTING_DEPTH
from tests.conversations.conftest import TERMINAL, ThreadedServer, chat_socket, published_chat, receive_until
from tests.conversations.graphs import echo_bot
from tests.factories import make_workspace

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

TOO_DEEP = "[" * 10_000 + "]" * 10_000


def _chat() -> tuple[str, Conversation, str]:
    conversation, key = published_chat(make_workspace(), echo_bot())
    return str(conversation.bot_id), conversation, key


async def _stored() -> tuple[int, int]:
    return await Conversation.objects.acount(), await Message.objects.acount()


async def test_sse_chat_refuses_hostile_bodies_and_stores_nothing(asgi_live_server: ThreadedServer) -> None:
    bot_id, _conversation, key = await sync_to_async(_chat)()
    before = await _stored()
    url = f"/api/v1/bots/{bot_id}/chat"
    auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=asgi_live_server.http, timeout=30) as client:
        deep = await client.post(url, content=f'{{"query": "hi", "extra": {TOO_DEEP}}}', headers=auth)
        assert deep.status_code == 400, deep.text
        assert deep.json()["error"]["code"] == "parse_error"
        assert str(MAX_NESTING_DEPTH) in deep.json()["error"]["message"]
        for field, body in [
            ("query", '{"query": "hi \\ud800", "stream": false}'),
            ("user", '{"query": "hi", "user": "end-user-\\udc00", "stream": false}'),
        ]:
            response = await client.post(url, content=body, headers=auth)
            assert response.status_code == 400, (field, response.text)
            error = response.json()["error"]
            assert error["code"] == "invalid" and list(error["fields"]) == [field], error
    assert await _stored() == before


async def test_websocket_answers_hostile_frames_with_an_error_and_stays_open(
    asgi_live_server: ThreadedServer,
) -> None:
    _bot_id, conversation, key = await sync_to_async(_chat)()
    before = await _stored()
    async with await chat_socket(asgi_live_server, conversation, key) as socket_:
        await socket_.send(f'{{"type": "message.send", "text": {TOO_DEEP}}}')
        deep: dict[str, Any] = json.loads(await socket_.recv())
        assert deep["type"] == "error" and deep["code"] == "invalid_json", deep
        assert str(MAX_NESTING_DEPTH) in deep["message"]
        await socket_.send('{"type": "message.send", "text": "hi \\ud800"}')
        surrogate: dict[str, Any] = json.loads(await socket_.recv())
        assert surrogate["type"] == "error" and surrogate["code"] == "invalid", surrogate
        assert list(surrogate["fields"]) == ["text"]
        for unreadable in [b"\x00binary", ""]:
            await socket_.send(unreadable)
            refused: dict[str, Any] = json.loads(await socket_.recv())
            assert refused["type"] == "error" and refused["code"] == "invalid_json", refused
        assert await _stored() == before
        # The same socket still chats.
        await socket_.send(json.dumps({"type": "message.send", "text": "still here"}))
        assert json.loads(await socket_.recv())["type"] == "run.queued"
        events = await receive_until(socket_, TERMINAL)
    assert events[-1]["type"] == "run.finished" and events[-1]["answer"] == "You said: still here"
