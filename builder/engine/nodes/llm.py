"""llm: one chat-model call, optionally with structured (JSON Schema) output."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from builder.engine.i18n import gettext_noop
from builder.engine.nodes.base import ConfigIssue, ModelNodeConfig, NodeSpec
from builder.engine.nodes.registry import register
from builder.engine.values import VERBATIM, RequiredTemplate, Template


class LLMConfig(ModelNodeConfig):
    system_prompt: Template = ""
    user_prompt: RequiredTemplate
    # How many past conversation turns to include; 0 = none.
    memory_window: int = Field(default=0, ge=0, le=100)
    # A JSON Schema object; when set the model must answer with JSON matching it (output "json").
    output_schema: Annotated[dict[str, Any] | None, VERBATIM] = None
    vision: bool = False


@register
class LLMNode(NodeSpec[LLMConfig]):
    name = "llm"
    version = 1
    title = gettext_noop("LLM")
    description = gettext_noop("Ask a language model; optionally get structured JSON back.")
    config_model = LLMConfig
    static_outputs = None

    def check(self, config: LLMConfig) -> list[ConfigIssue]:
        # Providers' structured-output modes all want an object at the root.
        if config.output_schema is None or config.output_schema.get("type") == "object":
            return []
        template = gettext_noop('The output schema must describe a JSON object ("type": "object").')
        return [ConfigIssue("invalid_field", template, "output_schema")]

    def outputs(self, config: LLMConfig) -> dict[str, str]:
        outputs = {"text": "string", "usage": "object"}
        if config.output_schema is not None:
            outputs["json"] = "object"
        return outputs
