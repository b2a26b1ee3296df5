"""Loop and iteration: rounds, item/index, collected outputs, parallelism, continue and break."""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver

from builder.engine.runtime.contract import NodeContext, NodeError, NodeResult
from tests.engine.graphs import document, edge, node
from tests.engine.runtime.support import PATIENCE_S, Behaviour, run, runner_for


def _iteration(parallelism: int = 1, *, body_behaviour: str | None = None) -> dict[str, Any]:
    """start → each (over start.items) [shout → line] → reply."""
    shout = (
        node("shout", "probe", {"behaviour": body_behaviour, "text": "{{ each.item }}"}, parentId="each")
        if body_behaviour
        else node("shout", "template", {"template": "{{ each.item | upper }}"}, parentId="each")
    )
    return document(
        [
            node("start", "start", {"inputs": [{"name": "items", "type": "array[string]"}]}),
            node(
                "each",
                "iteration",
                {
                    "items": {"ref": ["start", "items"]},
                    "parallelism": parallelism,
                    "outputs": [
                        {"name": "lines", "ref": ["line", "text"]},
                        {"name": "shouts", "ref": ["shout", "text"]},
                    ],
                },
            ),
            shout,
            node("line", "template", {"template": "{{ each.index }}:{{ shout.text }}"}, parentId="each"),
            node("reply", "answer", {"text": "{{ each.lines | join(', ') }}"}),
        ],
        [
            edge("start", "each"),
            edge("each", "shout", "body"),
            edge("shout", "line"),
            edge("line", "each"),
            edge("each", "reply", "done"),
        ],
    )


async def test_an_iteration_runs_its_body_per_item_and_collects_outputs_in_order() -> None:
    outcome, log = await run(_iteration(), inputs={"items": ["a", "b", "c"]})

    assert outcome.answer == "0:A, 1:B, 2:C"
    finished = log.one("node.finished", "each")
    assert finished.outputs == {"lines": ["0:A", "1:B", "2:C"], "shouts": ["A", "B", "C"]}
    assert finished.inputs["items"] == ["a", "b", "c"]
    assert [event.outputs["text"] for event in log.of("node.finished", "line")] == ["0:A", "1:B", "2:C"]


async def test_an_iteration_runs_the_same_with_a_checkpointer() -> None:
    runner = runner_for(_iteration(parallelism=2), checkpointer=InMemorySaver())

    outcome, _ = await run(runner, inputs={"items": ["a", "b", "c"]})

    assert outcome.answer == "0:A, 1:B, 2:C"


async def test_an_iteration_over_nothing_has_empty_outputs() -> None:
    outcome, log = await run(_iteration(), inputs={"items": []})

    assert log.one("node.finished", "each").outputs == {"lines": [], "shouts": []}
    assert outcome.answer == ""


async def test_an_iteration_over_something_that_is_not_a_list_fails() -> None:
    doc = _iteration()
    doc["nodes"][0]["data"]["inputs"][0]["type"] = "string"

    _, log = await run(doc, inputs={"items": "abc"})

    assert log.one("node.failed", "each").error.code == "invalid_input"


async def test_parallelism_bounds_how_many_rounds_run_at_once(probes: dict[str, Behaviour]) -> None:
    running = 0
    most = 0
    two_running = asyncio.Event()

    async def counted(ctx: NodeContext) -> NodeResult:
        nonlocal running, most
        running += 1
        most = max(most, running)
        if running == 2:
            two_running.set()
        # The first rounds wait for a partner: proves they overlap; later ones pass straight through.
        await asyncio.wait_for(two_running.wait(), PATIENCE_S)
        for _ in range(3):
            await asyncio.sleep(0)
        running -= 1
        return NodeResult(outputs={"text": ctx.render("{{ each.item }}")})

    probes["counted"] = counted

    outcome, _ = await run(_iteration(parallelism=2, body_behaviour="counted"), inputs={"items": list("abcdef")})

    assert most == 2
    assert outcome.answer == "0:a, 1:b, 2:c, 3:d, 4:e, 5:f"


async def test_a_failing_round_fails_the_iteration_with_the_body_node_named(probes: dict[str, Behaviour]) -> None:
    async def picky(ctx: NodeContext) -> NodeResult:
        if ctx.render("{{ each.item }}") == "b":
            raise NodeError("picky", "I do not like b.")
        return NodeResult(outputs={"text": "fine"})

    probes["picky"] = picky

    outcome, log = await run(_iteration(body_behaviour="picky"), inputs={"items": ["a", "b", "c"]})

    assert log.one("node.failed", "shout").error.code == "picky"
    container = log.one("node.failed", "each")
    assert container.error.code == "picky"
    assert container.error.details["node_id"] == "shout"
    assert outcome.status == "failed"


def _loop(body: list[dict[str, Any]], body_edges: list[dict[str, Any]], **config: Any) -> dict[str, Any]:
    return document(
        [
            node("start", "start"),
            node("again", "loop", {"outputs": [{"name": "last", "ref": ["step", "text"]}], **config}),
            *body,
            node("reply", "answer", {"text": "{{ again.last }} / {{ conv.seen }}"}),
        ],
        [edge("start", "again"), *body_edges, edge("again", "reply", "done")],
        variables=[{"name": "seen", "type": "array", "default": []}],
    )


def _counting_body(*extra: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """step (template with the round's index) → note (appends it to conv.seen) → back to the loop."""
    body = [
        node("step", "template", {"template": "round {{ again.index }}"}, parentId="again"),
        node(
            "note",
            "variable_assign",
            {"assignments": [{"variable": "conv.seen", "value": {"ref": ["again", "index"]}, "mode": "append"}]},
            parentId="again",
        ),
        *extra,
    ]
    edges = [edge("again", "step", "body"), edge("step", "note"), edge("note", "again")]
    return body, edges


async def test_a_loop_stops_after_max_iterations_and_publishes_its_last_round() -> None:
    body, edges = _counting_body()

    outcome, log = await run(_loop(body, edges, max_iterations=3))

    assert outcome.answer == "round 2 / [0, 1, 2]"
    assert outcome.conv == {"seen": [0, 1, 2]}
    assert log.one("node.finished", "again").inputs["rounds"] == 3
    assert len(log.of("node.finished", "step")) == 3


async def test_a_loop_breaks_when_its_break_condition_holds() -> None:
    body, edges = _counting_body()
    stop = {"logic": "and", "conditions": [{"left": {"ref": ["again", "index"]}, "operator": "gte", "right": 1}]}

    outcome, _ = await run(_loop(body, edges, max_iterations=10, break_condition=stop))

    assert outcome.answer == "round 1 / [0, 1]"


async def test_a_body_branch_into_the_break_handle_stops_the_loop() -> None:
    check = node(
        "check",
        "condition",
        {
            "cases": [
                {"id": "stop", "conditions": [{"left": {"ref": ["conv", "seen"]}, "operator": "length_gt", "right": 3}]}
            ]
        },
        parentId="again",
    )
    body, edges = _counting_body(check)
    edges = [e for e in edges if e["id"] != "note-out-again"]
    edges += [
        edge("note", "check"),
        {**edge("check", "again", "stop"), "targetHandle": "break"},
        edge("check", "again", "else", edge_id="continue"),
    ]

    outcome, log = await run(_loop(body, edges, max_iterations=10))

    assert outcome.conv == {"seen": [0, 1, 2, 3]}
    assert [event.branch for event in log.of("node.finished", "check")] == ["else", "else", "else", "stop"]


async def test_a_body_branch_that_leads_nowhere_continues_with_the_next_round() -> None:
    doc = document(
        [
            node("start", "start", {"inputs": [{"name": "items", "type": "array[number]"}]}),
            node(
                "each",
                "iteration",
                {"items": {"ref": ["start", "items"]}, "outputs": [{"name": "odd", "ref": ["keep", "text"]}]},
            ),
            node(
                "check",
                "condition",
                {
                    "cases": [
                        {
                            "id": "even",
                            "conditions": [{"left": {"ref": ["each", "item"]}, "operator": "in", "right": [2, 4]}],
                        }
                    ]
                },
                parentId="each",
            ),
            node("keep", "template", {"template": "{{ each.item }}"}, parentId="each"),
            node("done", "end", {"outputs": [{"name": "odd", "value": {"ref": ["each", "odd"]}}]}),
        ],
        [
            edge("start", "each"),
            edge("each", "check", "body"),
            edge("check", "keep", "else"),
            edge("keep", "each"),
            edge("each", "done", "done"),
        ],
    )

    outcome, log = await run(doc, inputs={"items": [1, 2, 3, 4, 5]})

    # Rounds where "keep" did not run publish nothing for it.
    assert outcome.outputs == {"odd": ["1", None, "3", None, "5"]}
    assert len(log.of("node.finished", "keep")) == 3


async def test_answers_inside_a_body_are_streamed_in_order_with_the_rest(probes: dict[str, Behaviour]) -> None:
    doc = document(
        [
            node("start", "start", {"inputs": [{"name": "items", "type": "array[string]"}]}),
            node("intro", "answer", {"text": "List: "}),
            node("each", "iteration", {"items": {"ref": ["start", "items"]}}),
            node("say", "answer", {"text": "<{{ each.item }}>"}, parentId="each"),
            node("outro", "answer", {"text": " end"}),
        ],
        [
            edge("start", "intro"),
            edge("intro", "each"),
            edge("each", "say", "body"),
            edge("each", "outro", "done"),
        ],
    )

    outcome, log = await run(doc, inputs={"items": ["x", "y"]})

    assert outcome.answer == "List: <x><y> end"
    assert [event.node_id for event in log.of("message.delta")] == ["intro", "say", "say", "outro"]
