"""sub_bot: call another bot or workflow and use its answer and outputs."""

from __future__ import annotations

from pydantic import Field

from builder.engine.i18n import gettext_noop
from builder.engine.nodes.base import NodeConfig, NodeSpec
from builder.engine.nodes.registry import register
from builder.engine.runtime.contract import NodeContext, NodeResult, node_error
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

    async def run(self, config: SubBotConfig, ctx: NodeContext) -> NodeResult:
        if ctx.services.sub_bots is None:
            raise node_error("not_configured", gettext_noop("Calling other bots is not available in this run."))
        inputs = ctx.resolve(config.inputs)
        result = await ctx.services.sub_bots.run(config.bot_id, inputs, ctx)
        outputs = {"answer": str(result.get("answer") or ""), "outputs": dict(result.get("outputs") or {})}
        return NodeResult(outputs=outputs, inputs=inputs)
