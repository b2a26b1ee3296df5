"""``POST /api/v1/bots/<id>/chat`` for API clients: SSE streaming and the blocking mode."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async

from builder.accounts.roles import Role
from builder.accounts.services import api_key_create
from builder.bots.services import bot_publish
from builder.engine.runtime.events import parse_event
from tests.conversations.conftest import ThreadedServer
from tests.conversations.graphs import echo_bot
from tests.factories import make_bot, make_workspace, owner_of

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def _bot_and_key(*, publish: bool = True) -> tuple[str, str]:
    workspace = make_workspace()
    owner = owner_of(workspace)
    bot = make_bot(workspace, draft=echo_bot())
    if publish:
        bot_publish(actor=owner, bot=bot)
    _key, raw = api_key_create(actor=owner, workspace=workspace, name="api", role=Role.VIEWER)
    return str(bot.pk), raw


def _parse_sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    frames = []
    for block in text.strip().split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith(":")]
        if not lines:
            continue
        kind = next(line[7:] for line in lines if line.startswith("event: "))
        data = json.loads(next(line[6:] for line in lines if line.startswith("data: ")))
        frames.append((kind, data))
    return frames


async def test_streaming_chat_sends_every_event_as_sse(asgi_live_server: ThreadedServer) -> None:
    bot_id, key = await sync_to_async(_bot_and_key)()
    async with (
        httpx.AsyncClient(base_url=asgi_live_server.http, timeout=30) as client,
        client.stream(
            "POST", f"/api/v1/bots/{bot_id}/chat", json={"query": "ping"}, headers={"Authorization": f"Bearer {key}"}
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        body = (await response.aread()).decode()
    frames = _parse_sse(body)
    assert frames[0][0] == "conversation"
    events = [data for kind, data in frames[1:]]
    for kind, data in frames[1:]:
        assert kind == data["type"]
        parse_event(data)
    assert events[-1]["type"] == "run.finished" and events[-1]["answer"] == "You said: ping"
    # The conversation continues with the id it was given.
    conversation_id = frames[0][1]["conversation_id"]
    async with httpx.AsyncClient(base_url=asgi_live_server.http, timeout=30) as client:
        second = await client.post(
            f"/api/v1/bots/{bot_id}/chat",
            json={"query": "pong", "conversation_id": conversation_id, "stream": False},
            headers={"Authorization": f"Bearer {key}"},
        )
    assert second.status_code == 200
    assert second.json()["answer"] == "You said: pong"
    assert second.json()["conversation_id"] == conversation_id and second.json()["status"] == "finished"


async def test_chat_refuses_bad_requests_in_the_error_shape(asgi_live_server: ThreadedServer) -> None:
    bot_id, key = await sync_to_async(_bot_and_key)()
    draft_bot_id, draft_key = await sync_to_async(_bot_and_key)(publish=False)
    auth = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=asgi_live_server.http, timeout=30) as client:
        cases = [
            (await client.post(f"/api/v1/bots/{bot_id}/chat", json={"query": "x"}), 401, "not_authenticated"),
            (
                await client.post(
                    f"/api/v1/bots/{bot_id}/chat", json={"query": "x"}, headers={"Authorization": "Bearer al_bad_x"}
                ),
                401,
                "authentication_failed",
            ),
            (await client.post(f"/api/v1/bots/{bot_id}/chat", content=b"{not json", headers=auth), 400, "parse_error"),
            (await client.post(f"/api/v1/bots/{bot_id}/chat", json={"stream": True}, headers=auth), 400, "invalid"),
            (await client.post(f"/api/v1/bots/{bot_id}/chat", json={"query": "  "}, headers=auth), 400, "invalid"),
            (
                await client.post(
                    f"/api/v1/bots/{draft_bot_id}/chat",
                    json={"query": "x"},
                    headers={"Authorization": f"Bearer {draft_key}"},
                ),
                409,
                "not_published",
            ),
            (
                await client.post(f"/api/v1/bots/{draft_bot_id}/chat", json={"query": "x"}, headers=auth),
                404,
                "not_found",
            ),
            (
                await client.post(
                    f"/api/v1/bots/{bot_id}/chat", json={"query": "x", "conversation_id": "nope"}, headers=auth
                ),
                404,
                "not_found",
            ),
        ]
    for response, status, code in cases:
        assert response.status_code == status, (response.status_code, response.text)
        assert response.json()["error"]["code"] == code, response.text
