"""Error policies: retries with backoff, timeouts, default outputs and the error branch."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from builder.engine.runtime import policy
from builder.engine.runtime.contract import NodeContext, NodeError, NodeResult
from tests.engine.graphs import document, edge, node
from tests.engine.runtime.support import Behaviour, run


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The backoff waits, recorded instead of slept."""
    recorded: list[float] = []

    async def record(seconds: float) -> None:
        recorded.append(seconds)

    monkeypatch.setattr(policy, "backoff_sleep", record)
    return recorded


def _flaky(failures: int, *, retryable: bool = True) -> tuple[Behaviour, list[int]]:
    """Fails ``failures`` times, then succeeds; the list counts attempts."""
    attempts: list[int] = []

    async def behaviour(ctx: NodeContext) -> NodeResult:
        attempts.append(1)
        if len(attempts) <= failures:
            raise NodeError("flaky", f"failure {len(attempts)}", retryable=retryable)
        return NodeResult(outputs={"text": f"worked on attempt {len(attempts)}"})

    return behaviour, attempts


def _graph(error: dict[str, Any], *, behaviour: str = "flaky", error_target: bool = False) -> dict[str, Any]:
    nodes = [
        node("start", "start"),
        node("work", "probe", {"behaviour": behaviour, "error": error}),
        node("reply", "answer", {"text": "ok: {{ work.text }}"}),
    ]
    edges = [edge("start", "work"), edge("work", "reply")]
    if error_target:
        nodes.append(node("sorry", "answer", {"text": "sorry: {{ work.error.code }} / {{ work.error.message }}"}))
        edges.append(edge("work", "sorry", "error"))
    return document(nodes, edges)


async def test_a_node_is_retried_with_exponential_backoff(probes: dict[str, Behaviour], waits: list[float]) -> None:
    probes["flaky"], attempts = _flaky(2)

    outcome, log = await run(_graph({"retries": 3, "backoff_s": 0.5}))

    assert len(attempts) == 3
    assert waits == [0.5, 1.0]
    assert [event.attempt for event in log.of("node.started", "work")] == [1, 2, 3]
    assert log.one("node.finished", "work").attempts == 3
    assert outcome.answer == "ok: worked on attempt 3"


async def test_retries_stop_when_they_are_used_up(probes: dict[str, Behaviour], waits: list[float]) -> None:
    probes["flaky"], attempts = _flaky(5)

    outcome, log = await run(_graph({"retries": 2}))

    assert len(attempts) == 3
    failed = log.one("node.failed", "work")
    assert (failed.attempts, failed.error.code, failed.error.message) == (3, "flaky", "failure 3")
    assert outcome.status == "failed"


async def test_an_error_that_is_not_retryable_is_not_retried(probes: dict[str, Behaviour], waits: list[float]) -> None:
    probes["flaky"], attempts = _flaky(5, retryable=False)

    await run(_graph({"retries": 4}))

    assert len(attempts) == 1
    assert waits == []


async def test_an_unexpected_exception_is_reported_and_retried(
    probes: dict[str, Behaviour], waits: list[float]
) -> None:
    calls: list[int] = []

    async def buggy(ctx: NodeContext) -> NodeResult:
        calls.append(1)
        raise KeyError("missing")

    probes["buggy"] = buggy

    _, log = await run(_graph({"retries": 1}, behaviour="buggy"))

    assert len(calls) == 2
    assert log.one("node.failed", "work").error.code == "internal_error"


async def test_an_attempt_that_takes_too_long_times_out(probes: dict[str, Behaviour], waits: list[float]) -> None:
    calls: list[int] = []

    async def hangs(ctx: NodeContext) -> NodeResult:
        calls.append(1)
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    probes["hangs"] = hangs

    outcome, log = await run(_graph({"timeout_s": 0.01, "retries": 1}, behaviour="hangs"))

    assert len(calls) == 2
    failed = log.one("node.failed", "work")
    assert (failed.error.code, failed.attempts) == ("timeout", 2)
    assert outcome.status == "failed"


async def test_default_outputs_replace_a_failed_node(probes: dict[str, Behaviour], waits: list[float]) -> None:
    probes["flaky"], _ = _flaky(9)

    outcome, log = await run(_graph({"on_error": "default", "default_outputs": {"text": "fallback"}}))

    finished = log.one("node.finished", "work")
    assert finished.outputs == {"text": "fallback"}
    assert finished.error is not None and finished.error.code == "flaky"
    assert log.of("node.failed") == []
    assert outcome.status == "finished"
    assert outcome.answer == "ok: fallback"


async def test_the_error_branch_takes_over_and_the_normal_branch_is_skipped(
    probes: dict[str, Behaviour], waits: list[float]
) -> None:
    probes["flaky"], _ = _flaky(9)

    outcome, log = await run(_graph({"on_error": "error_branch"}, error_target=True))

    failed = log.one("node.failed", "work")
    assert failed.handled is True
    assert "reply" not in log.nodes_that_ran()
    assert outcome.status == "finished"
    assert outcome.answer == "sorry: flaky / failure 1"


async def test_the_error_branch_is_not_taken_when_the_node_works(
    probes: dict[str, Behaviour], waits: list[float]
) -> None:
    probes["flaky"], _ = _flaky(0)

    outcome, log = await run(_graph({"on_error": "error_branch"}, error_target=True))

    assert "sorry" not in log.nodes_that_ran()
    assert outcome.answer == "ok: worked on attempt 1"


def test_backoff_doubles_and_is_capped() -> None:
    assert [policy.backoff_delay(2, retry) for retry in (1, 2, 3)] == [2, 4, 8]
    assert policy.backoff_delay(500, 5) == policy.MAX_BACKOFF_S
