"""Small bots for the transport tests: no model or network needed."""

from __future__ import annotations

from typing import Any

from tests.support.graphs import node


def _edges(*pairs: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"id": f"{a}-{b}", "source": a, "target": b} for a, b in pairs]


def echo_bot(extra_nodes: int = 0) -> dict[str, Any]:
    """start → template → answer: answers 'You said: <query>'."""
    nodes = [
        node("start", "start", {"inputs": []}),
        node("echo", "template", {"template": "You said: {{ sys.query }}"}),
        node("answer", "answer", {"text": "{{ echo.text }}"}),
    ]
    return {
        "version": 1,
        "nodes": nodes,
        "edges": _edges(("start", "echo"), ("echo", "answer")),
        "variables": [],
        "settings": {},
    }


def question_bot() -> dict[str, Any]:
    """start → question → answer: asks for a name, then greets."""
    nodes = [
        node("start", "start", {"inputs": []}),
        node("ask", "question", {"question": "What is your name?"}),
        node("answer", "answer", {"text": "Nice to meet you, {{ ask.answer }}!"}),
    ]
    return {
        "version": 1,
        "nodes": nodes,
        "edges": _edges(("start", "ask"), ("ask", "answer")),
        "variables": [],
        "settings": {},
    }


def llm_bot() -> dict[str, Any]:
    """start → llm → answer, the answer streaming the model's tokens as they come."""
    nodes = [
        node("start", "start", {"inputs": []}),
        node("llm", "llm", {"user_prompt": "{{ sys.query }}"}),
        node("answer", "answer", {"text": "{{ llm.text }}"}),
    ]
    return {
        "version": 1,
        "nodes": nodes,
        "edges": _edges(("start", "llm"), ("llm", "answer")),
        "variables": [],
        "settings": {"persona": "Be brief."},
    }
