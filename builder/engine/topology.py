"""Small graph algorithms over node ids, iterative so a 2000-node chain cannot overflow the stack."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence


def strongly_connected_components(nodes: Sequence[str], successors: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Tarjan's algorithm. Components come out in reverse topological order (sinks first)."""
    index_of: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    allowed = set(nodes)
    for root in nodes:
        if root in index_of:
            continue
        work: list[tuple[str, list[str]]] = [(root, [n for n in successors.get(root, ()) if n in allowed])]
        index_of[root] = lowlink[root] = len(index_of)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, pending = work[-1]
            if pending:
                child = pending.pop()
                if child not in index_of:
                    index_of[child] = lowlink[child] = len(index_of)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, [n for n in successors.get(child, ()) if n in allowed]))
                elif child in on_stack:
                    lowlink[node] = min(lowlink[node], index_of[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                lowlink[parent] = min(lowlink[parent], lowlink[node])
            if lowlink[node] == index_of[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component)
    return components


def reachable(starts: Iterable[str], successors: Mapping[str, Iterable[str]]) -> set[str]:
    seen = set(starts)
    frontier = list(seen)
    while frontier:
        for child in successors.get(frontier.pop(), ()):
            if child not in seen:
                seen.add(child)
                frontier.append(child)
    return seen


class Ancestry:
    """Answers "is there a path from a to b?" for every pair, after one pass over the graph.

    Bitsets over the condensation (SCCs in topological order) keep this near-linear even for the
    largest graphs we accept. A node is its own ancestor only when it is on a cycle.
    """

    def __init__(self, nodes: Sequence[str], successors: Mapping[str, Iterable[str]]) -> None:
        components = strongly_connected_components(nodes, successors)
        self._component_of = {member: number for number, component in enumerate(components) for member in component}
        self._bit = {node: 1 << position for position, node in enumerate(nodes)}
        predecessors: dict[str, list[str]] = {node: [] for node in nodes}
        for node in nodes:
            for child in successors.get(node, ()):
                if child in predecessors:
                    predecessors[child].append(node)
        self._bits: dict[int, int] = {}
        for number in reversed(range(len(components))):  # sources first
            component = components[number]
            bits = 0
            for member in component:
                for parent in predecessors[member]:
                    if self._component_of[parent] != number:
                        bits |= self._bits[self._component_of[parent]] | self._bit[parent]
            if len(component) > 1 or any(member in successors.get(member, ()) for member in component):
                for member in component:
                    bits |= self._bit[member]
            self._bits[number] = bits

    def is_ancestor(self, candidate: str, node: str) -> bool:
        return bool(self._bits[self._component_of[node]] & self._bit[candidate])
