"""What changed between two versions of a bot graph, as the user would describe it.

Works on raw (already validated) documents. Layout is not a change: positions and React Flow UI
state (selected, measured, width…) are ignored; only a node's ``type``, ``parentId`` and ``data`` count.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from builder.engine.nodes import registry

# The edge keys that decide what an edge connects; any other key is presentation.
EDGE_ENDPOINT_KEYS = ("source", "sourceHandle", "target", "targetHandle")


class NodeChange(BaseModel):
    id: str
    fields: list[str]  # dotted paths: "type", "parentId", "data.cases.0.conditions"


class GraphDiff(BaseModel):
    nodes_added: list[str]
    nodes_removed: list[str]
    nodes_changed: list[NodeChange]
    edges_added: list[str]
    edges_removed: list[str]
    variables_changed: bool
    settings_changed: list[str]

    @property
    def is_empty(self) -> bool:
        return not (
            self.nodes_added
            or self.nodes_removed
            or self.nodes_changed
            or self.edges_added
            or self.edges_removed
            or self.variables_changed
            or self.settings_changed
        )


def diff_graphs(old: dict[str, Any], new: dict[str, Any]) -> GraphDiff:
    old_nodes, new_nodes = _by_id(old.get("nodes")), _by_id(new.get("nodes"))
    old_edges, new_edges = _by_id(old.get("edges")), _by_id(new.get("edges"))
    rewired = [
        edge_id
        for edge_id in old_edges.keys() & new_edges.keys()
        if _endpoints(old_edges[edge_id]) != _endpoints(new_edges[edge_id])
    ]
    old_settings, new_settings = old.get("settings") or {}, new.get("settings") or {}
    return GraphDiff(
        nodes_added=[node_id for node_id in new_nodes if node_id not in old_nodes],
        nodes_removed=[node_id for node_id in old_nodes if node_id not in new_nodes],
        nodes_changed=[
            NodeChange(id=node_id, fields=fields)
            for node_id in new_nodes
            if node_id in old_nodes and (fields := _node_changes(old_nodes[node_id], new_nodes[node_id]))
        ],
        # An edge whose endpoints changed is reported as removed and added: it is a different wire.
        edges_added=[edge_id for edge_id in new_edges if edge_id not in old_edges or edge_id in rewired],
        edges_removed=[edge_id for edge_id in old_edges if edge_id not in new_edges or edge_id in rewired],
        variables_changed=(old.get("variables") or []) != (new.get("variables") or []),
        settings_changed=sorted(
            key for key in old_settings.keys() | new_settings.keys() if old_settings.get(key) != new_settings.get(key)
        ),
    )


def _by_id(items: Any) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in items or [] if isinstance(item, dict) and isinstance(item.get("id"), str)}


def _endpoints(edge: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(edge.get(key) for key in EDGE_ENDPOINT_KEYS)


def _node_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    fields = []
    if _pinned_type(old.get("type")) != _pinned_type(new.get("type")):
        fields.append("type")
    if old.get("parentId") != new.get("parentId"):
        fields.append("parentId")
    fields.extend(_changed_paths(old.get("data") or {}, new.get("data") or {}, "data"))
    return fields


def _pinned_type(type_string: Any) -> Any:
    """``llm`` and ``llm@1`` are the same type while 1 is the latest: saving one as the other is no change."""
    if not isinstance(type_string, str) or (parsed := registry.parse_type(type_string)) is None:
        return type_string
    name, version = parsed
    if version is None:
        try:
            version = registry.latest_version(name)
        except KeyError:
            return type_string
    return f"{name}@{version}"


def _changed_paths(old: Any, new: Any, path: str) -> list[str]:
    """The deepest paths at which two JSON values differ (a list that changed length counts as one)."""
    if old == new:
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        return [
            changed
            for key in [*old, *(key for key in new if key not in old)]
            for changed in _changed_paths(old.get(key), new.get(key), f"{path}.{key}")
        ]
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [
            changed
            for index, (old_item, new_item) in enumerate(zip(old, new, strict=True))
            for changed in _changed_paths(old_item, new_item, f"{path}.{index}")
        ]
    return [path]
