"""A bot's tool node calls a long-running tool in a real chat over a websocket: the chat sees the
job's progress as ``tool.progress`` events, then the answer with the stored video's URL, which the
server plays back; cancelling the run cancels the job at the provider.

The run executes on the server's event loop (the embedded default's way; in production mode too,
with the production database and channel layer: the cross-process path of polls on a Celery
worker is ``test_jobs.py``'s).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets
from asgiref.sync import sync_to_async

from builder.accounts.roles import Role
from builder.accounts.services import api_key_create
from builder.bots.services import bot_publish
from builder.conversations.models import Conversation
from builder.conversations.services import conversation_create
from builder.pluginhost.models import PluginJob
from tests.conversations.conftest import TERMINAL, ThreadedServer, receive_until
from tests.factories import make_bot, owner_of
from tests.pluginhost.fake_render_api import FakeRenderApi, video_bytes
from tests.pluginhost.jobs_support import PLUGIN, job_row, jobs_workspace
from tests.support.graphs import linear_bot, node

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("jobs_host", "inline_runs", "async_orm_closed"),
]


@pytest.fixture
def inline_runs(settings: Any) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.AGENTLOOM_HTTP_ALLOWLIST = ["127.0.0.1"]


@pytest.fixture
def chat_server(inline_runs: None) -> Iterator[ThreadedServer]:
    with ThreadedServer() as server:
        yield server


def _video_bot() -> dict[str, Any]:
    return linear_bot(
        node("start", "start", {"inputs": []}),
        node("video", "tool", {"plugin": PLUGIN, "tool": "render", "inputs": {"prompt": "{{ sys.query }}"}}),
        node("answer", "answer", {"text": "Here it is: {{ video.result.video_url }}"}),
    )


def _conversation(api: FakeRenderApi) -> tuple[Conversation, str]:
    workspace = jobs_workspace(api)
    owner = owner_of(workspace)
    bot = make_bot(workspace, draft=_video_bot())
    bot_publish(actor=owner, bot=bot)
    bot.refresh_from_db()
    _key, raw = api_key_create(actor=owner, workspace=workspace, name="ws", role=Role.VIEWER)
    return conversation_create(actor=owner, bot=bot), raw


async def _connect(server: ThreadedServer, conversation: Conversation, key: str) -> Any:
    return await websockets.connect(
        f"{server.ws}/ws/conversations/{conversation.pk}/", additional_headers={"Authorization": f"Bearer {key}"}
    )


async def test_the_chat_shows_the_jobs_progress_then_the_video(
    chat_server: ThreadedServer, render_api: FakeRenderApi
) -> None:
    conversation, key = await sync_to_async(_conversation)(render_api)
    async with await _connect(chat_server, conversation, key) as socket_:
        await socket_.send(json.dumps({"type": "message.send", "text": "ok a cat on a skateboard"}))
        json.loads(await socket_.recv())
        events = await receive_until(socket_, TERMINAL, timeout=30)

    assert events[-1]["type"] == "run.finished", events[-1]
    progress = [event for event in events if event["type"] == "tool.progress"]
    assert [(event["node_id"], event["tool"]) for event in progress] == [("video", f"{PLUGIN}/render")] * 4
    assert [event["percent"] for event in progress] == [10, 40, 80, 100]
    assert [event["note"] for event in progress] == ["step 1", "step 2", "step 3", "rendered"]
    finished = next(event for event in events if event["type"] == "node.finished" and event["node_id"] == "video")
    video_url = finished["outputs"]["result"]["video_url"]
    assert events[-1]["answer"] == f"Here it is: {video_url}"
    async with httpx.AsyncClient() as client:
        played = await client.get(f"{chat_server.http}{video_url}")
    assert played.status_code == 200 and played.headers["content-type"] == "video/mp4"
    assert played.content == video_bytes(render_api.only_job().id)


async def test_cancelling_the_run_cancels_its_job_at_the_provider(
    chat_server: ThreadedServer, render_api: FakeRenderApi
) -> None:
    conversation, key = await sync_to_async(_conversation)(render_api)
    async with await _connect(chat_server, conversation, key) as socket_:
        await socket_.send(json.dumps({"type": "message.send", "text": "forever a very long film"}))
        run_id = json.loads(await socket_.recv())["run_id"]
        await receive_until(socket_, {"tool.progress"})
        await socket_.send(json.dumps({"type": "run.cancel", "run_id": run_id}))
        events = await receive_until(socket_, TERMINAL)

    assert events[-1]["type"] == "run.failed" and events[-1]["error"]["code"] == "cancelled"
    fake = render_api.only_job()
    assert fake.cancelled
    job = await job_row(job_id=fake.id)
    assert job.status == PluginJob.Status.CANCELLED and job.run_id == run_id
