"""The validated bot graph: what ``dsl.parse_graph`` returns and what the compiler will consume."""

from __future__ import annotations

from functools import cached_property
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    SerializeAsAny,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from builder.engine.i18n import gettext_noop
from builder.engine.nodes import registry
from builder.engine.nodes.base import NodeConfig, NodeSpec
from builder.engine.values import Identifier, ModelChoice, StrictModel, field_error, value_matches_type

DSL_VERSION: Final = 1
# Values every run provides under ``sys``.
SYS_OUTPUTS: dict[str, str] = {
    "query": "string",
    "user_id": "string",
    "conversation_id": "string",
    "files": "array[file]",
    "now": "string",
}
# The prefix a reference uses for each variable scope: {{ conv.topic }}, {{ user.name }}.
SCOPE_PREFIXES: dict[str, str] = {"conversation": "conv", "user": "user"}


class Position(StrictModel):
    x: float = 0.0
    y: float = 0.0


class Viewport(StrictModel):
    x: float = 0.0
    y: float = 0.0
    zoom: float = Field(default=1.0, gt=0)


class Edge(BaseModel):
    """A React Flow edge. Keys the engine does not use (type, animated, style…) are kept for the canvas."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True, allow_inf_nan=False)

    id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    source: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    source_handle: Annotated[str, StringConstraints(max_length=128)] | None = Field(default=None, alias="sourceHandle")
    target: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    target_handle: Annotated[str, StringConstraints(max_length=128)] | None = Field(default=None, alias="targetHandle")

    def to_document(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class Node(BaseModel):
    """A node whose ``data`` has been validated by its type's config model."""

    model_config = ConfigDict(frozen=True)

    id: str
    type_name: str
    type_version: int
    config: SerializeAsAny[NodeConfig]
    position: Position = Field(default_factory=Position)
    parent_id: str | None = None
    # React Flow keys the engine does not interpret (width, measured, selected…), kept for the canvas.
    ui: dict[str, Any] = Field(default_factory=dict)

    @property
    def spec(self) -> NodeSpec[Any]:
        return registry.get_spec(self.type_name, self.type_version)

    def to_document(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "id": self.id,
            # Always pinned: a saved graph must keep its meaning when a newer version is registered.
            "type": f"{self.type_name}@{self.type_version}",
            "position": self.position.model_dump(mode="json"),
            "data": self.config.model_dump(mode="json", exclude_unset=True),
        }
        if self.parent_id is not None:
            document["parentId"] = self.parent_id
        return document | {key: value for key, value in self.ui.items() if key not in document}


class Variable(StrictModel):
    """A conversation or user variable, read as ``{{ conv.name }}`` / ``{{ user.name }}``."""

    name: Identifier
    type: Literal["string", "number", "boolean", "object", "array"]
    scope: Literal["conversation", "user"] = "conversation"
    default: JsonValue = None
    description: str = Field(default="", max_length=2000)

    @field_validator("default")
    @classmethod
    def _default_fits_type(cls, value: JsonValue, info: ValidationInfo) -> JsonValue:
        declared = info.data.get("type")
        if declared is not None and not value_matches_type(value, declared):
            template = gettext_noop("The default value must be of type %(type)s.")
            raise field_error("invalid_field", template, type=declared)
        return value

    @property
    def prefix(self) -> str:
        return SCOPE_PREFIXES[self.scope]


class MemorySettings(StrictModel):
    """Long-term memory: facts about each end user, learned after their turns and kept across
    conversations (llm and agent nodes recall them with ``long_term_memory``)."""

    enabled: bool = False
    # Extract facts with the bot's default model (better, costs tokens); otherwise rules (English, Chinese).
    llm_extraction: bool = False


class Settings(StrictModel):
    """Bot-wide settings; every field has a default so ``{}`` is valid."""

    # The bot's system prompt (a template: it may use {{ sys.* }}, {{ conv.* }}, {{ user.* }}).
    persona: str = Field(default="", max_length=100_000)
    # The default model of llm/agent/intent/parameter_extractor nodes that do not name one.
    model: ModelChoice | None = None
    opening_message: str = Field(default="", max_length=10_000)
    suggested_questions: list[Annotated[str, StringConstraints(max_length=500)]] = Field(
        default_factory=list, max_length=10
    )
    locale: Literal["en", "zh-Hans"] | None = None
    memory: MemorySettings = Field(default_factory=MemorySettings)


class BotGraph(BaseModel):
    """A structurally valid graph. ``dsl.find_problems`` says whether it is also semantically valid."""

    model_config = ConfigDict(frozen=True)

    version: Literal[1] = DSL_VERSION
    nodes: list[Node]
    edges: list[Edge]
    variables: list[Variable] = Field(default_factory=list)
    settings: Settings = Field(default_factory=Settings)
    viewport: Viewport | None = None

    @cached_property
    def nodes_by_id(self) -> dict[str, Node]:
        """Nodes keyed by id (ids are unique in a parsed graph)."""
        return {node.id: node for node in self.nodes}

    def node(self, node_id: str) -> Node:
        """The node with this id; KeyError if there is none."""
        return self.nodes_by_id[node_id]

    def has_node(self, node_id: str) -> bool:
        return node_id in self.nodes_by_id

    def variable(self, prefix: str, name: str) -> Variable | None:
        """The declared variable behind ``conv.<name>`` or ``user.<name>``, if any."""
        return next((v for v in self.variables if v.prefix == prefix and v.name == name), None)

    def to_document(self) -> dict[str, Any]:
        """The JSON document to store; ``parse_graph(g.to_document())`` gives the same graph back."""
        document: dict[str, Any] = {
            "version": self.version,
            "nodes": [node.to_document() for node in self.nodes],
            "edges": [edge.to_document() for edge in self.edges],
            "variables": [variable.model_dump(mode="json", exclude_unset=True) for variable in self.variables],
            "settings": self.settings.model_dump(mode="json", exclude_unset=True),
        }
        if self.viewport is not None:
            document["viewport"] = self.viewport.model_dump(mode="json")
        return document
