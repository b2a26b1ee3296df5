"""variable_aggregate: merge values from branches; each group yields its first non-empty reference."""

from __future__ import annotations

from pydantic import Field

from builder.engine.i18n import gettext_noop
from builder.engine.nodes.base import ConfigIssue, NodeConfig, NodeSpec, duplicate_issues
from builder.engine.nodes.registry import register
from builder.engine.runtime.contract import NodeContext, NodeResult
from builder.engine.values import Identifier, RefOnly, StrictModel


class AggregateGroup(StrictModel):
    name: Identifier
    refs: list[RefOnly] = Field(min_length=1, max_length=50)


class VariableAggregateConfig(NodeConfig):
    groups: list[AggregateGroup] = Field(min_length=1, max_length=50)


@register
class VariableAggregateNode(NodeSpec[VariableAggregateConfig]):
    name = "variable_aggregate"
    version = 1
    title = gettext_noop("Aggregate variables")
    description = gettext_noop("Take the value of whichever branch ran, under one name.")
    config_model = VariableAggregateConfig
    static_outputs = None

    def outputs(self, config: VariableAggregateConfig) -> dict[str, str]:
        return {group.name: "any" for group in config.groups}

    def check(self, config: VariableAggregateConfig) -> list[ConfigIssue]:
        return duplicate_issues(config.groups, lambda group: group.name, "groups", "name")

    async def run(self, config: VariableAggregateConfig, ctx: NodeContext) -> NodeResult:
        outputs = {}
        for group in config.groups:
            # The first reference with a value: the branch that ran (a skipped node resolves to None).
            values = (ctx.resolve(ref) for ref in group.refs)
            outputs[group.name] = next((value for value in values if value is not None), None)
        return NodeResult(outputs=outputs)
