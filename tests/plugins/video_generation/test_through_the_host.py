"""A bot's tool node generates a storyboard video through the host: the job runs in the background,
the chat gets its progress, and the answer links the stored MP4.

The turn runs in this process, on the mode's database, with the host holding this plugin only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.storage import default_storage

from builder.bots.services import bot_publish
from builder.conversations.models import Run, RunStep
from builder.conversations.services import conversation_create, message_send
from builder.pluginhost.manager import PluginHost
from builder.pluginhost.services import plugin_enable
from plugins import video_generation
from plugins.video_generation.storyboard.encode import probe
from tests.factories import make_bot, make_workspace, owner_of
from tests.support.graphs import linear_bot, node
from tests.support.plugin_hosts import host_with

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def host() -> Iterator[PluginHost]:
    with host_with(video_generation) as host:
        yield host


@pytest.fixture
def inline_runs(settings: Any) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = True


def stored_name(url: str) -> str:
    """The storage name of a file the host stored, from its URL."""
    assert url.startswith(settings.MEDIA_URL), url
    return url.removeprefix(settings.MEDIA_URL)


def video_bot() -> dict[str, Any]:
    return linear_bot(
        node("start", "start", {"inputs": []}),
        node(
            "video",
            "tool",
            {
                "plugin": "video_generation",
                "tool": "generate_video",
                "inputs": {"prompt": "{{ sys.query }}", "duration_s": 12},
            },
        ),
        node("answer", "answer", {"text": "Here it is: {{ video.result.video_url }}"}),
    )


@pytest.mark.usefixtures("host", "inline_runs")
def test_a_tool_node_makes_a_storyboard_video_with_progress_and_a_stored_file(tmp_path: Path) -> None:
    workspace = make_workspace()
    owner = owner_of(workspace)
    plugin_enable(actor=owner, workspace=workspace, plugin_id="video_generation")  # storyboard: no settings
    bot = make_bot(workspace, draft=video_bot())
    bot_publish(actor=owner, bot=bot)
    bot.refresh_from_db()
    conversation = conversation_create(actor=owner, bot=bot)

    run = message_send(actor=owner, conversation=conversation, text="A kite rises over the sea. It loops twice.")
    run.refresh_from_db()

    assert run.status == Run.Status.FINISHED, run.error
    result = RunStep.objects.get(run=run, node_id="video").outputs["result"]
    assert (result["provider"], result["model"], result["duration_s"]) == (
        "storyboard",
        "local-storyboard-renderer",
        12.0,
    )
    assert run.answer == f"Here it is: {result['video_url']}"
    stored = stored_name(result["video_url"])
    assert default_storage.exists(stored) and stored.endswith(".mp4")
    assert default_storage.exists(stored_name(result["thumbnail_url"]))
    report = probe(Path(default_storage.path(stored)))
    assert "Video: h264" in report and "Duration: 00:00:12.00" in report
    progress = [event.data for event in run.events.filter(type="tool.progress")]
    assert progress and all(item["tool"] == "video_generation/generate_video" for item in progress)
    percents = [item["percent"] for item in progress if item["percent"] is not None]
    assert percents[-1] == 100 and any(0 < percent < 100 for percent in percents)
    assert any(item["note"].startswith("rendering frame") for item in progress)
