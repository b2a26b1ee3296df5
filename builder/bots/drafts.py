"""The starting graph of a new bot, and helpers over DSL documents."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def starter_graph(*, persona: str = "", opening_message: str = "") -> dict[str, Any]:
    """start → llm → answer: a new bot chats as soon as a model is configured."""
    return {
        "version": 1,
        "nodes": [
            {"id": "start", "type": "start@1", "position": {"x": 0, "y": 0}, "data": {"title": "Start", "inputs": []}},
            {
                "id": "llm",
                "type": "llm@1",
                "position": {"x": 320, "y": 0},
                "data": {"title": "LLM", "user_prompt": "{{ sys.query }}", "memory_window": 10},
            },
            {
                "id": "answer",
                "type": "answer@1",
                "position": {"x": 640, "y": 0},
                "data": {"title": "Answer", "text": "{{ llm.text }}"},
            },
        ],
        "edges": [
            {"id": "start-llm", "source": "start", "target": "llm"},
            {"id": "llm-answer", "source": "llm", "target": "answer"},
        ],
        "variables": [],
        "settings": {"persona": persona, "opening_message": opening_message, "suggested_questions": []},
    }


def graph_checksum(document: dict[str, Any]) -> str:
    """A stable fingerprint of a document: key order and whitespace do not matter."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()
