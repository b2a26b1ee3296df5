"""json: parse, serialize or query JSON (module named json_node so it does not shadow stdlib json)."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from builder.engine.i18n import gettext_noop
from builder.engine.nodes.base import NodeConfig, NodeSpec
from builder.engine.nodes.registry import register
from builder.engine.runtime.contract import NodeContext, NodeResult, node_error
from builder.engine.values import VERBATIM, Value, field_error


class JsonConfig(NodeConfig):
    operation: Literal["parse", "serialize", "path"] = "parse"
    input: Value
    # A JSONPath-like expression ("$.items[0].name"); required for the "path" operation.
    path: Annotated[str | None, VERBATIM] = Field(default=None, max_length=1000, validate_default=True)

    @field_validator("path")
    @classmethod
    def _path_for_path(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("operation") == "path" and not (value or "").strip():
            raise field_error("missing_field", gettext_noop("Give the path to extract."))
        return value


@register
class JsonNode(NodeSpec[JsonConfig]):
    name = "json"
    version = 1
    title = gettext_noop("JSON")
    description = gettext_noop("Parse text as JSON, turn a value into JSON text, or pick a value by path.")
    config_model = JsonConfig
    static_outputs = {"result": "any"}

    async def run(self, config: JsonConfig, ctx: NodeContext) -> NodeResult:
        value = ctx.resolve(config.input)
        if config.operation == "serialize":
            try:
                return NodeResult(outputs={"result": json.dumps(value, ensure_ascii=False)})
            except (TypeError, ValueError) as error:
                template = gettext_noop("This value cannot be written as JSON: %(error)s")
                raise node_error("invalid_input", template, error=str(error)) from error
        if isinstance(value, str):
            value = _parse(value)  # a value that is already parsed (an HTTP node's json) is used as is
        if config.operation == "parse":
            return NodeResult(outputs={"result": value})
        return NodeResult(outputs={"result": select(value, config.path or "$")})


def _parse(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as error:
        raise node_error(
            "invalid_json", gettext_noop("The text is not valid JSON: %(error)s"), error=str(error)
        ) from error


_STEP = re.compile(
    r"""\.([A-Za-z_][\w\-]*)|\[\s*(-?\d+)\s*\]|\[\s*'([^']*)'\s*\]|\[\s*"([^"]*)"\s*\]|\[\s*\*\s*\]|\.\*"""
)


def select(value: Any, path: str) -> Any:
    """A small JSONPath: ``$``, ``.key``, ``['key']``, ``[index]`` (negative from the end) and ``[*]``/``.*``.

    A step that finds nothing gives None; after a wildcard, the rest applies to every element.
    """
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]
    elif text and not text.startswith((".", "[")):
        text = "." + text  # "items[0].name" means "$.items[0].name"
    steps: list[tuple[str, Any]] = []
    position = 0
    while position < len(text):
        match = _STEP.match(text, position)
        if match is None:
            template = gettext_noop("Cannot read the path %(path)s at %(rest)s.")
            raise node_error("invalid_path", template, path=repr(path), rest=repr(text[position:]))
        name, index, single, double = match.groups()
        if index is not None:
            steps.append(("index", int(index)))
        elif name is not None or single is not None or double is not None:
            steps.append(("key", name if name is not None else single if single is not None else double))
        else:
            steps.append(("all", None))
        position = match.end()
    return _walk(value, steps)


def _walk(value: Any, steps: list[tuple[str, Any]]) -> Any:
    for number, (kind, argument) in enumerate(steps):
        if kind == "all":
            items = list(value.values()) if isinstance(value, dict) else value if isinstance(value, list) else []
            return [_walk(item, steps[number + 1 :]) for item in items]
        if kind == "key":
            value = value.get(argument) if isinstance(value, dict) else None
        elif isinstance(value, list) and -len(value) <= argument < len(value):
            value = value[argument]
        else:
            value = None
        if value is None:
            return None
    return value
