"""end: the workflow's final outputs."""

from __future__ import annotations

from pydantic import Field

from builder.engine.i18n import gettext_noop
from builder.engine.nodes.base import ConfigIssue, NodeConfig, NodeSpec, duplicate_issues
from builder.engine.nodes.registry import register
from builder.engine.runtime.contract import NodeContext, NodeResult
from builder.engine.values import Identifier, StrictModel, Value


class EndOutput(StrictModel):
    name: Identifier
    value: Value = None


class EndConfig(NodeConfig):
    outputs: list[EndOutput] = Field(default_factory=list, max_length=100)


@register
class EndNode(NodeSpec[EndConfig]):
    name = "end"
    version = 1
    title = gettext_noop("End")
    description = gettext_noop("Finish the run and return its outputs.")
    config_model = EndConfig
    static_outputs = None
    is_output = True
    is_terminal = True
    handles_doc = gettext_noop("No outgoing handle.")

    def outputs(self, config: EndConfig) -> dict[str, str]:
        return {item.name: "any" for item in config.outputs}

    def check(self, config: EndConfig) -> list[ConfigIssue]:
        return duplicate_issues(config.outputs, lambda item: item.name, "outputs", "name")

    async def run(self, config: EndConfig, ctx: NodeContext) -> NodeResult:
        # These outputs become the run's outputs.
        return NodeResult(outputs={item.name: ctx.resolve(item.value) for item in config.outputs})
