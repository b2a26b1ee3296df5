"""template: render a Jinja2 template into text."""

from __future__ import annotations

from builder.engine.i18n import gettext_noop
from builder.engine.nodes.base import NodeConfig, NodeSpec
from builder.engine.nodes.registry import register
from builder.engine.runtime.contract import NodeContext, NodeResult
from builder.engine.values import RequiredTemplate


class TemplateConfig(NodeConfig):
    template: RequiredTemplate


@register
class TemplateNode(NodeSpec[TemplateConfig]):
    name = "template"
    version = 1
    title = gettext_noop("Template")
    description = gettext_noop("Combine values into text with a template.")
    config_model = TemplateConfig
    static_outputs = {"text": "string"}

    async def run(self, config: TemplateConfig, ctx: NodeContext) -> NodeResult:
        return NodeResult(outputs={"text": ctx.render(config.template)})
