"""Cancelling a run: run.failed with code cancelled, and no node left started without an end."""

from __future__ import annotations

import asyncio
from typing import Any

from builder.engine.runtime.contract import NodeContext, NodeResult
from builder.engine.runtime.runner import RunRequest
from tests.engine.graphs import document, edge, node
from tests.engine.runtime.support import PATIENCE_S, Behaviour, EventLog, run, runner_for


def _hanging_graph() -> dict[str, Any]:
    """start → (slow_a, slow_b in parallel) → after; inside an iteration too (each → inner)."""
    return document(
        [
            node("start", "start"),
            node("slow_a", "probe", {"behaviour": "hang"}),
            node("each", "iteration", {"items": {"ref": ["sys", "files"]}, "parallelism": 2}),
            node("inner", "probe", {"behaviour": "hang"}, parentId="each"),
            node("after", "answer", {"text": "never"}),
        ],
        [
            edge("start", "slow_a"),
            edge("start", "each"),
            edge("each", "inner", "body"),
            edge("slow_a", "after"),
            edge("each", "after", "done"),
        ],
    )


async def test_cancel_mid_run_fails_the_run_and_closes_every_running_node(probes: dict[str, Behaviour]) -> None:
    cancel = asyncio.Event()
    hanging: list[str] = []
    checked: list[bool] = []

    async def hang(ctx: NodeContext) -> NodeResult:
        hanging.append(ctx.node_id)
        if len(hanging) == 3:  # slow_a and two rounds of inner
            cancel.set()
        try:
            await asyncio.Event().wait()
        finally:
            checked.append(ctx.cancelled())
        raise AssertionError("unreachable")

    probes["hang"] = hang

    outcome, log = await run(_hanging_graph(), cancel=cancel, sys={"files": [1, 2, 3]})

    assert outcome.status == "cancelled"
    assert outcome.error is not None and outcome.error.code == "cancelled"
    run_failed = log.one("run.failed")
    assert (run_failed.error.code, run_failed.node_id) == ("cancelled", None)
    failed = {(event.node_id, event.error.code) for event in log.of("node.failed")}
    assert failed == {("slow_a", "cancelled"), ("inner", "cancelled"), ("each", "cancelled")}
    assert len(log.of("node.failed", "inner")) == 2
    assert "after" not in log.nodes_that_ran()
    assert checked and all(checked)  # ctx.cancelled() told the nodes


async def test_a_run_cancelled_before_it_starts_ends_cleanly() -> None:
    cancel = asyncio.Event()
    cancel.set()
    doc = document([node("start", "start"), node("done", "end")], [edge("start", "done")])

    outcome, log = await run(doc, cancel=cancel)

    assert outcome.status == "cancelled"
    assert log.types[-1] == "run.failed"


async def test_cancelling_the_callers_task_still_ends_the_event_log(probes: dict[str, Behaviour]) -> None:
    started = asyncio.Event()

    async def hang(ctx: NodeContext) -> NodeResult:
        started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    probes["hang"] = hang
    doc = document([node("start", "start"), node("slow", "probe", {"behaviour": "hang"})], [edge("start", "slow")])
    doc["nodes"].append(node("done", "end"))
    doc["edges"].append(edge("slow", "done"))
    log = EventLog()
    runner = runner_for(doc)

    task = asyncio.create_task(runner.run(RunRequest(run_id="r", thread_id="t"), log))
    await asyncio.wait_for(started.wait(), PATIENCE_S)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)

    assert task.cancelled()
    assert log.types[-1] == "run.failed"
    log.assert_complete()
