"""OpenAPI schemas → self-contained JSON Schemas (2020-12) a model and a validator can read.

- Local ``$ref``s are replaced by what they point to, so a tool's input schema stands alone.
- A reference back into a schema being expanded (a category with sub-categories) is cut: the
  inner occurrence becomes an object described as such, so the expansion ends.
- A schema used many times is expanded each time; past ``MAX_NODES`` schema nodes per tool (a
  huge spec) the rest is cut the same way rather than growing without end.
- OpenAPI 3.0's dialect becomes JSON Schema: ``nullable: true`` adds ``null`` to the type,
  boolean ``exclusiveMinimum``/``exclusiveMaximum`` become numbers. Keywords that mean nothing to
  a validator or a model (``xml``, ``discriminator``, ``externalDocs``, ``x-…``) are dropped.
"""

from __future__ import annotations

from typing import Any, Final

from plugins.openapi.spec import Spec

MAX_NODES: Final = 5_000
MAX_DEPTH: Final = 40
_DROPPED: Final = frozenset({"xml", "discriminator", "externalDocs", "example", "$schema", "$id"})
# Their values are data, not schemas: copied as they are.
_VALUES: Final = frozenset({"default", "enum", "const", "examples"})


class _Budget:
    def __init__(self) -> None:
        self.nodes = 0


def json_schema(spec: Spec, schema: Any) -> dict[str, Any]:
    """``schema`` (an OpenAPI schema object, maybe a ``$ref``) as a standalone JSON Schema."""
    converted = _convert(spec, schema, (), _Budget(), 0)
    return converted if isinstance(converted, dict) else {}


def _cut(reason: str) -> dict[str, Any]:
    return {"type": "object", "description": reason}


def _convert(spec: Spec, node: Any, expanding: tuple[str, ...], budget: _Budget, depth: int) -> Any:
    if isinstance(node, list):
        return [_convert(spec, item, expanding, budget, depth + 1) for item in node]
    if not isinstance(node, dict):
        return node
    budget.nodes += 1
    if budget.nodes > MAX_NODES or depth > MAX_DEPTH:
        return _cut("(not expanded: the schema is too large)")
    ref = node.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[-1]
        if ref in expanding:
            return _cut(f"A {name} (the same structure again).")
        target = _convert(spec, spec.pointer(ref), (*expanding, ref), budget, depth + 1)
        siblings = {key: value for key, value in node.items() if key != "$ref"}
        if siblings and isinstance(target, dict):  # 3.1 allows description etc. next to $ref
            target = {**target, **_convert(spec, siblings, expanding, budget, depth + 1)}
        return target
    converted: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED or key.startswith("x-"):
            continue
        if key in _VALUES:
            converted[key] = value
            continue
        if key in ("properties", "patternProperties", "$defs", "definitions") and isinstance(value, dict):
            # Names here are property names, not keywords: keep every one.
            converted[key] = {name: _convert(spec, item, expanding, budget, depth + 1) for name, item in value.items()}
        else:
            converted[key] = _convert(spec, value, expanding, budget, depth + 1)
    if spec.is_30:
        _from_openapi_30(converted)
    return converted


def _from_openapi_30(schema: dict[str, Any]) -> None:
    if schema.pop("nullable", False) is True:
        kind = schema.get("type")
        if isinstance(kind, str):
            schema["type"] = [kind, "null"]
        if isinstance(schema.get("enum"), list) and None not in schema["enum"]:
            schema["enum"] = [*schema["enum"], None]
    for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        # 3.0's boolean form (removed either way) qualifies the plain bound; 2020-12's is the number.
        if isinstance(schema.get(bound), bool) and schema.pop(bound) and limit in schema:
            schema[bound] = schema.pop(limit)
