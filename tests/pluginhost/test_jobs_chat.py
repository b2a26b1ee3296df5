"""A bot's tool node calls a long-running tool in a real chat over a websocket: the chat sees the
job's progress as ``tool.progress`` events, the stored video as a ``tool.file`` (so a client shows it
as a video), then the answer with the video's URL, which the server plays back; the assistant message
keeps the video, for the REST API and the blocking API chat too; cancelling the run cancels the job
at the provider.

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
from asgiref.sync import sync_to_async

from builder.bots.services import bot_publish
from builder.conversations.models import Conversation, Message
from builder.conversations.services import conversation_create
from builder.pluginhost.models import PluginJob
from tests.conversations.conftest import TERMINAL, ThreadedServer, chat_socket, published_chat, receive_until
from tests.factories import make_bot, owner_of
from tests.pluginhost.fake_render_api import FakeRenderApi, video_bytes
from tests.pluginhost.jobs_support import PLUGIN, job_row, jobs_workspace, stored_bytes
from tests.support.graphs import linear_bot, node

# What a file of a message is (``message.completed``, the stored message): its ``tool.file`` but the tool.
FILE_FIELDS = ("node_id", "url", "name", "content_type", "size", "field")

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


def _conversation(api: FakeRenderApi, draft: dict[str, Any] | None = None) -> tuple[Conversation, str]:
    return published_chat(jobs_workspace(api), draft or _video_bot())


async def test_the_chat_shows_the_jobs_progress_then_the_video(
    chat_server: ThreadedServer, render_api: FakeRenderApi
) -> None:
    conversation, key = await sync_to_async(_conversation)(render_api)
    async with await chat_socket(chat_server, conversation, key) as socket_:
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
    async with httpx.AsyncClient(base_url=chat_server.http) as client:
        played = await client.get(video_url)
        listed = await client.get(
            f"/api/v1/conversations/{conversation.pk}/messages", headers={"Authorization": f"Bearer {key}"}
        )
    expected = video_bytes(render_api.only_job().id)
    assert played.status_code == 200 and played.headers["content-type"] == "video/mp4"
    assert played.content == expected

    # The video is a file of the answer, not only a link in its text: sent as soon as it was stored…
    [shown] = [event for event in events if event["type"] == "tool.file"]
    assert (shown["node_id"], shown["tool"], shown["url"]) == ("video", f"{PLUGIN}/render", video_url)
    assert (shown["name"], shown["content_type"], shown["size"]) == ("clip.mp4", "video/mp4", len(expected))
    assert events.index(shown) < events.index(finished)
    # …again with the completed message (for a client that joins late), and kept with it.
    file = {field: shown[field] for field in FILE_FIELDS}
    [completed] = [event for event in events if event["type"] == "message.completed"]
    assert completed["files"] == [file]
    answer = await Message.objects.aget(run_id=events[-1]["run_id"], role=Message.Role.ASSISTANT)
    assert (answer.content, answer.files) == (events[-1]["answer"], [file])
    assert listed.status_code == 200, listed.text
    user_message, assistant_message = listed.json()["results"]
    assert (user_message["files"], assistant_message["files"]) == ([], [file])


async def test_the_blocking_api_chat_answers_with_the_video_file(
    chat_server: ThreadedServer, render_api: FakeRenderApi
) -> None:
    conversation, key = await sync_to_async(_conversation)(render_api)
    auth = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=chat_server.http, timeout=30) as client:
        answered = await client.post(
            f"/api/v1/bots/{conversation.bot_id}/chat", json={"query": "ok a red kite", "stream": False}, headers=auth
        )
        body = answered.json()
        # The streamed mode forwards the event as it comes (in the same conversation).
        async with client.stream(
            "POST",
            f"/api/v1/bots/{conversation.bot_id}/chat",
            json={"query": "ok a blue kite", "conversation_id": body["conversation_id"]},
            headers=auth,
        ) as streamed:
            frames = (await streamed.aread()).decode()

    assert answered.status_code == 200 and body["status"] == "finished", body
    [file] = body["files"]
    assert body["answer"] == f"Here it is: {file['url']}"
    assert (file["node_id"], file["name"], file["content_type"]) == ("video", "clip.mp4", "video/mp4")
    first_job, second_job = render_api.jobs.values()
    assert file["size"] == len(video_bytes(first_job.id))
    played = await stored_bytes(file["url"])
    assert played == video_bytes(first_job.id)
    events = [json.loads(line[6:]) for line in frames.splitlines() if line.startswith("data: ")]
    [shown] = [event for event in events if event["type"] == "tool.file"]
    assert shown["content_type"] == "video/mp4" and shown["url"] != file["url"]
    assert await stored_bytes(shown["url"]) == video_bytes(second_job.id)
    assert events[-1]["type"] == "run.finished" and events[-1]["answer"] == f"Here it is: {shown['url']}"


async def test_cancelling_the_run_cancels_its_job_at_the_provider(
    chat_server: ThreadedServer, render_api: FakeRenderApi
) -> None:
    conversation, key = await sync_to_async(_conversation)(render_api)
    async with await chat_socket(chat_server, conversation, key) as socket_:
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


async def test_a_video_made_before_a_question_stays_with_the_answer(
    chat_server: ThreadedServer, render_api: FakeRenderApi
) -> None:
    start, video, _answer = _video_bot()["nodes"]
    ask = node("ask", "question", {"question": "Who is it for?"})
    reply = node("answer", "answer", {"text": "For {{ ask.answer }}: {{ video.result.video_url }}"})
    conversation, key = await sync_to_async(_conversation)(render_api, linear_bot(start, video, ask, reply))
    async with await chat_socket(chat_server, conversation, key) as socket_:
        await socket_.send(json.dumps({"type": "message.send", "text": "ok a birthday cake"}))
        run_id = json.loads(await socket_.recv())["run_id"]
        paused = await receive_until(socket_, TERMINAL, timeout=30)
        await socket_.send(json.dumps({"type": "question.answer", "run_id": run_id, "answer": "Ada"}))
        resumed = await receive_until(socket_, TERMINAL, timeout=30)

    assert (paused[-1]["type"], resumed[-1]["type"]) == ("run.paused", "run.finished")
    [shown] = [event for event in paused if event["type"] == "tool.file"]
    file = {field: shown[field] for field in FILE_FIELDS}
    # The message sent at the pause carries the video; the answer after it keeps it too.
    assert [event["files"] for event in paused if event["type"] == "message.completed"] == [[file]]
    assert resumed[-1]["answer"] == f"For Ada: {shown['url']}"
    answer = await Message.objects.aget(run_id=run_id, role=Message.Role.ASSISTANT)
    assert (answer.content, answer.files) == (resumed[-1]["answer"], [file])


async def test_a_called_bots_video_joins_the_callers_answer(
    chat_server: ThreadedServer, render_api: FakeRenderApi
) -> None:
    def caller(video_bot_id: str) -> dict[str, Any]:
        return linear_bot(
            node("start", "start", {"inputs": []}),
            node("maker", "sub_bot", {"bot_id": video_bot_id}),
            node("answer", "answer", {"text": "{{ maker.answer }}"}),
        )

    def publish_caller() -> tuple[Conversation, str]:
        video_conversation, key = _conversation(render_api)
        video_bot = video_conversation.bot
        bot = make_bot(video_bot.workspace, draft=caller(str(video_bot.pk)))
        bot_publish(actor=owner_of(video_bot.workspace), bot=bot)
        bot.refresh_from_db()
        return conversation_create(actor=owner_of(bot.workspace), bot=bot), key

    conversation, key = await sync_to_async(publish_caller)()
    async with httpx.AsyncClient(base_url=chat_server.http, timeout=30) as client:
        answered = await client.post(
            f"/api/v1/bots/{conversation.bot_id}/chat",
            json={"query": "ok a green kite", "stream": False},
            headers={"Authorization": f"Bearer {key}"},
        )

    body = answered.json()
    assert answered.status_code == 200 and body["status"] == "finished", body
    [file] = body["files"]
    assert body["answer"] == f"Here it is: {file['url']}"
    assert (file["node_id"], file["content_type"], file["field"]) == ("maker", "video/mp4", "video_url")
    [job] = render_api.jobs.values()
    assert await stored_bytes(file["url"]) == video_bytes(job.id)
