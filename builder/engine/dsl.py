"""The bot graph DSL: the one contract between the canvas and the backend.

A document is React Flow shaped so the canvas saves it unchanged::

    {"version": 1, "nodes": [{"id", "type", "data", "position", "parentId"?}],
     "edges": [{"id", "source", "sourceHandle", "target", "targetHandle"}],
     "variables": [...], "settings": {...}}

``parse_graph`` checks structure (shape, node types, each node's config); ``find_problems`` checks
the graph as a whole (edges, reachability, references, cycles); ``validate_graph`` does both. Every
problem names the node or edge and the field, and carries a translatable message template.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Final, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from builder.engine.checks import find_problems
from builder.engine.graph import DSL_VERSION, BotGraph, Edge, Node, Position, Settings, Variable, Viewport
from builder.engine.i18n import gettext_noop
from builder.engine.nodes import registry
from builder.engine.nodes.base import NodeSpec
from builder.engine.problems import GraphInvalid, GraphProblem, problems_from_validation_error

__all__ = [
    "MAX_EDGES",
    "MAX_NODES",
    "BotGraph",
    "Edge",
    "GraphInvalid",
    "GraphProblem",
    "Node",
    "Settings",
    "Variable",
    "find_problems",
    "parse_graph",
    "validate_graph",
]

# Limits that refuse hostile documents before any per-node work is done.
MAX_NODES: Final = 2000
MAX_EDGES: Final = 10_000
MAX_VARIABLES: Final = 500
NODE_ID_PATTERN: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
MAX_NODE_ID_LENGTH: Final = 64
# Reference roots that are not nodes.
RESERVED_NODE_IDS: Final = frozenset({"sys", "conv", "user"})
TOP_LEVEL_KEYS: Final = frozenset({"version", "nodes", "edges", "variables", "settings", "viewport"})

M = TypeVar("M", bound=BaseModel)


class _NodeEnvelope(BaseModel):
    """A node before its ``data`` is validated; other React Flow keys are allowed and kept."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, allow_inf_nan=False)

    id: str
    type: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    data: dict[str, Any] = Field(default_factory=dict)
    position: Position = Field(default_factory=Position)
    parent_id: Annotated[str, StringConstraints(max_length=128)] | None = Field(default=None, alias="parentId")


def parse_graph(document: Any) -> BotGraph:
    """Check the document's structure; raise GraphInvalid listing every problem found."""
    problems: list[GraphProblem] = []
    if not isinstance(document, dict):
        raise GraphInvalid([GraphProblem.build("invalid_document", gettext_noop("A bot graph must be a JSON object."))])
    _check_version(document.get("version"))
    for key in document:
        if key not in TOP_LEVEL_KEYS:
            problems.append(GraphProblem.build("invalid_field", gettext_noop("Unknown field."), field=str(key)))
    raw_nodes = _list_field(document, "nodes", MAX_NODES, problems)
    raw_edges = _list_field(document, "edges", MAX_EDGES, problems)
    raw_variables = _list_field(document, "variables", MAX_VARIABLES, problems)
    nodes = _parse_nodes(raw_nodes, problems)
    edges = _parse_edges(raw_edges, problems)
    variables = _parse_variables(raw_variables, problems)
    raw_settings = document.get("settings")
    settings = _parse_model(Settings, {} if raw_settings is None else raw_settings, "settings", problems)
    viewport = _parse_model(Viewport, document["viewport"], "viewport", problems) if document.get("viewport") else None
    if problems or settings is None:
        raise GraphInvalid(problems)
    return BotGraph(nodes=nodes, edges=edges, variables=variables, settings=settings, viewport=viewport)


def validate_graph(document: Any) -> BotGraph:
    """``parse_graph`` then ``find_problems``; raise GraphInvalid if anything is wrong."""
    graph = parse_graph(document)
    problems = find_problems(graph)
    if problems:
        raise GraphInvalid(problems)
    return graph


def _check_version(version: Any) -> None:
    # Checked first and alone: the rest of a document of another version means something else.
    if version is None:
        problem = GraphProblem.build("missing_field", gettext_noop("This field is required."), field="version")
    elif isinstance(version, bool) or version != DSL_VERSION:
        problem = GraphProblem.build(
            "unsupported_version",
            gettext_noop("Version %(version)s of the bot graph format is not supported (expected %(expected)s)."),
            field="version",
            version=str(version)[:20],
            expected=DSL_VERSION,
        )
    else:
        return
    raise GraphInvalid([problem])


def _list_field(document: dict[str, Any], key: str, limit: int, problems: list[GraphProblem]) -> list[Any]:
    value = document.get(key, [])
    if not isinstance(value, list):
        problems.append(GraphProblem.build("invalid_field", gettext_noop("Must be a list."), field=key))
        return []
    if len(value) > limit:
        # Refused outright: validating a hostile document item by item is the attack.
        raise GraphInvalid(
            [
                GraphProblem.build(
                    f"too_many_{key}",
                    gettext_noop("A bot graph can have at most %(limit)s %(what)s; this one has %(count)s."),
                    field=key,
                    limit=limit,
                    what=key,
                    count=len(value),
                )
            ]
        )
    return value


def _parse_model(model: type[M], raw: Any, prefix: str, problems: list[GraphProblem]) -> M | None:
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        problems.extend(problems_from_validation_error(error, data=raw, prefix=prefix))
        return None


def _parse_nodes(raw_nodes: list[Any], problems: list[GraphProblem]) -> list[Node]:
    nodes: list[Node] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_nodes):
        node_id = raw.get("id") if isinstance(raw, dict) else None
        if not isinstance(node_id, str):
            problems.append(_unnamed_problem(raw, f"nodes.{index}"))
            continue
        problems.extend(_node_id_problems(node_id, seen))
        seen.add(node_id)
        node = _parse_node(node_id, raw, problems)
        if node is not None:
            nodes.append(node)
    return nodes


def _unnamed_problem(raw: Any, where: str) -> GraphProblem:
    if not isinstance(raw, dict):
        return GraphProblem.build("invalid_field", gettext_noop("Must be an object."), field=where)
    if "id" not in raw:
        return GraphProblem.build("missing_field", gettext_noop("This field is required."), field=f"{where}.id")
    return GraphProblem.build("invalid_field", gettext_noop("Must be text."), field=f"{where}.id")


def _node_id_problems(node_id: str, seen: set[str]) -> list[GraphProblem]:
    if node_id in seen:
        return [
            GraphProblem.build(
                "duplicate_node_id",
                gettext_noop("Another node already has the id %(id)s."),
                node_id=node_id,
                field="id",
                id=node_id,
            )
        ]
    if node_id in RESERVED_NODE_IDS:
        return [
            GraphProblem.build(
                "invalid_node_id",
                gettext_noop("%(id)s is reserved; choose another node id."),
                node_id=node_id,
                field="id",
                id=node_id,
            )
        ]
    if len(node_id) > MAX_NODE_ID_LENGTH or not NODE_ID_PATTERN.match(node_id):
        return [
            GraphProblem.build(
                "invalid_node_id",
                gettext_noop(
                    "A node id starts with a letter or _, contains only letters, digits, _ and -, "
                    "and has at most %(max)s characters."
                ),
                node_id=node_id,
                field="id",
                max=MAX_NODE_ID_LENGTH,
            )
        ]
    return []


def _parse_node(node_id: str, raw: dict[str, Any], problems: list[GraphProblem]) -> Node | None:
    try:
        envelope = _NodeEnvelope.model_validate(raw)
    except ValidationError as error:
        problems.extend(problems_from_validation_error(error, data=raw, node_id=node_id))
        return None
    spec = _resolve_type(node_id, envelope.type, problems)
    if spec is None:
        return None
    try:
        config = spec.config_model.model_validate(envelope.data)
    except ValidationError as error:
        problems.extend(problems_from_validation_error(error, data=envelope.data, prefix="data", node_id=node_id))
        return None
    for issue in spec.issues(config):
        field = f"data.{issue.field}"
        problems.append(
            GraphProblem.with_params(issue.code, issue.template, issue.params, node_id=node_id, field=field)
        )
    return Node(
        id=node_id,
        type_name=spec.name,
        type_version=spec.version,
        config=config,
        position=envelope.position,
        parent_id=envelope.parent_id,
        ui=dict(envelope.model_extra or {}),
    )


def _resolve_type(node_id: str, type_string: str, problems: list[GraphProblem]) -> NodeSpec[Any] | None:
    try:
        return registry.resolve(type_string)
    except registry.UnknownNodeType as unknown:
        problems.append(
            GraphProblem.build(
                "unknown_node_type",
                gettext_noop("There is no node type called %(type)s."),
                node_id=node_id,
                field="type",
                type=unknown.name,
            )
        )
    except registry.UnknownNodeVersion as unknown:
        problems.append(
            GraphProblem.build(
                "unknown_node_version",
                gettext_noop("Node type %(type)s has no version %(version)s (known versions: %(known)s)."),
                node_id=node_id,
                field="type",
                type=unknown.name,
                version=unknown.version,
                known=", ".join(str(version) for version in unknown.known),
            )
        )
    return None


def _parse_edges(raw_edges: list[Any], problems: list[GraphProblem]) -> list[Edge]:
    edges: list[Edge] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_edges):
        edge_id = raw.get("id") if isinstance(raw, dict) else None
        if not isinstance(edge_id, str):
            problems.append(_unnamed_problem(raw, f"edges.{index}"))
            continue
        if edge_id in seen:
            problems.append(
                GraphProblem.build(
                    "duplicate_edge_id",
                    gettext_noop("Another edge already has the id %(id)s."),
                    edge_id=edge_id,
                    field="id",
                    id=edge_id,
                )
            )
        seen.add(edge_id)
        try:
            edges.append(Edge.model_validate(raw))
        except ValidationError as error:
            problems.extend(problems_from_validation_error(error, data=raw, edge_id=edge_id))
    return edges


def _parse_variables(raw_variables: list[Any], problems: list[GraphProblem]) -> list[Variable]:
    variables: list[Variable] = []
    seen: set[tuple[str, str]] = set()
    for index, raw in enumerate(raw_variables):
        variable = _parse_model(Variable, raw, f"variables.{index}", problems)
        if variable is None:
            continue
        if (variable.scope, variable.name) in seen:
            problems.append(
                GraphProblem.build(
                    "duplicate_variable",
                    gettext_noop("There is already a %(scope)s variable called %(name)s."),
                    field=f"variables.{index}.name",
                    scope=variable.scope,
                    name=variable.name,
                )
            )
        seen.add((variable.scope, variable.name))
        variables.append(variable)
    return variables
