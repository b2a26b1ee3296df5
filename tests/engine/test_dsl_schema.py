"""The JSON Schema the canvas consumes, and the node-type catalogue."""

from __future__ import annotations

import json
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest

from builder.engine.nodes import registry
from builder.engine.schema import graph_json_schema, node_types_catalog
from tests.engine.graphs import chat_bot, node, support_bot

NODE_TYPES = {
    "start",
    "answer",
    "end",
    "llm",
    "agent",
    "tool",
    "knowledge_retrieval",
    "condition",
    "intent",
    "code",
    "http_request",
    "template",
    "variable_assign",
    "variable_aggregate",
    "loop",
    "iteration",
    "question",
    "parameter_extractor",
    "sub_bot",
    "json",
    "text",
}


def test_exactly_the_documented_node_types_are_registered() -> None:
    assert {spec.name for spec in registry.all_specs()} == NODE_TYPES


def test_the_graph_schema_is_a_valid_draft_2020_12_schema_covering_every_node_type() -> None:
    schema = graph_json_schema()

    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    node_choices = schema["properties"]["nodes"]["items"]
    assert len(node_choices["oneOf"]) == len(NODE_TYPES)
    mapping = node_choices["discriminator"]["mapping"]
    assert set(NODE_TYPES) | {f"{name}@1" for name in NODE_TYPES} == set(mapping)
    json.dumps(schema)  # what the API returns


@pytest.mark.parametrize("doc", [chat_bot(), support_bot()], ids=["chat", "support"])
def test_valid_documents_satisfy_the_schema(doc: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(graph_json_schema()).validate(doc)


def test_the_schema_rejects_a_node_config_with_an_unknown_key() -> None:
    doc = chat_bot()
    doc["nodes"].append(node("bad", "answer", {"text": "x", "colour": "red"}))

    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(graph_json_schema()).validate(doc)


def test_the_catalogue_describes_every_node_type() -> None:
    catalogue = {entry["type"]: entry for entry in node_types_catalog()}

    assert set(catalogue) == {f"{name}@1" for name in NODE_TYPES}
    assert catalogue["llm@1"]["outputs"] is None  # depends on output_schema
    assert catalogue["knowledge_retrieval@1"]["outputs"] == {"chunks": "array[object]"}
    assert catalogue["iteration@1"]["container"] is True
    for entry in catalogue.values():
        jsonschema.Draft202012Validator.check_schema(entry["config_schema"])
        assert entry["title"] and entry["handles"] and entry["latest"]
    json.dumps(list(catalogue.values()))
