"""llm: one chat-model call, optionally with structured (JSON Schema) output."""

from __future__ import annotations

import json
from typing import Annotated, Any

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import Field

from builder.engine.i18n import gettext_noop
from builder.engine.nodes.base import ConfigIssue, ModelNodeConfig, NodeSpec
from builder.engine.nodes.model_calls import (
    ModelCaller,
    conversation_history,
    image_urls,
    sys_value,
    system_prompt,
    usage_output,
    user_content,
)
from builder.engine.nodes.registry import register
from builder.engine.runtime.contract import NodeContext, NodeResult
from builder.engine.values import VERBATIM, RequiredTemplate, Template


class LLMConfig(ModelNodeConfig):
    # Empty: the bot's persona.
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

    async def run(self, config: LLMConfig, ctx: NodeContext) -> NodeResult:
        system = system_prompt(ctx, config.system_prompt)
        user = ctx.render(config.user_prompt)
        history = await conversation_history(ctx, config.memory_window)
        images = image_urls(sys_value(ctx, "files")) if config.vision else []
        messages: list[BaseMessage] = [SystemMessage(system)] if system else []
        messages += [*history, HumanMessage(content=user_content(user, images))]
        inputs: dict[str, Any] = {"system_prompt": system, "user_prompt": user, "history_messages": len(history)}
        if images:
            inputs["images"] = images

        caller = ModelCaller(ctx, config)
        if config.output_schema is None:
            message = await caller.chat(messages)
            outputs: dict[str, Any] = {"text": message.text}
        else:
            parsed, message = await caller.structured(config.output_schema, messages)
            # The text is what streamed; a forced tool call (function_calling) streams none.
            outputs = {"text": message.text or json.dumps(parsed, ensure_ascii=False), "json": parsed}
        outputs["usage"] = usage_output(caller.usage)
        return NodeResult(outputs=outputs, usage=caller.usage, inputs=inputs)
