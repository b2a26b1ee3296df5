"""JSON Schema of the bot graph document and a catalogue of node types, for the canvas.

The schema is generated from the same pydantic models that validate documents, so the two cannot
drift. Graph-level rules (references, reachability, cycles) are not expressible in JSON Schema; the
API reports them as problems.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

from builder.engine.graph import DSL_VERSION, Edge, Position, Settings, Variable, Viewport
from builder.engine.nodes import registry
from builder.engine.nodes.base import NodeSpec

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _node_model(spec: NodeSpec[Any]) -> type[BaseModel]:
    """The schema of one node of this type: ``type`` pins the config model used for ``data``."""
    type_names = [f"{spec.name}@{spec.version}"]
    if registry.latest_version(spec.name) == spec.version:
        type_names.append(spec.name)
    type_literal: Any = Literal[tuple(type_names)]
    return create_model(
        f"Node_{spec.name}_v{spec.version}",
        __config__=ConfigDict(extra="allow", title=f"{spec.name}@{spec.version}"),
        id=(str, Field(max_length=64, pattern=r"^[A-Za-z_][A-Za-z0-9_\-]*$")),
        type=(type_literal, ...),
        data=(spec.config_model, ...),
        position=(Position, Field(default_factory=Position)),
        parentId=(str | None, None),
    )


def graph_json_schema() -> dict[str, Any]:
    """The whole document; ``nodes.items`` is a ``oneOf`` over every registered node type."""
    # Keyed by the registered types: plugins add theirs as they load, after the first call maybe.
    return copy.deepcopy(_graph_json_schema(tuple(registry.all_specs())))


@cache
def _graph_json_schema(specs: tuple[NodeSpec[Any], ...]) -> dict[str, Any]:
    node_models = tuple(_node_model(spec) for spec in specs)
    any_node: Any = Annotated[Union[node_models], Field(discriminator="type")]  # noqa: UP007
    document = create_model(
        "BotGraphDocument",
        __config__=ConfigDict(extra="forbid", title="Agentloom bot graph"),
        version=(Literal[1], DSL_VERSION),
        nodes=(list[any_node], Field(default_factory=list)),
        edges=(list[Edge], Field(default_factory=list)),
        variables=(list[Variable], Field(default_factory=list)),
        settings=(Settings, Field(default_factory=Settings)),
        viewport=(Viewport | None, None),
    )
    return {"$schema": JSON_SCHEMA_DIALECT, **document.model_json_schema(by_alias=True)}


def node_types_catalog() -> list[dict[str, Any]]:
    """One entry per registered node type version: what the canvas needs to offer and edit it."""
    return [
        {
            "name": spec.name,
            "version": spec.version,
            "type": f"{spec.name}@{spec.version}",
            "latest": registry.latest_version(spec.name) == spec.version,
            "title": spec.title,
            "description": spec.description,
            # None when the outputs depend on the config (e.g. a code node's declared outputs).
            "outputs": dict(spec.static_outputs) if spec.static_outputs is not None else None,
            "handles": spec.handles_doc,
            "container": spec.is_container,
            "config_schema": spec.config_model.model_json_schema(),
        }
        for spec in registry.all_specs()
    ]
