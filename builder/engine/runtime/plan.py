"""The shape of a validated graph as the runtime needs it: scopes, incoming edges, order.

A *scope* is the top level (``None``) or the body of one loop/iteration. Edges are sorted into:

- forward edges inside a scope (``incoming`` / ``outgoing``; what LangGraph is wired with);
- body entries (container --body--> node): the entry node's incoming edge is ``(container, "body")``,
  which is active in every round;
- back edges (body node --> its container): they end a path of the round. One whose ``targetHandle``
  is ``"break"`` stops the loop after the round when it is taken (see ``containers.py``).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from builder.engine.graph import BotGraph, Node
from builder.engine.nodes.base import NodeConfig, NodeSpec
from builder.engine.nodes.container import BODY_HANDLE

BREAK_HANDLE = "break"
# Node types that may pause the run: the answer stream does not look past them before they finish.
PAUSING_TYPES = frozenset({"question"})


@dataclass
class NodePlan:
    node: Node
    spec: NodeSpec[Any]
    index: int  # position in the document (tie-break for orders)
    parent: str | None
    top: str  # the top-level node this node is, or sits in
    incoming: list[tuple[str, str | None]] = field(default_factory=list)  # (source, handle) of forward edges
    outgoing: list[tuple[str, str | None]] = field(default_factory=list)  # (target, handle)

    @property
    def id(self) -> str:
        return self.node.id

    @property
    def type_name(self) -> str:
        return self.node.type_name

    @property
    def config(self) -> NodeConfig:
        return self.node.config

    @property
    def title(self) -> str:
        return self.node.config.title or str(self.spec.title)

    @property
    def is_container(self) -> bool:
        return self.spec.is_container

    @property
    def is_answer(self) -> bool:
        return self.node.type_name == "answer"

    @cached_property
    def predecessors(self) -> list[str]:
        """Distinct sources of forward edges, in edge order (what LangGraph waits for)."""
        return list(dict.fromkeys(source for source, _ in self.incoming if source != self.parent))

    @cached_property
    def takes_every_edge(self) -> bool:
        """Once it runs, every outgoing edge is taken (no branches, no error branch, no pause)."""
        if self.type_name in PAUSING_TYPES or self.config.error.on_error == "error_branch":
            return False
        return self.spec.is_container or not self.spec.branches(self.config)

    @cached_property
    def vouches_once_started(self) -> bool:
        """Once it has started, what follows it is certain to run (barring a failure of the run).

        The start node is excluded: it checks the run's inputs and may refuse them at once, and
        speaking before that would gain nothing.
        """
        return self.takes_every_edge and not self.spec.is_entry

    def route_of(self, branch: str | None) -> str | None:
        """The handle a result takes: its branch, or the node's default branch."""
        return self.spec.default_branch if branch is None else branch


class GraphPlan:
    def __init__(self, graph: BotGraph) -> None:
        self.graph = graph
        self.nodes: dict[str, NodePlan] = {}
        for index, node in enumerate(graph.nodes):
            self.nodes[node.id] = NodePlan(node=node, spec=node.spec, index=index, parent=node.parent_id, top=node.id)
        for plan in self.nodes.values():
            plan.top = self._outermost(plan.id)
        self.break_edges: dict[str, list[tuple[str, str | None]]] = {}
        self.body_entries: dict[str, list[str]] = {}
        for edge in graph.edges:
            source, target = self.nodes[edge.source], self.nodes[edge.target]
            handle = source.spec.effective_handle(edge.source_handle)
            if source.is_container and handle == BODY_HANDLE:
                target.incoming.append((source.id, BODY_HANDLE))
                self.body_entries.setdefault(source.id, []).append(target.id)
            elif target.is_container and source.parent == target.id:
                if edge.target_handle == BREAK_HANDLE:
                    self.break_edges.setdefault(target.id, []).append((source.id, handle))
            else:
                target.incoming.append((source.id, handle))
                source.outgoing.append((target.id, handle))
        self.node_ids = frozenset(self.nodes)
        self.scopes: dict[str | None, list[str]] = {}
        for plan in self.nodes.values():
            self.scopes.setdefault(plan.parent, []).append(plan.id)
        self.orders = {scope: self._topological(members) for scope, members in self.scopes.items()}
        self.top_order = self.orders.get(None, [])
        self.top_ids = frozenset(self.top_order)
        self.start_id = next(plan.id for plan in self.nodes.values() if plan.spec.is_entry and plan.parent is None)

    def _outermost(self, node_id: str) -> str:
        current = node_id
        while (parent := self.nodes[current].parent) is not None:
            current = parent
        return current

    def _topological(self, members: list[str]) -> list[str]:
        """Kahn's algorithm over forward edges; ties broken by document order."""
        inside = set(members)
        waiting = {
            node_id: len({s for s, _ in self.nodes[node_id].incoming if s in inside and s != node_id})
            for node_id in members
        }
        ready = [(self.nodes[node_id].index, node_id) for node_id, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            _, node_id = heapq.heappop(ready)
            order.append(node_id)
            for target in dict.fromkeys(t for t, _ in self.nodes[node_id].outgoing):
                if target in waiting:
                    waiting[target] -= 1
                    if waiting[target] == 0:
                        heapq.heappush(ready, (self.nodes[target].index, target))
        # A valid graph has no other cycles; keep anything left over rather than lose it.
        placed = set(order)
        order.extend(node_id for node_id in members if node_id not in placed)
        return order

    def ancestors(self, node_id: str) -> set[str]:
        """Nodes of the same scope with a forward path to ``node_id``."""
        seen: set[str] = set()
        frontier = [node_id]
        while frontier:
            for source, _ in self.nodes[frontier.pop()].incoming:
                if source not in seen and self.nodes[source].parent == self.nodes[node_id].parent:
                    seen.add(source)
                    frontier.append(source)
        return seen

    def body(self, container_id: str) -> list[str]:
        return self.orders.get(container_id, [])
