"""start: where every run begins; its inputs are what the caller passes in."""

from __future__ import annotations

from pydantic import Field

from builder.engine.i18n import gettext_noop
from builder.engine.nodes.base import ConfigIssue, DataType, NodeConfig, NodeSpec, duplicate_issues
from builder.engine.nodes.registry import register
from builder.engine.runtime.contract import EntryContext, NodeContext, NodeError, NodeResult
from builder.engine.values import Identifier, StrictModel, coerce_value


class StartInput(StrictModel):
    name: Identifier
    type: DataType = "string"
    required: bool = False
    description: str = Field(default="", max_length=2000)


class StartConfig(NodeConfig):
    inputs: list[StartInput] = Field(default_factory=list, max_length=100)


@register
class StartNode(NodeSpec[StartConfig]):
    name = "start"
    version = 1
    title = gettext_noop("Start")
    description = gettext_noop("Where the run begins. Its outputs are the inputs the caller passes in.")
    config_model = StartConfig
    static_outputs = None
    is_entry = True

    def outputs(self, config: StartConfig) -> dict[str, str]:
        return {item.name: item.type for item in config.inputs}

    def check(self, config: StartConfig) -> list[ConfigIssue]:
        return duplicate_issues(config.inputs, lambda item: item.name, "inputs", "name")

    async def run(self, config: StartConfig, ctx: NodeContext) -> NodeResult:
        if not isinstance(ctx, EntryContext):
            raise NodeError("not_configured", "The start node needs the run's inputs.")
        given = ctx.run_inputs
        missing = [item.name for item in config.inputs if item.required and given.get(item.name) in (None, "")]
        if missing:
            raise NodeError(
                "missing_input", f"Missing required input(s): {', '.join(missing)}.", details={"inputs": missing}
            )
        outputs = {}
        for item in config.inputs:
            try:
                outputs[item.name] = coerce_value(given.get(item.name), item.type)
            except ValueError as error:
                raise NodeError(
                    "invalid_input", f"Input {item.name}: {error} ({item.type}).", details={"input": item.name}
                ) from error
        return NodeResult(outputs=outputs, inputs=dict(given))
