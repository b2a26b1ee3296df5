"""Builders for bot graph documents, so each test shows only what it is about."""

from __future__ import annotations

import copy
from typing import Any

from builder.engine.dsl import GraphInvalid, GraphProblem, find_problems, parse_graph

MODEL = {"provider": "openai", "name": "gpt-4o-mini"}


def node(node_id: str, node_type: str, data: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"id": node_id, "type": node_type, "data": data or {}, "position": {"x": 0, "y": 0}, **extra}


def edge(source: str, target: str, handle: str | None = None, *, edge_id: str | None = None) -> dict[str, Any]:
    return {
        "id": edge_id or f"{source}-{handle or 'out'}-{target}",
        "source": source,
        "sourceHandle": handle,
        "target": target,
        "targetHandle": None,
    }


def document(
    nodes: list[dict[str, Any]],
    edges: list[dict[str, Any]],
    *,
    variables: list[dict[str, Any]] | None = None,
    settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "version": 1,
        "nodes": nodes,
        "edges": edges,
        "variables": variables or [],
        "settings": {"model": MODEL} if settings is None else settings,
    }


def chat_bot() -> dict[str, Any]:
    """The smallest useful bot: start → llm → answer."""
    return document(
        [
            node("start", "start", {"inputs": [{"name": "topic", "type": "string"}]}),
            node("llm1", "llm", {"user_prompt": "Tell me about {{ start.topic }}: {{ sys.query }}"}),
            node("reply", "answer", {"text": "{{ llm1.text }}"}),
        ],
        [edge("start", "llm1"), edge("llm1", "reply")],
    )


def support_bot() -> dict[str, Any]:
    """A realistic bot:

    start → intent → (question: retrieve → llm → answer) | (maths: code → answer)
        | (order: http → answer, error → answer) | (digest: iteration[llm → template] → answer) | (other → answer).
    """
    query = {"ref": ["sys", "query"]}
    return document(
        [
            node("start", "start", {"inputs": [{"name": "topics", "type": "array[string]", "required": False}]}),
            node(
                "route",
                "intent",
                {
                    "title": "What does the user want?",
                    "query": query,
                    "intents": [
                        {"id": "question", "name": "Product question"},
                        {"id": "maths", "name": "A calculation"},
                        {"id": "order", "name": "Order status", "description": "Where is my order"},
                        {"id": "digest", "name": "Summaries of several topics"},
                    ],
                    "fallback_model": {"provider": "ollama", "name": "qwen2.5"},
                },
            ),
            node("search", "knowledge_retrieval", {"query": query, "knowledge_bases": ["handbook"], "top_k": 4}),
            node(
                "explain",
                "llm",
                {
                    "system_prompt": "Answer from these excerpts: {{ search.chunks }}",
                    "user_prompt": "{{ sys.query }}",
                    "memory_window": 6,
                    "error": {"retries": 2, "backoff_s": 1.5, "on_error": "default", "default_outputs": {"text": "?"}},
                },
            ),
            node("answer_question", "answer", {"text": "{{ explain.text }}"}),
            node(
                "compute",
                "code",
                {
                    "code": "def main(q: str) -> dict:\n    return {'result': len(q)}\n",
                    "inputs": {"q": query},
                    "outputs": [{"name": "result", "type": "number"}],
                },
            ),
            node("answer_maths", "answer", {"text": "= {{ compute.result }}"}),
            node(
                "lookup",
                "http_request",
                {
                    "method": "POST",
                    "url": "https://orders.example.com/api/orders?user={{ sys.user_id }}",
                    "headers": {"Accept": "application/json"},
                    "body": {"type": "json", "content": {"query": query, "source": "bot"}},
                    "auth": {"type": "bearer", "token": "{{ conv.api_token }}"},
                    "timeout_s": 10,
                    "error": {"on_error": "error_branch"},
                },
            ),
            node("answer_order", "answer", {"text": "Status: {{ lookup.json.status }} ({{ lookup.status_code }})"}),
            node("answer_order_failed", "answer", {"text": "The order system is down, sorry."}),
            node(
                "digest",
                "iteration",
                {
                    "items": {"ref": ["start", "topics"]},
                    "parallelism": 4,
                    "outputs": [{"name": "lines", "ref": ["line", "text"]}],
                },
            ),
            node("summarize", "llm", {"user_prompt": "Summarize {{ digest.item }}"}, parentId="digest"),
            node("line", "template", {"template": "{{ digest.index }}. {{ summarize.text }}"}, parentId="digest"),
            node("answer_digest", "answer", {"text": "{{ digest.lines | join('\\n') }}"}),
            node("answer_other", "answer", {"text": "Sorry, I can only help with products and orders."}),
        ],
        [
            edge("start", "route"),
            edge("route", "search", "question"),
            edge("search", "explain"),
            edge("explain", "answer_question"),
            edge("route", "compute", "maths"),
            edge("compute", "answer_maths"),
            edge("route", "lookup", "order"),
            edge("lookup", "answer_order"),
            edge("lookup", "answer_order_failed", "error"),
            edge("route", "digest", "digest"),
            edge("digest", "summarize", "body"),
            edge("summarize", "line"),
            edge("line", "digest"),
            edge("digest", "answer_digest", "done"),
            edge("route", "answer_other", "other"),
        ],
        variables=[{"name": "api_token", "type": "string", "scope": "conversation", "default": ""}],
        settings={
            "persona": "You are Acme's support desk. The user is {{ sys.user_id }}.",
            "model": {"provider": "openai", "name": "gpt-4o-mini", "temperature": 0.2},
            "opening_message": "How can I help?",
            "suggested_questions": ["Where is my order?"],
            "locale": "en",
        },
    )


def with_changes(base: dict[str, Any], **node_data: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``base`` where the given nodes' data is updated."""
    changed = copy.deepcopy(base)
    for item in changed["nodes"]:
        if item["id"] in node_data:
            item["data"].update(node_data[item["id"]])
    return changed


def problems_of(doc: Any) -> list[GraphProblem]:
    """Structural problems if the document does not parse, else the semantic ones."""
    try:
        graph = parse_graph(doc)
    except GraphInvalid as invalid:
        return invalid.problems
    return find_problems(graph)


def the_problem(doc: Any, code: str) -> GraphProblem:
    """The one problem with this code (failing with every problem found if there is not exactly one)."""
    problems = problems_of(doc)
    matching = [problem for problem in problems if problem.code == code]
    assert len(matching) == 1, [(p.code, p.node_id, p.edge_id, p.field, p.message) for p in problems]
    return matching[0]


def where(problem: GraphProblem) -> tuple[str, str | None, str | None]:
    return problem.code, problem.node_id, problem.field
