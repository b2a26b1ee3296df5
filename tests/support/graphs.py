"""Bot graph documents for tests that run bots: a straight line of nodes, start to answer."""

from __future__ import annotations

import itertools
from typing import Any


def node(node_id: str, kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """A node of type ``kind`` (version 1 unless ``kind`` names one: ``"shout@2"``)."""
    node_type = kind if "@" in kind else f"{kind}@1"
    return {"id": node_id, "type": node_type, "position": {"x": 0, "y": 0}, "data": data}


def chain(*nodes: dict[str, Any]) -> list[dict[str, Any]]:
    """Edges joining ``nodes`` one after the other."""
    return [{"id": f"{a['id']}-{b['id']}", "source": a["id"], "target": b["id"]} for a, b in itertools.pairwise(nodes)]


def linear_bot(
    *nodes: dict[str, Any], settings: dict[str, Any] | None = None, variables: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A bot whose ``nodes`` run one after the other."""
    return {
        "version": 1,
        "nodes": list(nodes),
        "edges": chain(*nodes),
        "variables": variables or [],
        "settings": settings or {},
    }
