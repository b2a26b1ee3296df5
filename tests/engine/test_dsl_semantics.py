"""find_problems: edges, start/output nodes, reachability, references, cycles and loop bodies."""

from __future__ import annotations

from typing import Any

import pytest

from builder.engine.dsl import GraphInvalid, validate_graph
from tests.engine.graphs import chat_bot, document, edge, node, problems_of, the_problem, where, with_changes


def _branching_bot() -> dict[str, Any]:
    """start → check → (yes: left_llm) | (else: right_llm), both → their own answer."""
    left = {"ref": ["start", "topic"]}
    return document(
        [
            node("start", "start", {"inputs": [{"name": "topic"}]}),
            node(
                "check", "condition", {"cases": [{"id": "yes", "conditions": [{"left": left, "operator": "is_empty"}]}]}
            ),
            node("left_llm", "llm", {"user_prompt": "{{ sys.query }}"}),
            node("right_llm", "llm", {"user_prompt": "{{ sys.query }}"}),
            node("left_reply", "answer", {"text": "{{ left_llm.text }}"}),
            node("right_reply", "answer", {"text": "{{ right_llm.text }}"}),
        ],
        [
            edge("start", "check"),
            edge("check", "left_llm", "yes"),
            edge("check", "right_llm", "else"),
            edge("left_llm", "left_reply"),
            edge("right_llm", "right_reply"),
        ],
    )


def _iteration_bot() -> dict[str, Any]:
    """start → each (over start.topics) → [summarize → shorten → back to each] → done → reply."""
    return document(
        [
            node("start", "start", {"inputs": [{"name": "topics", "type": "array[string]"}]}),
            node(
                "each",
                "iteration",
                {"items": {"ref": ["start", "topics"]}, "outputs": [{"name": "summaries", "ref": ["shorten", "text"]}]},
            ),
            node("summarize", "llm", {"user_prompt": "Summarize {{ each.item }} (#{{ each.index }})"}, parentId="each"),
            node("shorten", "template", {"template": "{{ summarize.text | truncate(80) }}"}, parentId="each"),
            node("reply", "answer", {"text": "{% for s in each.summaries %}- {{ s }}\n{% endfor %}"}),
        ],
        [
            edge("start", "each"),
            edge("each", "summarize", "body"),
            edge("summarize", "shorten"),
            edge("shorten", "each"),
            edge("each", "reply", "done"),
        ],
    )


def test_the_example_bots_have_no_problems() -> None:
    assert problems_of(_branching_bot()) == []
    assert problems_of(_iteration_bot()) == []


@pytest.mark.parametrize("end", ["source", "target"])
def test_dangling_edge_names_the_missing_end(end: str) -> None:
    doc = chat_bot()
    doc["edges"][0][end] = "ghost"

    problem = the_problem(doc, "dangling_edge")

    assert (problem.edge_id, problem.node_id, problem.field) == (doc["edges"][0]["id"], None, end)
    assert problem.params == {"node": "ghost"}


def test_bad_source_handle_on_a_condition() -> None:
    doc = _branching_bot()
    doc["edges"][1]["sourceHandle"] = "maybe"

    problem = the_problem(doc, "bad_handle")

    assert (problem.edge_id, problem.field) == (doc["edges"][1]["id"], "sourceHandle")
    assert problem.params["handles"] == "else, yes"


def test_the_default_handle_is_not_a_condition_branch() -> None:
    doc = _branching_bot()
    doc["edges"][1]["sourceHandle"] = None

    assert the_problem(doc, "bad_handle").params["handle"] == "default"


def test_error_handle_exists_only_with_an_error_branch() -> None:
    doc = chat_bot()
    doc["nodes"].append(node("sorry", "answer", {"text": "Sorry!"}))
    doc["edges"].append(edge("llm1", "sorry", "error"))

    assert the_problem(doc, "bad_handle").field == "sourceHandle"
    assert problems_of(with_changes(doc, llm1={"error": {"on_error": "error_branch"}})) == []


def test_no_start_node() -> None:
    doc = chat_bot()
    doc["nodes"] = doc["nodes"][1:]
    doc["edges"] = doc["edges"][1:]

    assert where(the_problem(doc, "no_start")) == ("no_start", None, None)


def test_two_start_nodes() -> None:
    doc = chat_bot()
    doc["nodes"].append(node("start2", "start"))
    doc["edges"].append(edge("start2", "llm1"))

    assert where(the_problem(doc, "multiple_start")) == ("multiple_start", "start2", None)


def test_a_graph_without_answer_or_end() -> None:
    doc = chat_bot()
    doc["nodes"].pop()
    doc["edges"].pop()

    assert where(the_problem(doc, "no_output_node")) == ("no_output_node", None, None)


def test_unreachable_node() -> None:
    doc = chat_bot()
    doc["nodes"].append(node("island", "answer", {"text": "nobody gets here"}))

    assert where(the_problem(doc, "unreachable_node")) == ("unreachable_node", "island", None)


def test_reference_to_a_sibling_branch_is_not_upstream() -> None:
    doc = with_changes(_branching_bot(), right_reply={"text": "{{ left_llm.text }}"})

    problem = the_problem(doc, "ref_not_upstream")

    assert where(problem) == ("ref_not_upstream", "right_reply", "data.text")
    assert problem.params == {"ref": "left_llm"}


def test_reference_to_a_downstream_node_is_not_upstream() -> None:
    doc = with_changes(chat_bot(), llm1={"system_prompt": "Previously: {{ reply.text }}"})

    assert where(the_problem(doc, "ref_not_upstream")) == ("ref_not_upstream", "llm1", "data.system_prompt")


def test_explicit_reference_to_a_downstream_node_is_not_upstream() -> None:
    left = {"ref": ["left_reply", "text"]}
    doc = _branching_bot()
    doc["nodes"][1]["data"]["cases"][0]["conditions"].append({"left": left, "operator": "is_empty"})

    problem = the_problem(doc, "ref_not_upstream")

    assert where(problem) == ("ref_not_upstream", "check", "data.cases.0.conditions.1.left")


def test_reference_to_an_unknown_node() -> None:
    doc = with_changes(chat_bot(), reply={"text": "{{ llm2.text }} and again {{ llm2.text }}"})

    assert where(the_problem(doc, "ref_unknown_node")) == ("ref_unknown_node", "reply", "data.text")


@pytest.mark.parametrize(
    ("text", "params"),
    [
        ("{{ llm1.answer }}", {"ref": "llm1", "output": "answer", "outputs": "text, usage"}),
        ("{{ sys.weather }}", {"ref": "sys", "output": "weather"}),
    ],
)
def test_reference_to_an_unknown_output(text: str, params: dict[str, str]) -> None:
    problem = the_problem(with_changes(chat_bot(), reply={"text": text}), "ref_unknown_output")

    assert where(problem) == ("ref_unknown_output", "reply", "data.text")
    assert params.items() <= problem.params.items()


def test_structured_output_adds_a_json_output_whose_fields_are_not_checked() -> None:
    schema = {"type": "object", "properties": {"mood": {"type": "string"}}}
    doc = with_changes(chat_bot(), llm1={"output_schema": schema}, reply={"text": "{{ llm1.json.mood.anything }}"})

    assert problems_of(doc) == []


def test_reference_to_an_undeclared_user_variable() -> None:
    doc = with_changes(chat_bot(), reply={"text": "Hi {{ user.nickname }}"})

    problem = the_problem(doc, "unknown_variable")

    assert where(problem) == ("unknown_variable", "reply", "data.text")
    doc["variables"] = [{"name": "nickname", "type": "string", "scope": "user"}]
    assert problems_of(doc) == []


def test_a_conversation_variable_is_not_a_user_variable() -> None:
    doc = with_changes(chat_bot(), reply={"text": "Hi {{ user.nickname }}"})
    doc["variables"] = [{"name": "nickname", "type": "string", "scope": "conversation"}]

    assert the_problem(doc, "unknown_variable").params == {"variable": "user.nickname"}


def test_variable_assign_must_name_a_declared_variable() -> None:
    doc = chat_bot()
    doc["variables"] = [{"name": "topic", "type": "string", "scope": "conversation"}]
    assignments = [
        {"variable": "conv.topic", "value": {"ref": ["start", "topic"]}},
        {"variable": "user.topic", "value": "x"},
    ]
    doc["nodes"].append(node("remember", "variable_assign", {"assignments": assignments}))
    doc["edges"].append(edge("reply", "remember"))

    problem = the_problem(doc, "unknown_variable")

    assert where(problem) == ("unknown_variable", "remember", "data.assignments.1.variable")


def test_template_syntax_errors_are_reported_where_they_are() -> None:
    doc = with_changes(chat_bot(), reply={"text": "{% if llm1.text %}unclosed"})

    problem = the_problem(doc, "invalid_template")

    assert where(problem) == ("invalid_template", "reply", "data.text")
    assert problem.params["line"] == 1


def test_template_loop_variables_are_not_node_references() -> None:
    doc = with_changes(chat_bot(), reply={"text": "{% for c in llm1.usage %}{{ c.x }}{{ loop.index }}{% endfor %}"})

    assert problems_of(doc) == []


def test_code_is_not_scanned_as_a_template() -> None:
    doc = chat_bot()
    code = "def main(text):\n    return {'out': f'{{{{x.y}}}} {text}'}\n"
    doc["nodes"].append(
        node(
            "shout",
            "code",
            {"code": code, "inputs": {"text": {"ref": ["llm1", "text"]}}, "outputs": [{"name": "out"}]},
        )
    )
    doc["edges"].append(edge("llm1", "shout"))

    assert problems_of(doc) == []


def test_a_cycle_outside_a_loop_is_rejected() -> None:
    doc = chat_bot()
    doc["nodes"].append(node("again", "template", {"template": "{{ llm1.text }}"}))
    doc["edges"] += [edge("llm1", "again"), edge("again", "llm1")]

    problem = the_problem(doc, "cycle")

    assert where(problem) == ("cycle", "llm1", None)
    assert problem.params == {"nodes": "llm1, again"}


def test_a_self_loop_is_a_cycle() -> None:
    doc = chat_bot()
    doc["edges"].append(edge("llm1", "llm1"))

    assert where(the_problem(doc, "cycle")) == ("cycle", "llm1", None)


def test_a_cycle_through_an_iteration_body_is_accepted() -> None:
    graph = validate_graph(_iteration_bot())

    assert graph.node("summarize").parent_id == "each"


def test_a_loop_with_a_break_condition_and_outputs_from_its_body() -> None:
    done = {"ref": ["draft", "text"]}
    doc = document(
        [
            node("start", "start"),
            node(
                "refine",
                "loop",
                {
                    "max_iterations": 5,
                    "break_condition": {"conditions": [{"left": done, "operator": "contains", "right": "DONE"}]},
                    "outputs": [{"name": "final", "ref": ["draft", "text"]}],
                },
            ),
            node("draft", "llm", {"user_prompt": "Round {{ refine.index }}: {{ sys.query }}"}, parentId="refine"),
            node("reply", "answer", {"text": "{{ refine.final }}"}),
        ],
        [edge("start", "refine"), edge("refine", "draft", "body"), edge("draft", "refine"), edge("refine", "reply")],
    )

    assert problems_of(doc) == []


def test_a_cycle_inside_a_loop_body_that_skips_the_loop_node_is_rejected() -> None:
    doc = _iteration_bot()
    doc["edges"].append(edge("shorten", "summarize"))

    problem = the_problem(doc, "cycle")

    assert problem.params == {"nodes": "summarize, shorten"}


def test_an_edge_crossing_the_loop_boundary() -> None:
    doc = _iteration_bot()
    doc["edges"].append(edge("summarize", "reply", edge_id="leak"))

    problem = the_problem(doc, "edge_crosses_loop")

    assert (problem.edge_id, problem.node_id, problem.field) == ("leak", None, None)


def test_the_body_handle_must_lead_into_the_body() -> None:
    doc = _iteration_bot()
    doc["edges"][-1]["sourceHandle"] = "body"

    assert the_problem(doc, "edge_crosses_loop").edge_id == doc["edges"][-1]["id"]


def test_references_into_a_loop_body_from_outside_are_rejected() -> None:
    doc = with_changes(_iteration_bot(), reply={"text": "{{ shorten.text }}"})

    problem = the_problem(doc, "ref_into_loop")

    assert where(problem) == ("ref_into_loop", "reply", "data.text")
    assert problem.params == {"ref": "shorten", "loop": "each"}


def test_item_and_index_are_only_visible_inside_the_body() -> None:
    doc = with_changes(_iteration_bot(), reply={"text": "{{ each.item }}"})

    problem = the_problem(doc, "ref_unknown_output")

    assert where(problem) == ("ref_unknown_output", "reply", "data.text")
    assert problem.params["outputs"] == "summaries"


def test_only_loop_and_iteration_nodes_contain_nodes() -> None:
    doc = chat_bot()
    doc["nodes"][2]["parentId"] = "llm1"

    assert where(the_problem(doc, "invalid_parent")) == ("invalid_parent", "reply", "parentId")


def test_settings_templates_may_only_use_sys_conv_and_user() -> None:
    doc = chat_bot()
    doc["settings"]["persona"] = "You talk to {{ user.name }} about {{ llm1.text }}."
    doc["variables"] = [{"name": "name", "type": "string", "scope": "user"}]

    problem = the_problem(doc, "ref_not_upstream")

    assert (problem.node_id, problem.field) == (None, "settings.persona")


def test_validate_graph_raises_with_all_semantic_problems() -> None:
    doc = with_changes(_branching_bot(), right_reply={"text": "{{ left_llm.text }} {{ nowhere.x }}"})

    with pytest.raises(GraphInvalid) as caught:
        validate_graph(doc)

    assert sorted(p.code for p in caught.value.problems) == ["ref_not_upstream", "ref_unknown_node"]


def test_an_empty_credential_parses_but_must_be_filled_before_running() -> None:
    """Exports blank credentials: the graph still loads (so import works) and names what to fill."""
    doc = chat_bot()
    doc["nodes"].append(
        node("call", "http_request", {"url": "https://example.com", "auth": {"type": "basic", "username": "me"}})
    )
    doc["edges"].append(edge("start", "call"))
    assert where(the_problem(doc, "missing_secret")) == ("missing_secret", "call", "data.auth.password")
    doc["nodes"][-1]["data"]["auth"]["password"] = "{{ user.password }}"
    doc["variables"] = [{"name": "password", "type": "string", "scope": "user"}]
    assert [p.code for p in problems_of(doc)] == []
