"""Files a tool produced (``ctx.emit_tool_file``): a ``tool.file`` event at once, and the files again
on ``message.completed``, so a client that joins late still shows the video with the answer."""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.memory import InMemorySaver

from builder.engine.runtime.contract import NodeContext, NodeResult
from builder.engine.runtime.events import FileInfo
from tests.engine.graphs import document, edge, node
from tests.engine.runtime.support import Behaviour, run, runner_for

VIDEO = FileInfo(
    node_id="render",
    url="/media/plugin-jobs/w/j/video_url-clip.mp4",
    name="clip.mp4",
    content_type="video/mp4",
    size=2048,
)
POSTER = FileInfo(
    node_id="render", url="/media/plugin-jobs/w/j/poster_url-still.png", name="still.png", content_type="image/png"
)


async def _render(ctx: NodeContext) -> NodeResult:
    await ctx.emit_tool_progress("video/render", 100.0, "rendered")
    for file in (VIDEO, POSTER):
        await ctx.emit_tool_file(
            "video/render", url=file.url, name=file.name, content_type=file.content_type, size=file.size
        )
    return NodeResult(outputs={"text": VIDEO.url})


def _video_bot(*, ask_first: bool = False) -> dict[str, Any]:
    nodes = [
        node("start", "start"),
        node("render", "probe", {"behaviour": "render"}),
        node("answer", "answer", {"text": "Here: {{ render.text }}"}),
    ]
    edges = [edge("start", "render"), edge("render", "answer")]
    if ask_first:  # the video is made, then the run pauses on a question before it answers
        nodes.append(node("ask", "question", {"question": "Another one?"}))
        edges = [edge("start", "render"), edge("render", "ask"), edge("ask", "answer")]
    return document(nodes, edges)


async def test_a_tools_files_are_sent_as_they_come_and_again_with_the_message(
    probes: dict[str, Behaviour],
) -> None:
    probes["render"] = _render

    outcome, log = await run(_video_bot())

    assert outcome.status == "finished"
    video, poster = log.of("tool.file", "render")
    assert (video.tool, video.url, video.name, video.content_type, video.size) == (
        "video/render",
        VIDEO.url,
        "clip.mp4",
        "video/mp4",
        2048,
    )
    assert (poster.content_type, poster.size) == ("image/png", None)
    # Sent while the node runs: after its progress, before it finishes.
    assert log.index(log.one("tool.progress")) < log.index(video) < log.index(log.one("node.finished", "render"))
    completed = log.one("message.completed")
    assert completed.text == f"Here: {VIDEO.url}"
    assert completed.files == [VIDEO, POSTER]


async def test_files_made_before_a_pause_go_with_the_message_sent_at_the_pause(
    probes: dict[str, Behaviour],
) -> None:
    probes["render"] = _render
    saver = InMemorySaver()

    first, log = await run(runner_for(_video_bot(ask_first=True), checkpointer=saver), thread_id="t")
    second, log2 = await run(
        runner_for(_video_bot(ask_first=True), checkpointer=saver),
        thread_id="t",
        resume="no",
        first_seq=first.last_seq + 1,
    )

    assert (first.status, second.status) == ("paused", "finished")
    assert log.one("message.completed").files == [VIDEO, POSTER]
    # The resumed leg made no file and does not send the first leg's again.
    assert log2.of("tool.file") == []
    assert log2.one("message.completed").files == []
