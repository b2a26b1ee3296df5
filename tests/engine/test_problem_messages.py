"""Problem messages stay translatable: literal gettext_noop templates with only %(name)s placeholders."""

from __future__ import annotations

import ast
import copy
import re
from pathlib import Path
from typing import Any

import pytest

from builder.engine.dsl import GraphProblem
from tests.engine.graphs import chat_bot, document, edge, node, problems_of, support_bot, with_changes

ENGINE = Path(__file__).resolve().parents[2] / "builder" / "engine"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _placeholders(template: str) -> set[str]:
    return set(PLACEHOLDER.findall(template))


def _unnamed_format_left(template: str) -> str:
    return PLACEHOLDER.sub("", template).replace("%%", "")


def _marked_strings() -> list[tuple[str, int, ast.expr]]:
    found = []
    for path in sorted(ENGINE.rglob("*.py")):
        for call in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "gettext_noop":
                found.append((str(path.relative_to(ENGINE)), call.lineno, call.args[0]))
    return found


def test_every_marked_template_is_a_literal_with_named_placeholders_only() -> None:
    marked = _marked_strings()

    assert len(marked) > 50
    for where, line, argument in marked:
        assert isinstance(argument, ast.Constant) and isinstance(argument.value, str), f"{where}:{line}"
        assert "%" not in _unnamed_format_left(argument.value), f"{where}:{line}: {argument.value!r}"
        assert not re.search(r"\{\w*\}", argument.value), f"{where}:{line}: str.format placeholders are not extracted"


def _broken_documents() -> list[Any]:
    """One document per kind of mistake, so that (nearly) every problem template is produced."""
    left = {"ref": ["start", "topic"]}
    not_a_node: Any = []
    not_an_edge: Any = "edge"
    deep: Any = 1
    for _ in range(40):
        deep = [deep]
    iteration = support_bot()
    iteration["edges"].append(edge("summarize", "answer_other", edge_id="leak"))
    docs: list[Any] = [
        "not a graph",
        {"version": 3},
        {**chat_bot(), "extra": 1, "nodes": "nope"},
        document([{}] * 2001, []),
        with_changes(chat_bot(), llm1={"user_prompt": "", "temperature": 1, "memory_window": "x"}),
        with_changes(chat_bot(), llm1={"error": {"on_error": "default", "default_outputs": {"nope": 1, "text": 2}}}),
        with_changes(chat_bot(), llm1={"model": {"provider": "x", "name": "y", "temperature": 9, "top_p": -1}}),
        with_changes(chat_bot(), llm1={"model": {"provider": "x", "name": "y", "max_tokens": 0, "stop": ["a"] * 20}}),
        with_changes(chat_bot(), llm1={"system_prompt": 1, "vision": [], "output_schema": []}),
        document(
            [
                node("start", "start", {"inputs": [{"name": "a"}, {"name": "a"}, {"name": "1x", "type": "blob"}]}),
                node(
                    "check", "condition", {"cases": [{"id": "else", "conditions": [{"left": left, "operator": "gt"}]}]}
                ),
                node("sys", "teleport@2"),
                node("x", "llm@9"),
                node("q", "question", {"question": "Pick", "answer_type": "choice"}),
                node("j", "json", {"operation": "path", "input": {"ref": ["start"]}}),
                node("t", "text", {"operation": "replace", "input": "a"}),
                node(
                    "h", "http_request", {"url": "x", "auth": {"type": "basic"}, "body": {"type": "form", "content": 1}}
                ),
                node("h2", "http_request", {"url": "x", "body": {"type": "raw", "content": {}}}),
                node("v", "tool", {"plugin": "p", "tool": "t", "inputs": {"deep": deep}}),
                node("v2", "tool", {"plugin": "p", "tool": "t", "inputs": {"inf": float("inf")}}),
                {"id": 5},
                not_a_node,
            ],
            [{"id": 1}, not_an_edge, {"id": "e", "source": "start"}, {"id": "e", "source": "a", "target": "b"}],
            variables=[{"name": "a", "type": "number", "default": "x"}, {"name": "a", "type": "string"}, {}],
            settings={"suggested_questions": ["q"] * 11, "locale": "fr"},
        ),
        iteration,
        with_changes(iteration, answer_other={"text": "{{ line.text }} {{ digest.item }} {{ ghost.x }} {{ user.x }}"}),
        with_changes(iteration, answer_other={"text": "{{ explain.text }} {{ sys.nope }} {% if %}"}),
    ]
    cyclic = chat_bot()
    cyclic["nodes"].append(node("start2", "start", parentId="llm1"))
    cyclic["nodes"].append(node("orphan", "answer", {"text": "x"}, parentId="ghost"))
    cyclic["edges"] += [edge("llm1", "llm1"), edge("reply", "ghost"), edge("llm1", "reply", "nope")]
    cyclic["settings"]["persona"] = "{{ llm1.text }} {{ sys.query }} {{ conv.missing }}"
    docs.append(cyclic)
    no_start = copy.deepcopy(chat_bot())
    no_start["nodes"] = [n for n in no_start["nodes"] if n["type"] not in ("start", "answer")]
    docs.append(no_start)
    duplicates = with_changes(chat_bot(), start={"inputs": [{"name": "topic"}, {"name": "topic"}]})
    duplicates["variables"] = [{"name": "v", "type": "string"}, {"name": "v", "type": "array"}]
    docs.append(duplicates)
    two_starts = chat_bot()
    two_starts["nodes"].append(node("s2", "start"))
    docs.append(two_starts)
    return docs


@pytest.fixture(scope="module")
def problems() -> list[GraphProblem]:
    return [problem for doc in _broken_documents() for problem in problems_of(doc)]


def test_every_problem_message_is_its_template_filled_with_its_params(problems: list[GraphProblem]) -> None:
    for problem in problems:
        assert _placeholders(problem.template) <= set(problem.params), problem
        assert problem.message == problem.template % problem.params
        assert "%" not in _unnamed_format_left(problem.template), problem


def test_the_corpus_covers_the_problem_codes_users_meet(problems: list[GraphProblem]) -> None:
    assert {problem.code for problem in problems} >= {
        "invalid_document",
        "unsupported_version",
        "too_many_nodes",
        "missing_field",
        "invalid_field",
        "duplicate_name",
        "unknown_node_type",
        "unknown_node_version",
        "invalid_node_id",
        "duplicate_edge_id",
        "duplicate_variable",
        "dangling_edge",
        "bad_handle",
        "cycle",
        "edge_crosses_loop",
        "ref_into_loop",
        "ref_not_upstream",
        "ref_unknown_node",
        "ref_unknown_output",
        "unknown_variable",
        "unreachable_node",
        "invalid_template",
        "invalid_parent",
        "unknown_parent",
        "no_start",
        "multiple_start",
        "no_output_node",
    }


def test_pydantic_wording_never_leaks_when_we_have_our_own(problems: list[GraphProblem]) -> None:
    fallbacks = [p for p in problems if p.template.startswith("Invalid value:")]

    assert fallbacks == []
