"""answer: streams a message to the user."""

from __future__ import annotations

from builder.engine.i18n import gettext_noop
from builder.engine.nodes.base import NodeConfig, NodeSpec
from builder.engine.nodes.registry import register
from builder.engine.runtime.contract import NodeContext, NodeResult
from builder.engine.values import RequiredTemplate


class AnswerConfig(NodeConfig):
    text: RequiredTemplate


@register
class AnswerNode(NodeSpec[AnswerConfig]):
    name = "answer"
    version = 1
    title = gettext_noop("Answer")
    description = gettext_noop("Send a message to the user; the run may continue after it.")
    config_model = AnswerConfig
    is_output = True
    static_outputs = {"text": "string"}

    async def run(self, config: AnswerConfig, ctx: NodeContext) -> NodeResult:
        # The runtime's answer stream decides when the user sees it (maybe partly before this runs).
        text = ctx.render(config.text)
        await ctx.emit_message_delta(text)
        return NodeResult(outputs={"text": text})
