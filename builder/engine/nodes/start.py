"""start: where every run begins; its inputs are what the caller passes in."""

from __future__ import annotations

from pydantic import Field

from builder.engine.i18n import gettext_noop
from builder.engine.nodes.base import ConfigIssue, DataType, NodeConfig, NodeSpec, duplicate_issues
from builder.engine.nodes.registry import register
from builder.engine.runtime.contract import EntryContext, NodeContext, NodeResult, node_error, phrase
from builder.engine.values import CoercionError, Identifier, StrictModel, coerce_value


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
            raise node_error("not_configured", gettext_noop("The start node needs the run's inputs."))
        given = ctx.run_inputs
        missing = [item.name for item in config.inputs if item.required and given.get(item.name) in (None, "")]
        if missing:
            template = gettext_noop("Missing required input(s): %(inputs)s.")
            raise node_error("missing_input", template, details={"inputs": missing}, inputs=", ".join(missing))
        outputs = {}
        for item in config.inputs:
            try:
                outputs[item.name] = coerce_value(given.get(item.name), item.type)
            except CoercionError as error:
                raise node_error(
                    "invalid_input",
                    gettext_noop("The input %(input)s is not valid: %(error)s (%(type)s)."),
                    details={"input": item.name},
                    input=item.name,
                    error=phrase(error.template, **error.params),
                    type=item.type,
                ) from error
        return NodeResult(outputs=outputs, inputs=dict(given))
