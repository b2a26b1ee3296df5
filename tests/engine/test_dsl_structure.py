"""parse_graph: the document's shape, node types and each node's config, with every problem reported."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from builder.engine.dsl import MAX_EDGES, MAX_NODES, GraphInvalid, parse_graph
from tests.engine.graphs import chat_bot, document, edge, node, problems_of, the_problem, where, with_changes


def test_the_smallest_bot_parses() -> None:
    graph = parse_graph(chat_bot())

    assert [n.id for n in graph.nodes] == ["start", "llm1", "reply"]
    assert graph.node("llm1").type_name == "llm"
    assert graph.node("llm1").type_version == 1
    assert problems_of(chat_bot()) == []


def test_unknown_node_type_names_the_node_and_type_field() -> None:
    doc = chat_bot()
    doc["nodes"].append(node("warp", "teleport"))

    problem = the_problem(doc, "unknown_node_type")

    assert where(problem) == ("unknown_node_type", "warp", "type")
    assert "teleport" in problem.message


def test_unknown_version_of_a_known_type() -> None:
    doc = chat_bot()
    doc["nodes"][1]["type"] = "llm@7"

    problem = the_problem(doc, "unknown_node_version")

    assert where(problem) == ("unknown_node_version", "llm1", "type")
    assert problem.params["version"] == 7


def test_duplicate_node_id_points_at_the_second_node() -> None:
    doc = chat_bot()
    doc["nodes"].append(node("llm1", "template", {"template": "x"}))

    assert where(the_problem(doc, "duplicate_node_id")) == ("duplicate_node_id", "llm1", "id")


@pytest.mark.parametrize(
    ("node_id", "data", "field"),
    [
        ("llm1", {"user_prompt": ""}, "data.user_prompt"),
        ("llm1", {"user_prompt": "   "}, "data.user_prompt"),
        ("reply", {"text": ""}, "data.text"),
    ],
    ids=["llm-empty-prompt", "llm-blank-prompt", "answer-empty-text"],
)
def test_empty_required_text_is_a_missing_field(node_id: str, data: dict[str, Any], field: str) -> None:
    problem = the_problem(with_changes(chat_bot(), **{node_id: data}), "missing_field")

    assert where(problem) == ("missing_field", node_id, field)


def test_llm_without_user_prompt() -> None:
    doc = chat_bot()
    del doc["nodes"][1]["data"]["user_prompt"]

    assert where(the_problem(doc, "missing_field")) == ("missing_field", "llm1", "data.user_prompt")


def _condition_bot(case: dict[str, Any]) -> dict[str, Any]:
    doc = chat_bot()
    doc["nodes"].append(node("check", "condition", {"cases": [case]}))
    doc["edges"] += [edge("start", "check"), edge("check", "reply", "else")]
    return doc


def test_condition_case_without_conditions() -> None:
    problem = the_problem(_condition_bot({"id": "yes", "conditions": []}), "missing_field")

    assert where(problem) == ("missing_field", "check", "data.cases.0.conditions")


def test_binary_operator_needs_a_right_side_but_unary_does_not() -> None:
    left = {"ref": ["start", "topic"]}
    case = {"id": "yes", "conditions": [{"left": left, "operator": "is_empty"}, {"left": left, "operator": "equals"}]}

    problem = the_problem(_condition_bot(case), "missing_field")

    assert where(problem) == ("missing_field", "check", "data.cases.0.conditions.1.right")
    assert problem.params == {"operator": "equals"}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"model": {"provider": "openai", "name": "gpt", "temperature": 5}}, "data.model.temperature"),
        ({"memory_window": -1}, "data.memory_window"),
        ({"vision": "sometimes"}, "data.vision"),
        ({"prompt": "typo"}, "data.prompt"),
        ({"error": {"retries": 11}}, "data.error.retries"),
    ],
    ids=["temperature-too-high", "negative-window", "not-a-bool", "unknown-key", "too-many-retries"],
)
def test_invalid_field_value(data: dict[str, Any], field: str) -> None:
    problem = the_problem(with_changes(chat_bot(), llm1=data), "invalid_field")

    assert where(problem) == ("invalid_field", "llm1", field)


def test_structured_output_needs_an_object_schema() -> None:
    doc = with_changes(chat_bot(), llm1={"output_schema": {"type": "array", "items": {"type": "string"}}})

    assert where(the_problem(doc, "invalid_field")) == ("invalid_field", "llm1", "data.output_schema")


def test_a_literal_where_a_reference_is_needed() -> None:
    case = {"id": "yes", "conditions": [{"left": "topic", "operator": "is_empty"}]}

    problem = the_problem(_condition_bot(case), "invalid_field")

    assert where(problem) == ("invalid_field", "check", "data.cases.0.conditions.0.left")


def test_malformed_reference_inside_a_value() -> None:
    doc = chat_bot()
    doc["nodes"].append(node("call", "tool", {"plugin": "web", "tool": "search", "inputs": {"q": {"ref": ["x"]}}}))

    assert where(the_problem(doc, "invalid_field")) == ("invalid_field", "call", "data.inputs.q")


def test_duplicate_case_ids_and_reserved_handle_names() -> None:
    left = {"ref": ["start", "topic"]}
    doc = chat_bot()
    cases = [{"id": c, "conditions": [{"left": left, "operator": "is_empty"}]} for c in ("a", "a", "else")]
    doc["nodes"].append(node("check", "condition", {"cases": cases}))

    assert where(the_problem(doc, "duplicate_name")) == ("duplicate_name", "check", "data.cases.1.id")
    assert where(the_problem(doc, "invalid_field")) == ("invalid_field", "check", "data.cases.2.id")


def test_default_outputs_are_required_and_checked_against_the_outputs() -> None:
    needs_defaults = with_changes(chat_bot(), llm1={"error": {"on_error": "default"}})
    wrong_defaults = with_changes(
        chat_bot(), llm1={"error": {"on_error": "default", "default_outputs": {"text": "sorry", "txt": ""}}}
    )
    wrong_type = with_changes(chat_bot(), llm1={"error": {"on_error": "default", "default_outputs": {"text": 3}}})

    assert where(the_problem(needs_defaults, "missing_field")) == (
        "missing_field",
        "llm1",
        "data.error.default_outputs",
    )
    assert where(the_problem(wrong_defaults, "invalid_field")) == (
        "invalid_field",
        "llm1",
        "data.error.default_outputs.txt",
    )
    assert where(the_problem(wrong_type, "invalid_field")) == (
        "invalid_field",
        "llm1",
        "data.error.default_outputs.text",
    )


def test_every_structural_problem_is_reported_at_once() -> None:
    doc = with_changes(chat_bot(), llm1={"user_prompt": ""}, reply={"text": ""})
    doc["nodes"].append(node("warp", "teleport"))

    with pytest.raises(GraphInvalid) as caught:
        parse_graph(doc)

    assert sorted((p.code, p.node_id) for p in caught.value.problems) == [
        ("missing_field", "llm1"),
        ("missing_field", "reply"),
        ("unknown_node_type", "warp"),
    ]


@pytest.mark.parametrize("version", [2, 0, "1", True, None])
def test_only_version_1_is_supported(version: Any) -> None:
    doc = chat_bot()
    doc["version"] = version

    problem = problems_of(doc)[0]

    expected = "missing_field" if version is None else "unsupported_version"
    assert (problem.code, problem.node_id, problem.field) == (expected, None, "version")


@pytest.mark.parametrize("doc", [[], "graph", None, 3])
def test_a_document_that_is_not_an_object(doc: Any) -> None:
    assert [where(p) for p in problems_of(doc)] == [("invalid_document", None, None)]


def test_oversize_documents_are_refused_before_looking_at_nodes() -> None:
    too_many_nodes = document([{"junk": True}] * (MAX_NODES + 1), [])
    too_many_edges = document([], [{"junk": True}] * (MAX_EDGES + 1))

    assert [where(p) for p in problems_of(too_many_nodes)] == [("too_many_nodes", None, "nodes")]
    assert [where(p) for p in problems_of(too_many_edges)] == [("too_many_edges", None, "edges")]


@pytest.mark.parametrize("node_id", ["sys", "conv", "user", "1abc", "has space", "x" * 65, "a.b"])
def test_node_ids_must_be_safe_names(node_id: str) -> None:
    doc = chat_bot()
    doc["nodes"].append(node(node_id, "template", {"template": "x"}))

    assert where(the_problem(doc, "invalid_node_id")) == ("invalid_node_id", node_id, "id")


def test_a_node_without_an_id_is_located_by_its_index() -> None:
    doc = chat_bot()
    doc["nodes"].append({"type": "answer", "data": {"text": "x"}})

    assert where(the_problem(doc, "missing_field")) == ("missing_field", None, "nodes.3.id")


def test_edges_must_have_ids_that_are_unique() -> None:
    doc = chat_bot()
    doc["edges"].append(edge("start", "reply", edge_id=doc["edges"][0]["id"]))

    problem = the_problem(doc, "duplicate_edge_id")

    assert (problem.edge_id, problem.field) == (doc["edges"][0]["id"], "id")


def test_variables_have_unique_names_per_scope_and_typed_defaults() -> None:
    doc = chat_bot()
    doc["variables"] = [
        {"name": "lang", "type": "string", "scope": "user", "default": "en"},
        {"name": "lang", "type": "string", "scope": "conversation"},
        {"name": "lang", "type": "string", "scope": "user"},
        {"name": "count", "type": "number", "scope": "user", "default": "three"},
    ]

    assert where(the_problem(doc, "duplicate_variable")) == ("duplicate_variable", None, "variables.2.name")
    assert where(the_problem(doc, "invalid_field")) == ("invalid_field", None, "variables.3.default")


def test_settings_default_to_empty_and_are_checked() -> None:
    assert parse_graph(document([], [], settings={})).settings.model is None

    too_many = document([], [], settings={"suggested_questions": ["q"] * 11})

    assert where(the_problem(too_many, "invalid_field")) == ("invalid_field", None, "settings.suggested_questions")


def test_react_flow_keys_on_nodes_and_edges_are_kept() -> None:
    doc = chat_bot()
    doc["nodes"][0].update(width=180, height=64, selected=True, measured={"width": 180, "height": 64})
    doc["edges"][0].update(animated=True, type="smoothstep")
    doc["viewport"] = {"x": 10, "y": 20, "zoom": 1.5}

    saved = parse_graph(doc).to_document()

    assert saved["nodes"][0]["measured"] == {"width": 180, "height": 64}
    assert saved["edges"][0]["type"] == "smoothstep"
    assert saved["viewport"] == {"x": 10.0, "y": 20.0, "zoom": 1.5}


def test_to_document_pins_the_version_of_unversioned_types() -> None:
    saved = parse_graph(chat_bot()).to_document()

    assert [n["type"] for n in saved["nodes"]] == ["start@1", "llm@1", "answer@1"]
    assert parse_graph(copy.deepcopy(saved)).to_document() == saved
