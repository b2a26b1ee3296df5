"""Conditions, joins after branches, skipped branches and parallel branches."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from builder.engine.nodes.condition import evaluate
from builder.engine.runtime.contract import NodeContext, NodeError, NodeResult
from tests.engine.graphs import document, edge, node
from tests.engine.runtime.support import PATIENCE_S, Behaviour, run

TOPIC = {"ref": ["start", "topic"]}


def _case(case_id: str, operator: str, right: Any = None, left: dict[str, Any] = TOPIC) -> dict[str, Any]:
    condition: dict[str, Any] = {"left": left, "operator": operator}
    if right is not None:
        condition["right"] = right
    return {"id": case_id, "conditions": [condition]}


def _diamond() -> dict[str, Any]:
    """start → check → (short: left) | (else: right) → join → reply."""
    return document(
        [
            node("start", "start", {"inputs": [{"name": "topic"}]}),
            node("check", "condition", {"cases": [_case("short", "length_lt", 4)]}),
            node("left", "template", {"template": "short {{ start.topic }}"}),
            node("right", "template", {"template": "long {{ start.topic }}"}),
            node("left_more", "template", {"template": "{{ left.text }}!"}),
            node(
                "join",
                "variable_aggregate",
                {"groups": [{"name": "text", "refs": [{"ref": ["left_more", "text"]}, {"ref": ["right", "text"]}]}]},
            ),
            node("reply", "answer", {"text": "{{ join.text }} [{{ left.text }}|{{ right.text }}]"}),
        ],
        [
            edge("start", "check"),
            edge("check", "left", "short"),
            edge("check", "right", "else"),
            edge("left", "left_more"),
            edge("left_more", "join"),
            edge("right", "join"),
            edge("join", "reply"),
        ],
    )


@pytest.mark.parametrize(
    ("topic", "taken", "not_taken", "answer"),
    [
        ("owl", ["left", "left_more"], ["right"], "short owl! [short owl|]"),
        ("giraffe", ["right"], ["left", "left_more"], "long giraffe [|long giraffe]"),
    ],
)
async def test_a_join_runs_once_after_the_branch_that_was_taken(
    topic: str, taken: list[str], not_taken: list[str], answer: str
) -> None:
    outcome, log = await run(_diamond(), inputs={"topic": topic})

    assert outcome.answer == answer
    ran = log.nodes_that_ran()
    assert ran.count("join") == 1 and ran.count("reply") == 1
    for node_id in taken:
        assert node_id in ran
    for node_id in not_taken:
        assert [event for event in log.events if getattr(event, "node_id", None) == node_id] == []
    assert log.one("node.finished", "check").branch == ("short" if topic == "owl" else "else")


async def test_the_first_case_that_holds_wins() -> None:
    doc = document(
        [
            node("start", "start", {"inputs": [{"name": "topic"}]}),
            node(
                "check",
                "condition",
                {
                    "cases": [
                        _case("empty", "is_empty"),
                        _case("owl", "contains", "owl"),
                        _case("bird", "ends_with", "le"),
                    ]
                },
            ),
            node("owl", "answer", {"text": "owl"}),
            node("bird", "answer", {"text": "bird"}),
            node("empty", "answer", {"text": "empty"}),
            node("other", "answer", {"text": "other"}),
        ],
        [
            edge("start", "check"),
            edge("check", "empty", "empty"),
            edge("check", "owl", "owl"),
            edge("check", "bird", "bird"),
            edge("check", "other", "else"),
        ],
    )

    assert (await run(doc, inputs={"topic": "snowy owl"}))[0].answer == "owl"
    assert (await run(doc, inputs={"topic": "eagle"}))[0].answer == "bird"
    assert (await run(doc, inputs={"topic": ""}))[0].answer == "empty"
    assert (await run(doc, inputs={"topic": "cat"}))[0].answer == "other"


async def test_a_condition_that_cannot_compare_fails_with_a_message() -> None:
    doc = document(
        [
            node("start", "start", {"inputs": [{"name": "topic", "type": "array[string]"}]}),
            node("check", "condition", {"cases": [_case("big", "gt", 3)]}),
            node("reply", "answer", {"text": "x"}),
        ],
        [edge("start", "check"), edge("check", "reply", "big"), edge("check", "reply", "else", edge_id="e2")],
    )

    outcome, log = await run(doc, inputs={"topic": ["a"]})

    error = log.one("node.failed", "check").error
    assert error.code == "invalid_condition"
    assert "a list" in error.message
    assert outcome.status == "failed"


async def test_skipping_flows_through_a_whole_untaken_branch_and_stops_at_a_join(probes: dict[str, Behaviour]) -> None:
    doc = document(
        [
            node("start", "start", {"inputs": [{"name": "topic"}]}),
            node("check", "condition", {"cases": [_case("yes", "is_not_empty")]}),
            node("a1", "template", {"template": "a1"}),
            node("a2", "template", {"template": "a2"}),
            node("a3", "template", {"template": "a3"}),
            node("b1", "template", {"template": "b1"}),
            node("after", "template", {"template": "after {{ a3.text }}{{ b1.text }}"}),
            node("done", "end", {"outputs": [{"name": "out", "value": {"ref": ["after", "text"]}}]}),
        ],
        [
            edge("start", "check"),
            edge("check", "a1", "yes"),
            edge("a1", "a2"),
            edge("a2", "a3"),
            edge("a3", "after"),
            edge("check", "b1", "else"),
            edge("b1", "after"),
            edge("after", "done"),
        ],
    )

    outcome, log = await run(doc, inputs={"topic": ""})

    assert outcome.outputs == {"out": "after b1"}
    assert log.nodes_that_ran() == ["start", "check", "b1", "after", "done"]


async def test_parallel_branches_run_concurrently(probes: dict[str, Behaviour]) -> None:
    arrived = {"left": asyncio.Event(), "right": asyncio.Event()}

    def meets(me: str, other: str) -> Behaviour:
        async def behaviour(ctx: NodeContext) -> NodeResult:
            arrived[me].set()
            # Only possible if the other branch is running at the same time.
            await asyncio.wait_for(arrived[other].wait(), PATIENCE_S)
            return NodeResult(outputs={"text": me})

        return behaviour

    probes["left"], probes["right"] = meets("left", "right"), meets("right", "left")
    doc = document(
        [
            node("start", "start"),
            node("left", "probe", {"behaviour": "left"}),
            node("right", "probe", {"behaviour": "right"}),
            node("both", "template", {"template": "{{ left.text }}+{{ right.text }}"}),
            node("done", "end", {"outputs": [{"name": "out", "value": {"ref": ["both", "text"]}}]}),
        ],
        [
            edge("start", "left"),
            edge("start", "right"),
            edge("left", "both"),
            edge("right", "both"),
            edge("both", "done"),
        ],
    )

    outcome, log = await run(doc)

    assert outcome.outputs == {"out": "left+right"}
    assert log.nodes_that_ran().count("both") == 1


async def test_a_failure_in_one_parallel_branch_closes_the_other(probes: dict[str, Behaviour]) -> None:
    other_started = asyncio.Event()

    async def hangs(ctx: NodeContext) -> NodeResult:
        other_started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def fails(ctx: NodeContext) -> NodeResult:
        await asyncio.wait_for(other_started.wait(), PATIENCE_S)
        raise NodeError("boom", "It broke.")

    probes["hangs"], probes["fails"] = hangs, fails
    doc = document(
        [
            node("start", "start"),
            node("slow", "probe", {"behaviour": "hangs"}),
            node("bad", "probe", {"behaviour": "fails"}),
            node("done", "end"),
        ],
        [edge("start", "slow"), edge("start", "bad"), edge("slow", "done"), edge("bad", "done")],
    )

    outcome, log = await run(doc)

    assert outcome.status == "failed"
    assert log.one("run.failed").node_id == "bad"
    stopped = log.one("node.failed", "slow").error
    assert (stopped.code, stopped.message) == ("cancelled", "Stopped because bad failed.")


# --- operators -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "left", "right", "expected"),
    [
        ("equals", "3", 3, True),
        ("equals", 3.0, 3, True),
        ("equals", "abc", "abc", True),
        ("equals", "abc", "ABC", False),
        ("equals", True, "true", True),
        ("equals", False, "false", True),
        ("equals", True, 1, False),
        ("equals", None, None, True),
        ("equals", [1, 2], [1, 2], True),
        ("not_equals", "a", "b", True),
        ("contains", "snowy owl", "owl", True),
        ("contains", ["a", "b"], "b", True),
        ("contains", [1, 2], "2", True),
        ("contains", {"key": 1}, "key", True),
        ("contains", None, "x", False),
        ("not_contains", "snowy owl", "cat", True),
        ("not_contains", None, "x", True),
        ("starts_with", "hello", "he", True),
        ("starts_with", ["x", "y"], "x", True),
        ("ends_with", "hello", "lo", True),
        ("ends_with", None, "lo", False),
        ("gt", 5, 3, True),
        ("gt", "10", "9", True),
        ("gt", "b", "a", True),
        ("gt", None, 1, False),
        ("gte", 3, 3, True),
        ("lt", 2.5, "3", True),
        ("lte", 4, 3, False),
        ("is_empty", "", None, True),
        ("is_empty", [], None, True),
        ("is_empty", {}, None, True),
        ("is_empty", None, None, True),
        ("is_empty", 0, None, False),
        ("is_empty", " ", None, False),
        ("is_not_empty", [0], None, True),
        ("is_true", True, None, True),
        ("is_true", "True", None, True),
        ("is_true", 1, None, True),
        ("is_true", "no", None, False),
        ("is_true", None, None, False),
        ("is_false", False, None, True),
        ("is_false", "false", None, True),
        ("is_false", 0, None, True),
        ("is_false", None, None, True),
        ("is_false", "yes", None, False),
        ("length_equals", "abc", 3, True),
        ("length_equals", [1, 2], "2", True),
        ("length_gt", {"a": 1, "b": 2}, 1, True),
        ("length_lt", None, 1, True),
        ("in", "b", ["a", "b"], True),
        ("in", 2, ["1", "2"], True),
        ("in", "ow", "snowy owl", True),
        ("in", "x", None, False),
        ("not_in", "c", ["a", "b"], True),
    ],
)
def test_condition_operators(operator: str, left: Any, right: Any, expected: bool) -> None:
    assert evaluate(operator, left, right) is expected


@pytest.mark.parametrize(
    ("operator", "left", "right"),
    [("gt", [1], 1), ("lt", {"a": 1}, "b"), ("length_equals", 5, 1), ("length_gt", "abc", "many"), ("contains", 5, 1)],
)
def test_operators_refuse_what_they_cannot_compare(operator: str, left: Any, right: Any) -> None:
    with pytest.raises(NodeError) as caught:
        evaluate(operator, left, right)
    assert caught.value.code == "invalid_condition"
