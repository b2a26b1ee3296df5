"""A run's errors reach each reader in the reader's language; the stored record stays English.

The websocket speaks the handshake's language (``Accept-Language``, or ``?lang=``), the REST API and
the chat endpoint the request's. A stored error whose parameters no longer fit its template is shown
in its stored English rather than failing the response.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import websockets
from asgiref.sync import sync_to_async
from django.test import AsyncClient

from builder.accounts.roles import Role
from builder.accounts.services import api_key_create
from builder.bots.services import bot_publish
from builder.conversations.models import Conversation, Run, RunStep
from builder.conversations.services import conversation_create
from tests.conversations.conftest import TERMINAL, ThreadedServer, receive_until
from tests.factories import make_bot, make_workspace, owner_of
from tests.support.graphs import linear_bot, node

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

METADATA_URL = "http://169.254.169.254/latest/meta-data/"
BLOCKED_EN = "Requests to 169.254.169.254 are not allowed: it is not a public address."
BLOCKED_ZH = "不允许请求 169.254.169.254：它不是公网地址。"
# A bot calling itself: the innermost call hits the depth limit, each caller wraps its callee's error.
DEPTH_EN = "The called bot did not finish: " * 3 + "Bots may call each other at most 3 levels deep."
DEPTH_ZH = "被调用的机器人未能完成：" * 3 + "机器人之间最多只能嵌套调用 3 层。"


def _chain(middle: dict[str, Any]) -> dict[str, Any]:
    """start → ``middle`` → answer."""
    return linear_bot(node("start", "start", {"inputs": []}), middle, node("answer", "answer", {"text": "done"}))


def _published(graph: dict[str, Any], *, calls_itself: bool = False) -> tuple[Conversation, str]:
    workspace = make_workspace()
    owner = owner_of(workspace)
    bot = make_bot(workspace, draft=graph)
    if calls_itself:
        bot.draft = _chain(node("sub", "sub_bot", {"bot_id": str(bot.pk), "inputs": {"query": "again"}}))
        bot.save()
    bot_publish(actor=owner, bot=bot)
    bot.refresh_from_db()
    key, raw = api_key_create(actor=owner, workspace=workspace, name="ws", role=Role.VIEWER)
    return conversation_create(actor=key, bot=bot), raw


async def _socket(server: ThreadedServer, conversation: Conversation, key: str, language: str) -> Any:
    return await websockets.connect(
        f"{server.ws}/ws/conversations/{conversation.pk}/",
        additional_headers={"Authorization": f"Bearer {key}", "Accept-Language": language},
    )


async def _refusal(socket_: Any) -> str:
    """The socket's answer to a frame it does not understand (also: its connect handler is done, so
    it has joined the conversation's group)."""
    await socket_.send(json.dumps({"type": "fly"}))
    error = json.loads(await socket_.recv())
    assert error["type"] == "error" and error["code"] == "invalid"
    return str(error["message"])


async def _failure_seen_in_chinese_and_english(
    server: ThreadedServer, conversation: Conversation, key: str
) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Send from a zh-Hans socket while an English one watches the same conversation: each gets the
    run's ``node.failed`` and ``run.failed`` (validated against the event schema) in its language."""
    async with (
        await _socket(server, conversation, key, "zh-Hans,zh;q=0.9") as chinese,
        await _socket(server, conversation, key, "en-US,en;q=0.8") as english,
    ):
        assert await _refusal(chinese) == "未知的消息类型。"
        assert await _refusal(english) == "Unknown message type."
        await chinese.send(json.dumps({"type": "message.send", "text": "go"}))
        run_id = json.loads(await chinese.recv())["run_id"]
        seen_in_chinese = await receive_until(chinese, TERMINAL)
        seen_in_english = await receive_until(english, TERMINAL)
    return _failures(seen_in_chinese), _failures(seen_in_english), run_id


def _failures(events: list[dict[str, Any]]) -> dict[str, Any]:
    node_failed = next(event for event in events if event["type"] == "node.failed")
    run_failed = events[-1]
    assert run_failed["type"] == "run.failed" and run_failed["node_id"] == node_failed["node_id"]
    return {"node": node_failed["error"], "run": run_failed["error"]}


async def _rest_run(server: ThreadedServer, key: str, run_id: str, language: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}", "Accept-Language": language}
    async with httpx.AsyncClient(base_url=server.http, timeout=30) as client:
        response = await client.get(f"/api/v1/runs/{run_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_a_blocked_request_fails_in_each_readers_language(asgi_live_server: ThreadedServer) -> None:
    conversation, key = await sync_to_async(_published)(_chain(node("fetch", "http_request", {"url": METADATA_URL})))

    chinese, english, run_id = await _failure_seen_in_chinese_and_english(asgi_live_server, conversation, key)

    assert chinese["node"]["code"] == chinese["run"]["code"] == "ssrf_blocked"
    assert chinese["node"]["message"] == chinese["run"]["message"] == BLOCKED_ZH
    assert english["node"]["message"] == english["run"]["message"] == BLOCKED_EN
    # The template and its parameters travel with the event, for clients that translate themselves.
    assert chinese["node"]["details"]["params"] == {"host": "169.254.169.254", "address": "169.254.169.254"}
    in_english = await _rest_run(asgi_live_server, key, run_id, "en")
    assert in_english["error"]["message"] == BLOCKED_EN
    assert [step["error"]["message"] for step in in_english["steps"] if step["node_id"] == "fetch"] == [BLOCKED_EN]
    in_chinese = await _rest_run(asgi_live_server, key, run_id, "zh-Hans")
    assert in_chinese["error"]["message"] == BLOCKED_ZH
    step = await RunStep.objects.aget(run_id=run_id, node_id="fetch")
    assert step.status == "failed" and step.error["message"] == BLOCKED_EN
    run = await Run.objects.aget(pk=run_id)
    assert run.error["message"] == BLOCKED_EN


async def test_a_sub_bot_too_deep_fails_in_each_readers_language(asgi_live_server: ThreadedServer) -> None:
    placeholder = _chain(node("wait", "template", {"template": "x"}))
    conversation, key = await sync_to_async(_published)(placeholder, calls_itself=True)

    chinese, english, run_id = await _failure_seen_in_chinese_and_english(asgi_live_server, conversation, key)

    assert chinese["node"]["code"] == "sub_bot_failed"
    assert chinese["node"]["message"] == chinese["run"]["message"] == DEPTH_ZH
    assert english["node"]["message"] == DEPTH_EN
    assert (await _rest_run(asgi_live_server, key, run_id, "en"))["error"]["message"] == DEPTH_EN
    step = await RunStep.objects.aget(run_id=run_id, node_id="sub")
    assert step.error["message"] == DEPTH_EN


async def test_the_chat_endpoint_answers_in_the_requests_language(asgi_live_server: ThreadedServer) -> None:
    conversation, key = await sync_to_async(_published)(_chain(node("fetch", "http_request", {"url": METADATA_URL})))
    bot_id = str(conversation.bot_id)
    async with httpx.AsyncClient(base_url=asgi_live_server.http, timeout=30) as client:
        blocking = await client.post(
            f"/api/v1/bots/{bot_id}/chat",
            json={"query": "go", "stream": False},
            headers={"Authorization": f"Bearer {key}", "Accept-Language": "zh-Hans"},
        )
        streamed = await client.post(
            f"/api/v1/bots/{bot_id}/chat",
            json={"query": "go"},
            headers={"Authorization": f"Bearer {key}", "Accept-Language": "zh-Hans"},
        )
    assert blocking.json()["status"] == "failed" and blocking.json()["error"]["message"] == BLOCKED_ZH
    frames = [json.loads(line[6:]) for line in streamed.text.splitlines() if line.startswith("data: ")]
    failed = [frame["error"]["message"] for frame in frames if frame.get("type") in {"node.failed", "run.failed"}]
    assert failed == [BLOCKED_ZH, BLOCKED_ZH]


async def test_a_lang_parameter_overrides_the_handshake_header(asgi_live_server: ThreadedServer) -> None:
    conversation, key = await sync_to_async(_published)(_chain(node("fetch", "http_request", {"url": METADATA_URL})))
    async with websockets.connect(
        f"{asgi_live_server.ws}/ws/conversations/{conversation.pk}/?lang=zh-hans",
        additional_headers={"Authorization": f"Bearer {key}", "Accept-Language": "en"},
    ) as socket_:
        await socket_.send(json.dumps({"type": "message.send", "text": "go"}))
        await socket_.recv()  # run.queued
        events = await receive_until(socket_, TERMINAL)
    assert _failures(events)["run"]["message"] == BLOCKED_ZH


async def test_a_stored_error_whose_parameters_do_not_fit_is_shown_in_english() -> None:
    conversation, key = await sync_to_async(_published)(_chain(node("fetch", "http_request", {"url": METADATA_URL})))
    template = "Bots may call each other at most %(depth)s levels deep."
    stored = {"code": "sub_bot_depth", "message": "Stored English.", "details": {"template": template, "params": {}}}
    run = await Run.objects.acreate(
        conversation=conversation,
        bot_id=conversation.bot_id,
        graph={},
        query="q",
        status=Run.Status.FAILED,
        error=stored,
    )
    await RunStep.objects.acreate(
        run=run, node_id="sub", node_type="sub_bot", status="failed", error=stored, started_seq=1
    )
    headers = {"Authorization": f"Bearer {key}", "Accept-Language": "zh-Hans"}
    response = await AsyncClient().get(f"/api/v1/runs/{run.pk}", headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert body["error"]["message"] == body["steps"][0]["error"]["message"] == "Stored English."
