"""A bot whose agent node searches the web, then makes a storyboard video, in a real chat over a
websocket: the two built-in plugins enabled in the workspace as an administrator would, web_search
against a scripted Tavily on 127.0.0.1, video_generation with its offline storyboard renderer (a
long-running job that renders a real MP4 here), and the scripted OpenAI-compatible model that
reads each tool's result before its next step.

The chat shows the job's progress (``tool.progress``) while the video renders, then the stored
video as a file (``tool.file``, ``video/mp4``: clients show it as a video, not as a link), then the
answer with the video's URL, which the server plays back as an H.264 MP4. The completed message
carries the video too, and the assistant message keeps it (the REST messages API returns it).

The run executes on the server's event loop, on the mode's database and channel layer (as in
``tests/pluginhost/test_jobs_chat.py``: a run waiting for its job's polls on the suite's single
Celery worker would wait for itself; polls on a worker are ``tests/pluginhost/test_jobs.py``'s).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async

import plugins.video_generation
import plugins.web_search
from builder.conversations.models import Conversation, Message
from builder.pluginhost.manager import PluginHost, set_host
from builder.pluginhost.models import PluginJob
from builder.pluginhost.services import plugin_configure, plugin_enable
from plugins.video_generation.storyboard import renders
from plugins.video_generation.storyboard.encode import probe
from tests.conversations.conftest import (
    TERMINAL,
    ThreadedServer,
    chat_socket,
    published_chat,
    receive_until,
    use_fake_model,
)
from tests.factories import make_workspace, owner_of
from tests.pluginhost.jobs_support import async_orm_closed  # noqa: F401  (fixture)
from tests.plugins.web_search.conftest import KEYS, provider_config
from tests.support.fake_openai import FakeOpenAI, RecordedRequest, Respond, ToolCall
from tests.support.fake_openai import Reply as ModelReply
from tests.support.graphs import linear_bot, node
from tests.support.scripted_api import Reply, ScriptedApi

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("plugin_host", "inline_runs", "async_orm_closed"),
]

VIDEO_TOOL = "video_generation/generate_video"
SEARCH_TOOL = "web_search/search"
WAITING_NOTE = "waiting for another storyboard to finish rendering"
QUESTION = "Make me a short storyboard video about this year's Qiantang River tidal bore."
FOUND: dict[str, Any] = {
    "title": "Qiantang tidal bore peaks on 22 September",
    "url": "https://news.example.com/qiantang-bore",
    "content": "The bore peaks on 22 September, best seen from Yanguan town.",
    "score": 0.93,
    "raw_content": None,
    "published_date": "Mon, 08 Sep 2025 06:00:00 GMT",
}
TAVILY_ANSWER = {
    "query": "Qiantang tidal bore 2025",
    "answer": None,
    "images": [],
    "results": [FOUND],
    "response_time": 0.4,
}


@pytest.fixture
def plugin_host() -> Iterator[PluginHost]:
    """``get_host()`` answers with the two built-in plugins, as a server that discovered them."""
    host = PluginHost()
    for plugin in (plugins.web_search, plugins.video_generation):
        assert host.load(plugin) is not None, host.problems
    previous = set_host(host)
    yield host
    set_host(previous)


@pytest.fixture
def inline_runs(settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.AGENTLOOM_HTTP_ALLOWLIST = ["127.0.0.1"]  # the fake search API
    monkeypatch.setenv(renders.WORK_DIR_ENV, str(tmp_path / "storyboards"))


@pytest.fixture
def chat_server(inline_runs: None) -> Iterator[ThreadedServer]:
    with ThreadedServer() as server:
        yield server


@pytest.fixture
def search_api() -> Iterator[ScriptedApi]:
    with ScriptedApi() as api:
        yield api


@contextmanager
def renderer_busy() -> Iterator[None]:
    """Every turn of the storyboard renderer taken, as by other renders: a new render waits (and
    its job says so) until the block ends. The test then knows the video is not done yet when it
    reads a progress event."""
    for _turn in range(renders.MAX_PARALLEL):
        # Blocking: the render of a test before may still be handing its turn back.
        assert renders._turns.acquire(timeout=30)
    try:
        yield
    finally:
        for _turn in range(renders.MAX_PARALLEL):
            renders._turns.release()


def _agent_bot() -> dict[str, Any]:
    tools = [{"plugin": "web_search", "tool": "search"}, {"plugin": "video_generation", "tool": "generate_video"}]
    return linear_bot(
        node("start", "start", {"inputs": []}),
        node("agent", "agent", {"instructions": "Research first, then make the video.", "tools": tools}),
        node("answer", "answer", {"text": "{{ agent.text }}"}),
    )


def _conversation(fake: FakeOpenAI, search_api: ScriptedApi) -> tuple[Conversation, str]:
    workspace = make_workspace()
    owner = owner_of(workspace)
    use_fake_model(workspace, owner, fake)
    plugin_configure(
        actor=owner, workspace=workspace, plugin_id="web_search", config=provider_config("tavily", search_api.url)
    )
    plugin_enable(actor=owner, workspace=workspace, plugin_id="web_search")
    plugin_configure(actor=owner, workspace=workspace, plugin_id="video_generation", config={"provider": "storyboard"})
    plugin_enable(actor=owner, workspace=workspace, plugin_id="video_generation")
    return published_chat(workspace, _agent_bot())


SEARCH = ModelReply(
    tool_calls=[ToolCall("search", {"query": "Qiantang tidal bore 2025", "count": 1}, id="call_search")]
)


def _tool_result(request: RecordedRequest, call_id: str) -> Any:
    """What the model was told a tool call returned."""
    [message] = [m for m in request.messages if m["role"] == "tool" and m.get("tool_call_id") == call_id]
    return json.loads(message["content"])


def _video_from_the_search(request: RecordedRequest) -> ModelReply:
    """The model's second step: a video of what the search found."""
    [found] = _tool_result(request, "call_search")["results"]
    prompt = f"{found['title']}. {found['snippet']}"
    return ModelReply(tool_calls=[ToolCall("generate_video", {"prompt": prompt, "duration_s": 2}, id="call_video")])


def _answer_with_the_video(request: RecordedRequest) -> ModelReply:
    return ModelReply(text=f"Your storyboard is ready: {_tool_result(request, 'call_video')['video_url']}")


async def _until_the_render_waits(socket_: Any) -> list[dict[str, Any]]:
    """The events up to the job's progress saying that its render waits for a turn (or the run's end)."""
    events = await receive_until(socket_, {"tool.progress", *TERMINAL})
    while events[-1]["type"] == "tool.progress" and events[-1]["note"] != WAITING_NOTE:
        events += await receive_until(socket_, {"tool.progress", *TERMINAL})
    return events


def _progress(events: list[dict[str, Any]], tool: str) -> list[tuple[float | None, str]]:
    shown = [event for event in events if event["type"] == "tool.progress" and event["tool"] == tool]
    assert all(event["node_id"] == "agent" for event in shown)
    return [(event["percent"], event["note"]) for event in shown]


async def test_an_agent_searches_then_renders_a_video_with_progress_in_the_chat(
    chat_server: ThreadedServer, fake_openai: FakeOpenAI, search_api: ScriptedApi, tmp_path: Path
) -> None:
    search_api.reply("POST", "/search", Reply(json=TAVILY_ANSWER))
    fake_openai.script([SEARCH, Respond(_video_from_the_search), Respond(_answer_with_the_video)])
    conversation, key = await sync_to_async(_conversation)(fake_openai, search_api)
    async with await chat_socket(chat_server, conversation, key) as socket_:
        with renderer_busy():
            await socket_.send(json.dumps({"type": "message.send", "text": QUESTION}))
            assert json.loads(await socket_.recv())["type"] == "run.queued"
            while_waiting = await _until_the_render_waits(socket_)
        ended = while_waiting[-1]["type"] in TERMINAL
        events = while_waiting + ([] if ended else await receive_until(socket_, TERMINAL, timeout=60))

    assert events[-1]["type"] == "run.finished", [e for e in events if e["type"] in {"node.failed", "run.failed"}]
    # The search went to the workspace's provider with its (decrypted) key.
    [search] = search_api.requests
    assert search.headers["authorization"] == f"Bearer {KEYS['tavily']}"
    assert search.json()["query"] == "Qiantang tidal bore 2025"
    # The model saw both tools, then the search results, then the video: each step used what it read.
    first, second, third = fake_openai.requests
    assert sorted(first.tool_names) == ["generate_video", "search"]
    [found] = _tool_result(second, "call_search")["results"]
    assert (found["title"], found["snippet"], found["url"]) == (FOUND["title"], FOUND["content"], FOUND["url"])
    video = _tool_result(third, "call_video")
    assert (video["provider"], video["duration_s"]) == ("storyboard", 2.0)
    agent = next(e for e in events if e["type"] == "node.finished" and e["node_id"] == "agent")
    search_call, video_call = agent["outputs"]["tool_calls"]
    assert search_call["result"]["results"][0]["title"] == FOUND["title"]
    assert FOUND["content"] in video_call["args"]["prompt"] and video_call["result"] == video

    # Progress reached the chat while the video could not be done (the renderer was busy), then the rest.
    assert while_waiting[-1]["type"] == "tool.progress" and while_waiting[-1]["tool"] == VIDEO_TOOL
    searching = _progress(events, SEARCH_TOOL)
    assert searching[-1][0] == 100 and all(note for _percent, note in searching)
    rendering = _progress(events, VIDEO_TOOL)
    assert rendering[:2] == [(0.0, "storyboard render started (local renderer)"), (0.0, WAITING_NOTE)]
    assert rendering[-1] == (100.0, "storyboard ready")
    percents = [percent for percent, _note in rendering if percent is not None]
    assert len(percents) == len(rendering) and percents == sorted(percents)
    assert all(note.startswith("rendering frame ") for _percent, note in rendering[2:-1])

    # The answer links the stored video, which the server plays: an MP4 (ftyp box) of H.264 video.
    assert events[-1]["answer"] == f"Your storyboard is ready: {video['video_url']}"
    async with httpx.AsyncClient(base_url=chat_server.http) as client:
        played = await client.get(video["video_url"])
        listed = await client.get(
            f"/api/v1/conversations/{conversation.pk}/messages", headers={"Authorization": f"Bearer {key}"}
        )
    assert played.status_code == 200 and played.headers["content-type"] == "video/mp4"
    assert played.content[4:8] == b"ftyp"
    saved = tmp_path / "played.mp4"
    saved.write_bytes(played.content)
    assert "Video: h264" in probe(saved)

    # The video reached the chat as a video file of the agent's call, once it was stored (after the
    # render's last progress, before the agent went on), with the URL the answer gives; its
    # thumbnail as an image.
    shown, thumbnail = [event for event in events if event["type"] == "tool.file"]
    assert (shown["node_id"], shown["tool"], shown["content_type"]) == ("agent", VIDEO_TOOL, "video/mp4")
    assert shown["url"] == video["video_url"] and shown["name"].endswith(".mp4")
    assert shown["size"] == len(played.content)
    assert (thumbnail["content_type"], thumbnail["url"]) == ("image/jpeg", video["thumbnail_url"])
    # Which output field each came from tells the video from its poster.
    assert (shown["field"], thumbnail["field"]) == ("video_url", "thumbnail_url")
    last_progress = max(i for i, event in enumerate(events) if event["type"] == "tool.progress")
    assert last_progress < events.index(shown) < events.index(agent)
    # The completed message carries them (a client that joins late shows them too), and the answer
    # keeps them.
    fields = ("node_id", "url", "name", "content_type", "size", "field")  # a tool.file's, but the tool
    files = [{field: file[field] for field in fields} for file in (shown, thumbnail)]
    [completed] = [event for event in events if event["type"] == "message.completed"]
    assert completed["files"] == files
    answer = await Message.objects.aget(run_id=events[-1]["run_id"], role=Message.Role.ASSISTANT)
    assert answer.files == files
    assert listed.status_code == 200, listed.text
    assert [(message["role"], message["files"]) for message in listed.json()["results"]] == [
        ("user", []),
        ("assistant", files),
    ]


async def test_cancelling_the_run_while_the_agent_waits_for_its_video_cancels_the_job(
    chat_server: ThreadedServer, fake_openai: FakeOpenAI, search_api: ScriptedApi
) -> None:
    search_api.reply("POST", "/search", Reply(json=TAVILY_ANSWER))
    fake_openai.script([SEARCH, Respond(_video_from_the_search)])
    conversation, key = await sync_to_async(_conversation)(fake_openai, search_api)
    async with await chat_socket(chat_server, conversation, key) as socket_:
        with renderer_busy():
            await socket_.send(json.dumps({"type": "message.send", "text": QUESTION}))
            run_id = json.loads(await socket_.recv())["run_id"]
            await _until_the_render_waits(socket_)
            await socket_.send(json.dumps({"type": "run.cancel", "run_id": run_id}))
            events = await receive_until(socket_, TERMINAL)

    assert events[-1]["type"] == "run.failed" and events[-1]["error"]["code"] == "cancelled"
    job = await PluginJob.objects.aget(run_id=run_id)
    assert (job.tool, job.status) == ("generate_video", PluginJob.Status.CANCELLED)
    assert len(fake_openai.requests) == 2  # the agent did not go on to ask the model about the failed call
