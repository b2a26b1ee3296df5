"""GraphRunner end to end: events, outputs, variables and each simple node type's normal and failure path."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping
from typing import Any

import pytest

from builder.engine.runtime.contract import NodeContext, NodeResult, RuntimeServices, Usage
from tests.engine.graphs import document, edge, node
from tests.engine.runtime.support import Behaviour, run, runner_for


def _chain(*steps: dict[str, Any], start: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    """start → steps[0] → steps[1] → …"""
    nodes = [node("start", "start", start or {}), *steps]
    edges = [edge(a["id"], b["id"]) for a, b in itertools.pairwise(nodes)]
    return document(nodes, edges, **kwargs)


async def test_a_chain_runs_in_order_and_reports_every_step() -> None:
    doc = _chain(
        node("greet", "template", {"template": "Hello {{ start.name }}, you said {{ sys.query }}"}),
        node("reply", "answer", {"text": "{{ greet.text }}!"}),
        node("done", "end", {"outputs": [{"name": "greeting", "value": {"ref": ["greet", "text"]}}]}),
        start={"inputs": [{"name": "name", "required": True}]},
    )

    outcome, log = await run(doc, query="hi", inputs={"name": "Ada"})

    assert outcome.status == "finished"
    assert outcome.answer == "Hello Ada, you said hi!"
    assert outcome.outputs == {"greeting": "Hello Ada, you said hi"}
    assert log.nodes_that_ran() == ["start", "greet", "reply", "done"]
    assert log.types[0] == "run.started"
    assert log.types[-2:] == ["message.completed", "run.finished"]
    assert log.one("message.completed").text == outcome.answer
    greet = log.one("node.finished", "greet")
    assert greet.inputs == {"start.name": "Ada", "sys.query": "hi"}
    assert greet.outputs == {"text": "Hello Ada, you said hi"}
    assert greet.latency_ms >= 0
    assert log.one("run.finished").outputs == outcome.outputs


async def test_the_start_node_coerces_inputs_to_their_declared_types() -> None:
    inputs = [
        {"name": "count", "type": "integer"},
        {"name": "ratio", "type": "number"},
        {"name": "flag", "type": "boolean"},
        {"name": "tags", "type": "array[string]"},
        {"name": "extra", "type": "string"},
    ]
    doc = _chain(node("done", "end"), start={"inputs": inputs})

    _, log = await run(doc, inputs={"count": "3", "ratio": "0.5", "flag": "true", "tags": '["a", 1]'})

    assert log.one("node.finished", "start").outputs == {
        "count": 3,
        "ratio": 0.5,
        "flag": True,
        "tags": ["a", "1"],
        "extra": None,
    }


async def test_a_missing_required_input_fails_the_start_node_and_the_run() -> None:
    doc = _chain(node("done", "end"), start={"inputs": [{"name": "topic", "required": True}]})

    outcome, log = await run(doc)

    assert outcome.status == "failed"
    assert outcome.error is not None and outcome.error.code == "missing_input"
    failed = log.one("node.failed", "start")
    assert (failed.error.code, failed.handled) == ("missing_input", False)
    run_failed = log.one("run.failed")
    assert (run_failed.node_id, run_failed.error.code) == ("start", "missing_input")
    assert log.of("node.started", "done") == []


async def test_an_input_of_the_wrong_type_fails_with_the_input_named() -> None:
    doc = _chain(node("done", "end"), start={"inputs": [{"name": "count", "type": "integer"}]})

    outcome, _ = await run(doc, inputs={"count": "many"})

    assert outcome.error is not None
    assert (outcome.error.code, outcome.error.details["input"]) == ("invalid_input", "count")


async def test_node_ids_with_hyphens_work_in_templates_and_references() -> None:
    doc = _chain(
        node("make-text", "template", {"template": "made"}),
        node("use-it", "template", {"template": "{{ make-text.text }} and {{ 'make-text.text' }}"}),
        node("done", "end", {"outputs": [{"name": "out", "value": {"ref": ["use-it", "text"]}}]}),
    )

    outcome, _ = await run(doc)

    assert outcome.outputs == {"out": "made and make-text.text"}


async def test_variables_start_from_their_defaults_and_are_returned_after_the_run() -> None:
    variables = [
        {"name": "visits", "type": "number", "default": 0},
        {"name": "topics", "type": "array", "default": []},
        {"name": "nickname", "type": "string", "scope": "user", "default": "friend"},
        {"name": "note", "type": "string", "default": "keep me"},
    ]
    assign = node(
        "remember",
        "variable_assign",
        {
            "assignments": [
                {"variable": "conv.visits", "value": "{{ conv.visits + 1 }}"},
                {"variable": "conv.topics", "value": {"ref": ["sys", "query"]}, "mode": "append"},
                {"variable": "user.nickname", "value": "{{ user.nickname | upper }}"},
                {"variable": "conv.note", "mode": "clear"},
            ]
        },
    )
    doc = _chain(assign, node("reply", "answer", {"text": "{{ conv.visits }} {{ conv.topics }}"}), variables=variables)

    outcome, log = await run(doc, query="cats", conv={"visits": 4, "topics": ["dogs"]})

    assert outcome.conv == {"visits": 5, "topics": ["dogs", "cats"], "note": ""}
    assert outcome.user == {"nickname": "FRIEND"}
    assert outcome.answer == "5 ['dogs', 'cats']"
    assert log.one("node.finished", "remember").inputs == {
        "conv.visits": "5",
        "conv.topics": ["dogs", "cats"],
        "user.nickname": "FRIEND",
        "conv.note": "",
    }


async def test_assigning_a_value_that_does_not_fit_the_variable_type_fails_the_node() -> None:
    variables = [{"name": "visits", "type": "number", "default": 0}]
    assign = node("remember", "variable_assign", {"assignments": [{"variable": "conv.visits", "value": "lots"}]})

    outcome, log = await run(_chain(assign, node("done", "end"), variables=variables))

    assert log.one("node.failed", "remember").error.code == "invalid_value"
    assert outcome.conv == {"visits": 0}


async def test_json_node_parses_serializes_and_picks_by_path() -> None:
    raw = '{"items": [{"name": "a"}, {"name": "b"}], "n": 2}'
    doc = _chain(
        node("parse", "json", {"operation": "parse", "input": raw}),
        node("pick", "json", {"operation": "path", "input": {"ref": ["parse", "result"]}, "path": "$.items[-1].name"}),
        node("all", "json", {"operation": "path", "input": raw, "path": "items[*].name"}),
        node("dump", "json", {"operation": "serialize", "input": {"ref": ["parse", "result", "items", 0]}}),
        node(
            "done",
            "end",
            {
                "outputs": [
                    {"name": "n", "value": {"ref": ["parse", "result", "n"]}},
                    {"name": "last", "value": {"ref": ["pick", "result"]}},
                    {"name": "names", "value": {"ref": ["all", "result"]}},
                    {"name": "first", "value": {"ref": ["dump", "result"]}},
                ]
            },
        ),
    )

    outcome, _ = await run(doc)

    assert outcome.outputs == {"n": 2, "last": "b", "names": ["a", "b"], "first": '{"name": "a"}'}


async def test_json_node_fails_on_text_that_is_not_json() -> None:
    outcome, log = await run(_chain(node("parse", "json", {"input": "{nope"}), node("done", "end")))

    assert log.one("node.failed", "parse").error.code == "invalid_json"
    assert outcome.status == "failed"


async def test_text_node_splits_joins_and_replaces() -> None:
    doc = _chain(
        node("split", "text", {"operation": "split", "input": "a,b,c", "separator": ",", "max_splits": 1}),
        node("join", "text", {"operation": "join", "input": ["x", 1, True], "separator": "-"}),
        node("swap", "text", {"operation": "replace", "input": "{{ sys.query }}", "old": "cat", "new": "dog"}),
        node(
            "done",
            "end",
            {
                "outputs": [
                    {"name": "split", "value": {"ref": ["split", "result"]}},
                    {"name": "join", "value": {"ref": ["join", "result"]}},
                    {"name": "swap", "value": {"ref": ["swap", "result"]}},
                ]
            },
        ),
    )

    outcome, _ = await run(doc, query="cat and cat")

    assert outcome.outputs == {"split": ["a", "b,c"], "join": "x-1-true", "swap": "dog and dog"}


async def test_text_node_refuses_to_join_what_is_not_a_list() -> None:
    outcome, log = await run(_chain(node("join", "text", {"operation": "join", "input": "abc"}), node("done", "end")))

    assert log.one("node.failed", "join").error.code == "invalid_input"
    assert outcome.status == "failed"


async def test_the_template_sandbox_refuses_python_internals_with_a_clear_error() -> None:
    doc = _chain(node("sneaky", "template", {"template": "{{ ''.__class__.__mro__ }}"}), node("done", "end"))

    outcome, log = await run(doc)

    error = log.one("node.failed", "sneaky").error
    assert error.code == "template_unsafe"
    assert "__class__" in error.message and "unsafe" in error.message
    assert outcome.status == "failed"


async def test_a_template_mentioning_a_missing_key_fails_and_says_which() -> None:
    doc = _chain(
        node("oops", "template", {"template": "{{ start.data.nothing }}"}),
        node("done", "end"),
        start={"inputs": [{"name": "data", "type": "object"}]},
    )

    _, log = await run(doc, inputs={"data": {"something": 1}})

    error = log.one("node.failed", "oops").error
    assert error.code == "template_error"
    assert "nothing" in error.message


class _Services:
    """Tool, knowledge and sub-bot services that record what they were asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    async def invoke(self, plugin: str, tool: str, inputs: Mapping[str, Any], ctx: NodeContext) -> Any:
        self.calls.append(("tool", (plugin, tool, dict(inputs))))
        return {"echo": inputs["q"]}

    async def retrieve(
        self, query: str, knowledge_bases: list[str], *, top_k: int, score_threshold: float, mode: str
    ) -> list[dict[str, Any]]:
        self.calls.append(("knowledge", (query, knowledge_bases, top_k, score_threshold, mode)))
        return [{"content": f"about {query}", "score": 0.9}]

    async def run(self, bot_id: str, inputs: Mapping[str, Any], ctx: NodeContext) -> dict[str, Any]:
        self.calls.append(("bot", (bot_id, dict(inputs))))
        return {"answer": "from the other bot", "outputs": {"x": 1}}


def _service_graph() -> dict[str, Any]:
    query = {"ref": ["sys", "query"]}
    return _chain(
        node("call", "tool", {"plugin": "search", "tool": "web", "inputs": {"q": query, "n": 3}}),
        node("find", "knowledge_retrieval", {"query": query, "knowledge_bases": ["kb1"], "top_k": 2}),
        node("ask", "sub_bot", {"bot_id": "bot-9", "inputs": {"topic": "{{ sys.query }}"}}),
        node(
            "done",
            "end",
            {
                "outputs": [
                    {"name": "tool", "value": {"ref": ["call", "result"]}},
                    {"name": "chunks", "value": {"ref": ["find", "chunks"]}},
                    {"name": "bot", "value": {"ref": ["ask", "answer"]}},
                ]
            },
        ),
    )


async def test_tool_knowledge_and_sub_bot_nodes_call_their_services() -> None:
    services = _Services()

    outcome, _ = await run(
        _service_graph(), services=RuntimeServices(tools=services, knowledge=services, sub_bots=services), query="owls"
    )

    assert outcome.outputs == {
        "tool": {"echo": "owls"},
        "chunks": [{"content": "about owls", "score": 0.9}],
        "bot": "from the other bot",
    }
    assert services.calls == [
        ("tool", ("search", "web", {"q": "owls", "n": 3})),
        ("knowledge", ("owls", ["kb1"], 2, 0.0, "hybrid")),
        ("bot", ("bot-9", {"topic": "owls"})),
    ]


async def test_a_node_whose_service_is_missing_fails_as_not_configured() -> None:
    outcome, log = await run(_service_graph())

    assert log.one("node.failed", "call").error.code == "not_configured"
    assert outcome.status == "failed"


async def test_usage_of_the_nodes_is_summed_into_the_run(probes: dict[str, Behaviour]) -> None:
    async def spend(ctx: NodeContext) -> NodeResult:
        usage = Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15, cost=0.25, model="m")
        return NodeResult(outputs={"text": "ok"}, usage=usage)

    probes["spend"] = spend
    doc = _chain(node("one", "probe", {"behaviour": "spend"}), node("two", "probe", {"behaviour": "spend"}))
    doc["nodes"].append(node("done", "end"))
    doc["edges"].append(edge("two", "done"))

    outcome, log = await run(doc)

    assert (outcome.usage.total_tokens, outcome.usage.cost, outcome.usage.model) == (30, 0.5, "m")
    assert log.one("run.finished").usage.total_tokens == 30
    assert log.one("node.finished", "one").usage.prompt_tokens == 10


async def test_one_runner_serves_concurrent_runs_without_mixing_them(probes: dict[str, Behaviour]) -> None:
    both_running = asyncio.Event()
    arrived: list[str] = []

    async def rendezvous(ctx: NodeContext) -> NodeResult:
        arrived.append(ctx.run_id)
        if len(arrived) == 2:
            both_running.set()
        await asyncio.wait_for(both_running.wait(), 5)
        return NodeResult(outputs={"text": ctx.render("{{ sys.query }}")})

    probes["rendezvous"] = rendezvous
    doc = _chain(
        node("meet", "probe", {"behaviour": "rendezvous"}), node("reply", "answer", {"text": "{{ meet.text }}"})
    )
    runner = runner_for(doc)

    (first, log_a), (second, log_b) = await asyncio.gather(
        run(runner, run_id="a", thread_id="a", query="alpha"), run(runner, run_id="b", thread_id="b", query="beta")
    )

    assert (first.answer, second.answer) == ("alpha", "beta")
    assert {event.run_id for event in log_a.events} == {"a"}
    assert {event.run_id for event in log_b.events} == {"b"}


async def test_events_are_numbered_from_first_seq() -> None:
    _, log = await run(_chain(node("done", "end")), first_seq=41)

    assert [event.seq for event in log.events] == list(range(41, 41 + len(log.events)))


@pytest.mark.parametrize("document_change", ["cycle", "unknown_ref"])
def test_a_graph_with_problems_is_refused_when_the_runner_is_built(document_change: str) -> None:
    from builder.engine.dsl import GraphInvalid, parse_graph
    from builder.engine.runtime.runner import GraphRunner

    doc = _chain(node("a", "template", {"template": "x"}), node("b", "template", {"template": "y"}), node("end", "end"))
    if document_change == "cycle":
        doc["edges"].append(edge("b", "a"))
    else:
        doc["nodes"][1]["data"]["template"] = "{{ ghost.text }}"

    with pytest.raises(GraphInvalid):
        GraphRunner(parse_graph(doc), RuntimeServices())
