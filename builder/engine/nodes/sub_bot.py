"""sub_bot: call another bot or workflow and use its answer and outputs."""

from __future__ import annotations

from pydantic import Field

from builder.engine.i18n import gettext_noop
from builder.engine.nodes.base import NodeConfig, NodeSpec
from builder.engine.nodes.registry import register
from builder.engine.values import Identifier, ResourceId, Value


class SubBotConfig(NodeConfig):
    bot_id: ResourceId
    # The called bot's start inputs (checked against that bot when it is known, not here).
    inputs: dict[Identifier, Value] = Field(default_factory=dict, max_length=100)


@register
class SubBotNode(NodeSpec[SubBotConfig]):
    name = "sub_bot"
    version = 1
    title = gettext_noop("Bot")
    description = gettext_noop("Call another bot or workflow.")
    config_model = SubBotConfig
    static_outputs = {"answer": "string", "outputs": "object"}
