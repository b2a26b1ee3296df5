"""text: split, join or replace text (module named text_node for symmetry with json_node)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from builder.engine.i18n import gettext_noop
from builder.engine.nodes.base import NodeConfig, NodeSpec
from builder.engine.nodes.registry import register
from builder.engine.runtime.contract import NodeContext, NodeResult, node_error
from builder.engine.values import Value, field_error


class TextConfig(NodeConfig):
    operation: Literal["split", "join", "replace"] = "split"
    # A string for split/replace, a list for join.
    input: Value
    separator: str = Field(default="\n", max_length=100)
    old: str = Field(default="", max_length=10_000, validate_default=True)
    new: str = Field(default="", max_length=10_000)
    max_splits: int | None = Field(default=None, ge=1)

    @field_validator("old")
    @classmethod
    def _old_for_replace(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("operation") == "replace" and not value:
            raise field_error("missing_field", gettext_noop("Give the text to replace."))
        return value


@register
class TextNode(NodeSpec[TextConfig]):
    name = "text"
    version = 1
    title = gettext_noop("Text")
    description = gettext_noop("Split text into a list, join a list into text, or replace text.")
    config_model = TextConfig
    static_outputs = {"result": "any"}

    async def run(self, config: TextConfig, ctx: NodeContext) -> NodeResult:
        value = ctx.resolve(config.input)
        if config.operation == "join":
            if not isinstance(value, list):
                raise node_error("invalid_input", gettext_noop("join needs a list."))
            return NodeResult(outputs={"result": config.separator.join(_text(item) for item in value)})
        if not isinstance(value, str):
            if value is None or isinstance(value, dict | list):
                raise node_error("invalid_input", gettext_noop("%(operation)s needs text."), operation=config.operation)
            value = _text(value)
        if config.operation == "replace":
            return NodeResult(outputs={"result": value.replace(config.old, config.new)})
        splits = -1 if config.max_splits is None else config.max_splits
        # An empty separator splits on any run of whitespace.
        parts = value.split(config.separator or None, splits)
        return NodeResult(outputs={"result": parts})


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
