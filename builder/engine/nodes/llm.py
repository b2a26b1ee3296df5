"""llm: one chat-model call, optionally with structured (JSON Schema) output."""

from __future__ import annotations

import json
from typing import Annotated, Any

from langchain_core.messages import BaseMessage, HumanMessage
from pydantic import Field

from builder.engine.i18n import gettext_noop
from builder.engine.nodes.base import ConfigIssue, ModelNodeConfig, NodeSpec
from builder.engine.nodes.long_term_memory import remembered, with_memories
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
    # Also keep a running summary of the turns older than the window (so long chats keep their
    # beginning), written by this node's model in about memory_summary_max_tokens at most.
    memory_summary: bool = False
    memory_summary_max_tokens: int = Field(default=500, ge=100, le=2000)
    # A JSON Schema object; when set the model must answer with JSON matching it (output "json").
    output_schema: Annotated[dict[str, Any] | None, VERBATIM] = None
    vision: bool = False
    # Add what the bot remembers about the user (facts from earlier conversations, the most relevant
    # to the user prompt, at most memory_recall_k) to the system prompt.
    long_term_memory: bool = False
    memory_recall_k: int = Field(default=5, ge=1, le=20)


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
        memories = await remembered(ctx, user, config.memory_recall_k) if config.long_term_memory else []
        system = with_memories(ctx, system, memories)
        history = await conversation_history(
            ctx,
            config.memory_window,
            summarise=config if config.memory_summary else None,
            summary_tokens=config.memory_summary_max_tokens,
        )
        images = image_urls(sys_value(ctx, "files")) if config.vision else []
        messages: list[BaseMessage] = [*history.prompt(system), HumanMessage(content=user_content(user, images))]
        inputs: dict[str, Any] = {"system_prompt": system, "user_prompt": user, **history.trace}
        if images:
            inputs["images"] = images
        if config.long_term_memory:
            inputs["long_term_memory"] = memories

        caller = ModelCaller(ctx, config)
        if config.output_schema is None:
            message = await caller.chat(messages)
            outputs: dict[str, Any] = {"text": message.text}
        else:
            parsed, message = await caller.structured(config.output_schema, messages)
            # The text is what streamed; a forced tool call (function_calling) streams none.
            outputs = {"text": message.text or json.dumps(parsed, ensure_ascii=False), "json": parsed}
        if history.usage is not None:  # the summarisation call's
            caller.usage.add(history.usage)
        outputs["usage"] = usage_output(caller.usage)
        return NodeResult(outputs=outputs, usage=caller.usage, inputs=inputs)
