"""Semantic checks on a structurally valid graph (``dsl.find_problems``).

Loops are modelled as in React Flow: body nodes have ``parentId`` = their loop/iteration node, the
container's "body" handle leads into the body, and body nodes may link back to the container.
Those back edges are the only cycles allowed; they are left out when deciding what is "upstream".
"""

from __future__ import annotations

from functools import cached_property

from builder.engine.graph import SYS_OUTPUTS, BotGraph, Edge, Node
from builder.engine.i18n import gettext_noop
from builder.engine.nodes.container import BODY_HANDLE
from builder.engine.problems import GraphProblem
from builder.engine.references import FoundReference, ReferenceScan, scan_config
from builder.engine.topology import Ancestry, reachable, strongly_connected_components

MAX_NAMES_IN_MESSAGE = 10


def find_problems(graph: BotGraph) -> list[GraphProblem]:
    """Everything wrong with the graph as a whole; an empty list means it can be compiled and run."""
    layout = _Layout(graph)
    problems = [
        *layout.problems,
        *_edge_problems(layout),
        *_start_problems(graph),
        *_output_problems(graph),
        *_reachability_problems(layout),
        *_cycle_problems(layout),
        *_reference_problems(layout),
        *_settings_problems(graph),
        *_unfilled_problems(graph),
    ]
    # The same mistake repeated in one field ({{ ghost.a }} … {{ ghost.a }}) is one problem.
    unique: dict[tuple[str | None, ...], GraphProblem] = {}
    for problem in problems:
        unique.setdefault((problem.code, problem.node_id, problem.edge_id, problem.field, problem.message), problem)
    return list(unique.values())


class _Layout:
    """The graph's structure once parents and dangling edges are sorted out."""

    def __init__(self, graph: BotGraph) -> None:
        self.graph = graph
        self.nodes = graph.nodes_by_id
        self.problems: list[GraphProblem] = []
        self.parent = {node.id: self._valid_parent(node) for node in graph.nodes}
        self._break_parent_cycles()
        self._chains: dict[str, list[str]] = {}
        self.edges = [edge for edge in graph.edges if edge.source in self.nodes and edge.target in self.nodes]
        self.successors: dict[str, list[str]] = {node_id: [] for node_id in self.nodes}
        for edge in self.edges:
            self.successors[edge.source].append(edge.target)

    def _valid_parent(self, node: Node) -> str | None:
        parent_id = node.parent_id
        if parent_id is None:
            return None
        if parent_id not in self.nodes:
            self.problems.append(
                GraphProblem.build(
                    "unknown_parent",
                    gettext_noop("The containing node %(parent)s does not exist."),
                    node_id=node.id,
                    field="parentId",
                    parent=parent_id,
                )
            )
        elif not self.nodes[parent_id].spec.is_container:
            self.problems.append(
                GraphProblem.build(
                    "invalid_parent",
                    gettext_noop("Only loop and iteration nodes can contain other nodes."),
                    node_id=node.id,
                    field="parentId",
                )
            )
        elif node.spec.is_entry:
            self.problems.append(
                GraphProblem.build(
                    "invalid_parent",
                    gettext_noop("The start node cannot be inside a loop or an iteration."),
                    node_id=node.id,
                    field="parentId",
                )
            )
        else:
            return parent_id
        return None

    def _break_parent_cycles(self) -> None:
        in_cycle = []
        for node_id in self.parent:
            seen = {node_id}
            current = self.parent[node_id]
            while current is not None and current not in seen:
                seen.add(current)
                current = self.parent[current]
            if current == node_id:
                in_cycle.append(node_id)
        for node_id in in_cycle:
            self.parent[node_id] = None
            self.problems.append(
                GraphProblem.build(
                    "invalid_parent",
                    gettext_noop("Loops and iterations cannot contain each other."),
                    node_id=node_id,
                    field="parentId",
                )
            )

    def chain(self, node_id: str) -> list[str]:
        """The containers around a node, outermost first."""
        if node_id not in self._chains:
            parent = self.parent[node_id]
            self._chains[node_id] = [] if parent is None else [*self.chain(parent), parent]
        return self._chains[node_id]

    def is_back_edge(self, edge: Edge) -> bool:
        """An edge from inside a container's body back to the container: the loop's "continue"."""
        return self.nodes[edge.target].spec.is_container and edge.target in self.chain(edge.source)

    @cached_property
    def ancestry(self) -> Ancestry:
        forward: dict[str, list[str]] = {node_id: [] for node_id in self.nodes}
        for edge in self.edges:
            if not self.is_back_edge(edge):
                forward[edge.source].append(edge.target)
        return Ancestry(list(self.nodes), forward)


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:MAX_NAMES_IN_MESSAGE])
    return shown + (", …" if len(names) > MAX_NAMES_IN_MESSAGE else "")


def _edge_problems(layout: _Layout) -> list[GraphProblem]:
    problems = []
    for edge in layout.graph.edges:
        dangling = False
        for end, node_id in (("source", edge.source), ("target", edge.target)):
            if node_id not in layout.nodes:
                dangling = True
                problems.append(
                    GraphProblem.build(
                        "dangling_edge",
                        gettext_noop("The edge is connected to %(node)s, which does not exist."),
                        edge_id=edge.id,
                        field=end,
                        node=node_id,
                    )
                )
        if not dangling:
            problems.extend(_connection_problems(layout, edge))
    return problems


def _connection_problems(layout: _Layout, edge: Edge) -> list[GraphProblem]:
    source, target = layout.nodes[edge.source], layout.nodes[edge.target]
    handles = source.spec.source_handles(source.config)
    if edge.source_handle not in handles:
        return [
            GraphProblem.build(
                "bad_handle",
                gettext_noop("%(node)s has no outgoing handle %(handle)s (it has: %(handles)s)."),
                edge_id=edge.id,
                field="sourceHandle",
                node=source.id,
                handle=edge.source_handle or "default",
                handles=_names(sorted(handle or "default" for handle in handles)) or "none",
            )
        ]
    source_parent, target_parent = layout.parent[source.id], layout.parent[target.id]
    if source.spec.is_container and source.spec.effective_handle(edge.source_handle) == BODY_HANDLE:
        crosses = target_parent != source.id
    elif target.spec.is_container and source_parent == target.id:
        crosses = False  # back to the container: next round
    else:
        crosses = source_parent != target_parent
    if not crosses:
        return []
    return [
        GraphProblem.build(
            "edge_crosses_loop",
            gettext_noop(
                "Edges cannot cross the boundary of a loop or iteration body: "
                "enter it through the body handle and leave it through done."
            ),
            edge_id=edge.id,
        )
    ]


def _start_problems(graph: BotGraph) -> list[GraphProblem]:
    starts = [node for node in graph.nodes if node.spec.is_entry and node.parent_id is None]
    if not starts:
        return [GraphProblem.build("no_start", gettext_noop("The graph needs a start node."))]
    return [
        GraphProblem.build("multiple_start", gettext_noop("The graph can have only one start node."), node_id=extra.id)
        for extra in starts[1:]
    ]


def _output_problems(graph: BotGraph) -> list[GraphProblem]:
    if any(node.spec.is_output for node in graph.nodes):
        return []
    return [GraphProblem.build("no_output_node", gettext_noop("The graph needs at least one answer or end node."))]


def _reachability_problems(layout: _Layout) -> list[GraphProblem]:
    starts = [node.id for node in layout.graph.nodes if node.spec.is_entry and node.parent_id is None]
    if not starts:
        return []  # already reported; every node being "unreachable" would only be noise
    seen = reachable(starts, layout.successors)
    return [
        GraphProblem.build(
            "unreachable_node",
            gettext_noop("This node never runs: no path leads to it from the start node."),
            node_id=node.id,
        )
        for node in layout.graph.nodes
        if node.id not in seen and not node.spec.is_entry
    ]


def _cycle_problems(layout: _Layout) -> list[GraphProblem]:
    order = {node_id: position for position, node_id in enumerate(layout.nodes)}
    problems = []
    for cycle in _illegal_cycles(layout, list(layout.nodes)):
        members = sorted(cycle, key=order.__getitem__)
        if len(members) == 1:
            template = gettext_noop("%(nodes)s is connected to itself. To repeat steps, use a loop or an iteration.")
        else:
            template = gettext_noop("%(nodes)s form a cycle. To repeat steps, put them in a loop or an iteration.")
        problems.append(GraphProblem.build("cycle", template, node_id=members[0], nodes=_names(members)))
    return problems


def _illegal_cycles(layout: _Layout, members: list[str]) -> list[list[str]]:
    """Cycles (within ``members``) that do not go round a loop/iteration body.

    A cycle is legal when it passes through a container L and every other node of it is inside L's
    body; the rest of that component must then be acyclic once L is removed (checked recursively).
    """
    illegal = []
    for component in strongly_connected_components(members, layout.successors):
        self_loops = {node_id for node_id in component if node_id in layout.successors[node_id]}
        if len(component) == 1 and not self_loops:
            continue
        container = next(
            (
                candidate
                for candidate in component
                if layout.nodes[candidate].spec.is_container
                and candidate not in self_loops
                and all(other == candidate or candidate in layout.chain(other) for other in component)
            ),
            None,
        )
        if container is None:
            illegal.append(component)
        else:
            illegal.extend(_illegal_cycles(layout, [node_id for node_id in component if node_id != container]))
    return illegal


def _reference_problems(layout: _Layout) -> list[GraphProblem]:
    problems = []
    for node in layout.graph.nodes:
        scan = scan_config(node.config)
        problems.extend(_template_problems(scan, node.id))
        for reference in scan.references:
            problem = _reference_problem(layout, node, reference)
            if problem is not None:
                problems.append(problem)
    return problems


def _template_problems(scan: ReferenceScan, node_id: str | None) -> list[GraphProblem]:
    return [
        GraphProblem.build(
            "invalid_template",
            gettext_noop("Template error on line %(line)s: %(error)s"),
            node_id=node_id,
            field=error.field,
            line=error.line,
            error=error.error,
        )
        for error in scan.template_errors
    ]


def _reference_problem(layout: _Layout, node: Node, reference: FoundReference) -> GraphProblem | None:
    def problem(code: str, template: str, **params: str | int) -> GraphProblem:
        return GraphProblem.with_params(code, template, params, node_id=node.id, field=reference.field)

    target_id = reference.node_id
    if target_id in ("sys", "conv", "user"):
        return _root_reference_problem(layout.graph, reference, node.id)
    if target_id not in layout.nodes:
        return problem("ref_unknown_node", gettext_noop("There is no node %(ref)s."), ref=target_id)
    # The containers whose body the reference is evaluated in.
    viewpoint = layout.chain(node.id) + ([node.id] if reference.in_body else [])
    entered = [container for container in layout.chain(target_id) if container not in viewpoint]
    if entered:
        return problem(
            "ref_into_loop",
            gettext_noop("%(ref)s is inside the body of %(loop)s; use the outputs of %(loop)s instead."),
            ref=target_id,
            loop=entered[0],
        )
    target = layout.nodes[target_id]
    if target_id in viewpoint:
        available = target.spec.body_outputs(target.config)  # a container seen from its own body
    else:
        in_own_body = reference.in_body and layout.parent[target_id] == node.id
        if not in_own_body and not layout.ancestry.is_ancestor(target_id, node.id):
            return problem(
                "ref_not_upstream",
                gettext_noop("%(ref)s does not run before this node, so its outputs cannot be used here."),
                ref=target_id,
            )
        available = target.spec.referable_outputs(target.config)
    if reference.output not in available:
        return problem(
            "ref_unknown_output",
            gettext_noop("%(ref)s has no output %(output)s (it has: %(outputs)s)."),
            ref=target_id,
            output=reference.output,
            outputs=_names(sorted(available)) or "none",
        )
    return None


def _root_reference_problem(graph: BotGraph, reference: FoundReference, node_id: str | None) -> GraphProblem | None:
    """``sys.*``, ``conv.*`` and ``user.*``: system values and declared variables."""
    if reference.node_id == "sys":
        if reference.output in SYS_OUTPUTS:
            return None
        return GraphProblem.build(
            "ref_unknown_output",
            gettext_noop("%(ref)s has no output %(output)s (it has: %(outputs)s)."),
            node_id=node_id,
            field=reference.field,
            ref="sys",
            output=reference.output,
            outputs=_names(sorted(SYS_OUTPUTS)),
        )
    if graph.variable(reference.node_id, reference.output) is not None:
        return None
    return GraphProblem.build(
        "unknown_variable",
        gettext_noop("There is no variable %(variable)s; declare it in the bot's variables first."),
        node_id=node_id,
        field=reference.field,
        variable=f"{reference.node_id}.{reference.output}",
    )


def _unfilled_problems(graph: BotGraph) -> list[GraphProblem]:
    return [
        GraphProblem.with_params(issue.code, issue.template, issue.params, node_id=node.id, field=f"data.{issue.field}")
        for node in graph.nodes
        for issue in node.spec.unfilled(node.config)
    ]


def _settings_problems(graph: BotGraph) -> list[GraphProblem]:
    """The persona and opening message are templates too, but no node has run when they render."""
    scan = scan_config(graph.settings, prefix="settings")
    problems = _template_problems(scan, None)
    for reference in scan.references:
        if reference.node_id in ("sys", "conv", "user"):
            problem = _root_reference_problem(graph, reference, None)
            if problem is not None:
                problems.append(problem)
        else:
            problems.append(
                GraphProblem.build(
                    "ref_not_upstream",
                    gettext_noop("Only sys, conv and user values can be used here, not node %(ref)s."),
                    field=reference.field,
                    ref=reference.node_id,
                )
            )
    return problems
