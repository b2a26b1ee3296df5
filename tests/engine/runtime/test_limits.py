"""A run's budget: past its node steps, wall time or CPU time it ends failed with a typed error.

Whatever stopped it, the run ends with exactly one ``run.failed`` (code ``step_limit``,
``time_limit`` or ``cpu_limit``, an English message from a translatable template with its
parameters), every node it started is closed, and no node's error policy turns the stop into
something else.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

from builder.engine.runtime.contract import NodeContext, NodeError, NodeResult
from builder.engine.runtime.limits import CPU_LIMIT, STEP_LIMIT, TIME_LIMIT, RunLimits
from builder.engine.runtime.runner import RunOutcome, RunRequest
from tests.engine.graphs import document, edge, node
from tests.engine.runtime.support import Behaviour, EventLog, run, runner_for


def _chain(*middle: dict[str, Any]) -> dict[str, Any]:
    """start → ``middle``, one after the other → answer."""
    nodes = [node("start", "start"), *middle, node("reply", "answer", {"text": "done"})]
    return document(nodes, [edge(a["id"], b["id"]) for a, b in itertools.pairwise(nodes)])


def _templates(count: int) -> list[dict[str, Any]]:
    return [node(f"t{index}", "template", {"template": f"step {index}"}) for index in range(count)]


def _burn_cpu(seconds: float) -> None:
    """Compute (not wait) until this thread has used ``seconds`` more CPU time."""
    until = time.thread_time() + seconds
    while time.thread_time() < until:
        sum(range(1000))


def _assert_stopped(outcome: RunOutcome, log: EventLog, code: str, template: str, **params: Any) -> None:
    assert outcome.status == "failed"
    assert outcome.error is not None and outcome.error.code == code
    run_failed = log.one("run.failed")
    assert run_failed.node_id is None  # the run as a whole went over its budget
    assert run_failed.error == outcome.error
    assert run_failed.error.message == template % params
    assert run_failed.error.details == {"template": template, "params": params}
    assert not log.of("run.finished")


async def test_a_run_past_its_step_limit_fails_before_the_next_node() -> None:
    outcome, log = await run(_chain(*_templates(10)), limits=RunLimits(max_steps=4))

    _assert_stopped(outcome, log, "step_limit", STEP_LIMIT, steps=4)
    assert outcome.error is not None
    assert outcome.error.message == "The run was stopped after 4 node steps, the most one run may take."
    assert log.nodes_that_ran() == ["start", "t0", "t1", "t2"]
    assert [event.node_id for event in log.of("node.finished")] == ["start", "t0", "t1", "t2"]


async def test_every_round_of_a_loop_counts_its_body_nodes() -> None:
    doc = document(
        [
            node("start", "start"),
            node("again", "loop", {"max_iterations": 1000, "outputs": [{"name": "last", "ref": ["step", "text"]}]}),
            node("step", "template", {"template": "round {{ again.index }}"}, parentId="again"),
            node("reply", "answer", {"text": "{{ again.last }}"}),
        ],
        [edge("start", "again"), edge("again", "step", "body"), edge("step", "again"), edge("again", "reply", "done")],
    )

    outcome, log = await run(doc, limits=RunLimits(max_steps=25))

    _assert_stopped(outcome, log, "step_limit", STEP_LIMIT, steps=25)
    assert len(log.of("node.finished", "step")) == 23  # start and the loop itself took two steps
    container = log.one("node.failed", "again")
    assert container.error == outcome.error


async def test_retries_count_and_no_error_policy_outlives_the_limit(probes: dict[str, Behaviour]) -> None:
    attempts: list[int] = []

    async def always_fails(ctx: NodeContext) -> NodeResult:
        attempts.append(1)
        raise NodeError("flaky", "not this time", retryable=True)

    probes["always_fails"] = always_fails
    error = {"retries": 10, "on_error": "default", "default_outputs": {"text": "fallback"}}
    doc = _chain(node("work", "probe", {"behaviour": "always_fails", "error": error}))

    outcome, log = await run(doc, limits=RunLimits(max_steps=4))

    _assert_stopped(outcome, log, "step_limit", STEP_LIMIT, steps=4)
    assert len(attempts) == 3  # start, then three attempts of work
    assert log.one("node.failed", "work").error == outcome.error
    assert not log.of("node.finished", "work")  # its default outputs never stood in


async def test_a_run_past_its_wall_time_is_stopped_where_it_waits(probes: dict[str, Behaviour]) -> None:
    async def hang(ctx: NodeContext) -> NodeResult:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    probes["hang"] = hang

    outcome, log = await run(_chain(node("wait", "probe", {"behaviour": "hang"})), limits=RunLimits(max_seconds=0.2))

    _assert_stopped(outcome, log, "time_limit", TIME_LIMIT, seconds="0.2")
    assert outcome.error is not None
    assert outcome.error.message == "The run was stopped after 0.2 s, the longest one run may last."
    assert log.one("node.failed", "wait").error == outcome.error


async def test_a_run_past_its_cpu_time_fails_before_the_next_node(probes: dict[str, Behaviour]) -> None:
    async def compute(ctx: NodeContext) -> NodeResult:
        _burn_cpu(0.05)
        return NodeResult(outputs={"text": "computed"})

    probes["compute"] = compute
    doc = _chain(node("work", "probe", {"behaviour": "compute"}), *_templates(3))

    outcome, log = await run(doc, limits=RunLimits(max_cpu_seconds=0.02))

    _assert_stopped(outcome, log, "cpu_limit", CPU_LIMIT, seconds="0.02")
    assert "t0" not in log.nodes_that_ran()


async def test_a_node_waiting_after_using_up_the_cpu_time_is_stopped(probes: dict[str, Behaviour]) -> None:
    async def compute_then_wait(ctx: NodeContext) -> NodeResult:
        _burn_cpu(0.05)
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    probes["compute_then_wait"] = compute_then_wait
    doc = _chain(node("work", "probe", {"behaviour": "compute_then_wait"}))

    outcome, log = await run(doc, limits=RunLimits(max_cpu_seconds=0.02))

    _assert_stopped(outcome, log, "cpu_limit", CPU_LIMIT, seconds="0.02")
    assert log.one("node.failed", "work").error == outcome.error


async def test_parallel_branches_spend_the_same_cpu_budget(probes: dict[str, Behaviour]) -> None:
    async def compute(ctx: NodeContext) -> NodeResult:
        _burn_cpu(0.03)
        return NodeResult(outputs={"text": "computed"})

    probes["compute"] = compute
    doc = document(
        [
            node("start", "start"),
            node("left", "probe", {"behaviour": "compute"}),
            node("right", "probe", {"behaviour": "compute"}),
            node("after", "template", {"template": "joined"}),
            node("reply", "answer", {"text": "done"}),
        ],
        [
            edge("start", "left"),
            edge("start", "right"),
            edge("left", "after"),
            edge("right", "after"),
            edge("after", "reply"),
        ],
    )

    outcome, log = await run(doc, limits=RunLimits(max_cpu_seconds=0.05))  # each branch alone fits

    _assert_stopped(outcome, log, "cpu_limit", CPU_LIMIT, seconds="0.05")
    assert "after" not in log.nodes_that_ran()


async def test_a_called_run_spends_its_callers_budget(probes: dict[str, Behaviour]) -> None:
    inner = EventLog()

    async def call_another_bot(ctx: NodeContext) -> NodeResult:
        # As the sub_bot node's host does: a run of its own, with no limits of its own here.
        called = await runner_for(_chain(*_templates(10))).run(RunRequest(run_id="inner", thread_id="inner"), inner)
        return NodeResult(outputs={"text": called.status})

    probes["call"] = call_another_bot
    doc = _chain(node("call", "probe", {"behaviour": "call"}), *_templates(2))

    outcome, log = await run(doc, limits=RunLimits(max_steps=6))

    _assert_stopped(outcome, log, "step_limit", STEP_LIMIT, steps=6)
    assert inner.nodes_that_ran() == ["start", "t0", "t1", "t2"]  # after the caller's start and call
    assert inner.types[-1] == "run.failed"
    assert log.one("node.failed", "call").error == outcome.error


async def test_without_limits_a_big_run_finishes() -> None:
    outcome, log = await run(_chain(*_templates(50)))

    assert outcome.status == "finished"
    assert len(log.nodes_that_ran()) == 52


async def test_the_runner_lets_other_tasks_run_between_two_nodes() -> None:
    """What keeps a server answering during a big run (a count of turns, not a timing). A guard:
    LangGraph happens to yield between steps today; the budget's step makes sure of it."""
    turns = 0
    done = asyncio.Event()

    async def other_work() -> None:
        nonlocal turns
        while not done.is_set():
            turns += 1
            await asyncio.sleep(0)

    beside = asyncio.create_task(other_work())
    turns_before = turns
    outcome, log = await run(_chain(*_templates(40)))
    done.set()
    await beside

    assert outcome.status == "finished"
    assert turns - turns_before >= len(log.nodes_that_ran())
