"""agent: an LLM that decides which tools, knowledge bases and other bots to call."""

from __future__ import annotations

from pydantic import Field

from builder.engine.i18n import gettext_noop
from builder.engine.nodes.base import ModelNodeConfig, NodeSpec
from builder.engine.nodes.registry import register
from builder.engine.values import ResourceId, StrictModel, Template


class ToolChoice(StrictModel):
    plugin: ResourceId
    tool: ResourceId


class AgentConfig(ModelNodeConfig):
    instructions: Template = ""
    # What the agent works on; empty means the user's message.
    query: Template = ""
    tools: list[ToolChoice] = Field(default_factory=list, max_length=128)
    knowledge_bases: list[ResourceId] = Field(default_factory=list, max_length=50)
    bots: list[ResourceId] = Field(default_factory=list, max_length=20)
    max_iterations: int = Field(default=10, ge=1, le=50)


@register
class AgentNode(NodeSpec[AgentConfig]):
    name = "agent"
    version = 1
    title = gettext_noop("Agent")
    description = gettext_noop("A model that calls tools, knowledge bases and other bots until it can answer.")
    config_model = AgentConfig
    static_outputs = {"text": "string", "tool_calls": "array[object]"}
