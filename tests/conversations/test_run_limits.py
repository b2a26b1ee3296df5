"""One chat turn cannot take the server: a run past its steps or wall time ends failed, in the
reader's language, with nothing left running; a graph is compiled away from the event loop.

The limits are set in this process's settings, so these chats run on the embedded default (runs
execute inline here); the engine's own tests cover every limit in both modes' shared code.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import httpx
import pytest
import websockets
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from pydantic import model_validator

from builder.conversations.models import Conversation, Run, RunStep
from builder.conversations.wiring import runner_for
from builder.engine.nodes import registry
from builder.engine.nodes.base import NodeConfig, NodeSpec
from builder.engine.runtime.contract import NodeContext, NodeResult
from tests.conversations.conftest import TERMINAL, ThreadedServer, published_chat, receive_until
from tests.factories import make_workspace
from tests.support.graphs import linear_bot, node
from tests.support.http_server import serve

embedded_only = pytest.mark.skipif(
    not django_settings.EMBEDDED, reason="embedded default only (the limits are this process's settings)"
)

STEP_LIMIT_EN = "The run was stopped after 3 node steps, the most one run may take."
STEP_LIMIT_ZH = "运行在执行 3 个节点步骤后被停止：这是单次运行允许的上限。"
TIME_LIMIT_EN = "The run was stopped after 1 s, the longest one run may last."
TIME_LIMIT_ZH = "运行在 1 秒后被停止：这是单次运行允许的最长时间。"


def _chain(*middle: dict[str, Any]) -> dict[str, Any]:
    """start → ``middle`` → answer."""
    return linear_bot(node("start", "start", {"inputs": []}), *middle, node("answer", "answer", {"text": "done"}))


def _published_chat(graph: dict[str, Any]) -> tuple[Conversation, str]:
    return published_chat(make_workspace(), graph)


async def _socket(server: ThreadedServer, conversation: Conversation, key: str, language: str) -> Any:
    return await websockets.connect(
        f"{server.ws}/ws/conversations/{conversation.pk}/?lang={language}",
        additional_headers={"Authorization": f"Bearer {key}"},
    )


async def _rest_run(server: ThreadedServer, key: str, run_id: str, language: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}", "Accept-Language": language}
    async with httpx.AsyncClient(base_url=server.http, timeout=30) as client:
        response = await client.get(f"/api/v1/runs/{run_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


@embedded_only
@pytest.mark.django_db(transaction=True)
async def test_a_run_past_its_step_limit_fails_in_each_readers_language(
    asgi_live_server: ThreadedServer, settings: Any
) -> None:
    settings.RUN_MAX_STEPS = 3
    templates = [node(f"t{index}", "template", {"template": f"step {index}"}) for index in range(10)]
    conversation, key = await sync_to_async(_published_chat)(_chain(*templates))

    async with (
        await _socket(asgi_live_server, conversation, key, "zh-hans") as chinese,
        await _socket(asgi_live_server, conversation, key, "en") as english,
    ):
        await chinese.send(json.dumps({"type": "message.send", "text": "go"}))
        run_id = json.loads(await chinese.recv())["run_id"]
        seen_in_chinese = await receive_until(chinese, TERMINAL)
        seen_in_english = await receive_until(english, TERMINAL)

    for events, message in ((seen_in_chinese, STEP_LIMIT_ZH), (seen_in_english, STEP_LIMIT_EN)):
        failed = events[-1]
        assert failed["type"] == "run.failed" and failed["node_id"] is None
        assert failed["error"]["code"] == "step_limit" and failed["error"]["message"] == message
        assert failed["error"]["details"]["params"] == {"steps": 3}
        assert [e["node_id"] for e in events if e["type"] == "node.finished"] == ["start", "t0", "t1"]
    # Stored once, in English, with nothing left running; each reader gets it in their language.
    run = await Run.objects.aget(pk=run_id)
    assert run.status == Run.Status.FAILED and run.error["message"] == STEP_LIMIT_EN
    assert run.finished_at is not None
    steps = [step async for step in RunStep.objects.filter(run_id=run_id).order_by("started_seq")]
    assert [(step.node_id, step.status) for step in steps] == [(n, "finished") for n in ("start", "t0", "t1")]
    assert (await _rest_run(asgi_live_server, key, run_id, "zh-Hans"))["error"]["message"] == STEP_LIMIT_ZH
    assert (await _rest_run(asgi_live_server, key, run_id, "en"))["error"]["message"] == STEP_LIMIT_EN


@embedded_only
@pytest.mark.django_db(transaction=True)
async def test_a_run_past_its_wall_time_is_stopped_mid_node_in_each_readers_language(
    asgi_live_server: ThreadedServer, settings: Any
) -> None:
    settings.RUN_MAX_SECONDS = 1
    settings.AGENTLOOM_HTTP_ALLOWLIST = ["127.0.0.1"]  # the slow API below
    with serve() as api:
        # An API that answers long after the limit.
        fetch = node("fetch", "http_request", {"url": api.url("/slow?s=4")})
        conversation, key = await sync_to_async(_published_chat)(_chain(fetch))

        async with httpx.AsyncClient(base_url=asgi_live_server.http, timeout=60) as client:
            answered = await client.post(
                f"/api/v1/bots/{conversation.bot_id}/chat",
                json={"query": "go", "stream": False},
                headers={"Authorization": f"Bearer {key}", "Accept-Language": "zh-Hans"},
            )

        body = answered.json()
        assert answered.status_code == 200 and body["status"] == "failed"
        assert body["error"]["code"] == "time_limit" and body["error"]["message"] == TIME_LIMIT_ZH
        run = await Run.objects.aget(pk=body["run_id"])
        assert run.status == Run.Status.FAILED and run.error["message"] == TIME_LIMIT_EN
        # The request the limit interrupted is closed with the same reason, not left running.
        fetched = await RunStep.objects.aget(run_id=run.pk, node_id="fetch")
        assert fetched.status == "failed" and fetched.error["code"] == "time_limit"
        in_english = await _rest_run(asgi_live_server, key, body["run_id"], "en")
        assert in_english["error"]["message"] == TIME_LIMIT_EN


# --- compiling off the event loop ------------------------------------------------------------------

VALIDATED_IN: list[int] = []


class _RecordingConfig(NodeConfig):
    """A node whose configuration notes the thread that validates it (compiling validates it)."""

    @model_validator(mode="after")
    def _note_the_thread(self) -> _RecordingConfig:
        VALIDATED_IN.append(threading.get_ident())
        return self


class _RecordingNode(NodeSpec[_RecordingConfig]):
    name = "recording"
    version = 1
    title = "Recording"
    config_model = _RecordingConfig
    static_outputs = {"text": "string"}

    async def run(self, config: _RecordingConfig, ctx: NodeContext) -> NodeResult:
        return NodeResult(outputs={"text": "ok"})


@pytest.fixture
def recording_node(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    monkeypatch.setitem(registry._SPECS, _RecordingNode.name, {_RecordingNode.version: _RecordingNode()})
    VALIDATED_IN.clear()
    return VALIDATED_IN


def _recording_bot(label: str) -> dict[str, Any]:
    return linear_bot(
        node("start", "start", {"inputs": []}),
        node("record", "recording", {"title": label}),
        node("answer", "answer", {"text": "{{ record.text }}"}),
    )


async def test_a_graph_is_compiled_off_the_event_loop(recording_node: list[int]) -> None:
    runner = await runner_for(_recording_bot("off the loop"))

    assert runner.graph.nodes[1].type_name == "recording"
    assert recording_node and threading.get_ident() not in recording_node


async def test_runs_waiting_for_the_same_graph_share_one_compile(recording_node: list[int]) -> None:
    first, second = await asyncio.gather(runner_for(_recording_bot("shared")), runner_for(_recording_bot("shared")))
    validations_of_both = len(recording_node)
    recording_node.clear()
    await runner_for(_recording_bot("compiled alone"))

    assert first is second
    assert validations_of_both == len(recording_node)  # one compile's worth
