"""json: parse, serialize or query JSON (module named json_node so it does not shadow stdlib json)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator

from builder.engine.i18n import gettext_noop
from builder.engine.nodes.base import NodeConfig, NodeSpec
from builder.engine.nodes.registry import register
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
