"""code: run a Python function in the sandbox (module named code_node so it does not shadow stdlib code)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from builder.engine.i18n import gettext_noop
from builder.engine.nodes.base import ConfigIssue, DataType, NodeConfig, NodeSpec, duplicate_issues
from builder.engine.nodes.registry import register
from builder.engine.runtime.contract import NodeContext, NodeResult, node_error
from builder.engine.values import VERBATIM, Identifier, RequiredText, StrictModel, Value, value_matches_type

# Without a timeout in the node's error policy (the sandbox caps it at its own maximum).
DEFAULT_TIMEOUT_S = 10.0


class CodeOutput(StrictModel):
    name: Identifier
    type: DataType = "string"


class CodeConfig(NodeConfig):
    language: Literal["python"] = "python"
    # Python source, not a template: "{{" in it is Python, not a reference.
    code: Annotated[RequiredText, VERBATIM]
    inputs: dict[Identifier, Value] = Field(default_factory=dict, max_length=100)
    outputs: list[CodeOutput] = Field(min_length=1, max_length=100)


@register
class CodeNode(NodeSpec[CodeConfig]):
    name = "code"
    version = 1
    title = gettext_noop("Code")
    description = gettext_noop("Run Python code in a sandbox; it returns the declared outputs.")
    config_model = CodeConfig
    static_outputs = None

    def outputs(self, config: CodeConfig) -> dict[str, str]:
        return {output.name: output.type for output in config.outputs}

    def check(self, config: CodeConfig) -> list[ConfigIssue]:
        return duplicate_issues(config.outputs, lambda output: output.name, "outputs", "name")

    async def run(self, config: CodeConfig, ctx: NodeContext) -> NodeResult:
        sandbox = ctx.services.code
        if sandbox is None:
            raise node_error("not_configured", gettext_noop("Code cannot run here: no code sandbox is configured."))
        inputs = {name: ctx.resolve(value) for name, value in config.inputs.items()}
        returned = await sandbox.run(config.code, inputs, timeout_s=config.error.timeout_s or DEFAULT_TIMEOUT_S)
        return NodeResult(outputs=declared_outputs(config.outputs, returned), inputs=inputs)


def declared_outputs(declared: list[CodeOutput], returned: dict[str, Any]) -> dict[str, Any]:
    """The declared outputs from what main() returned, each checked against its type.

    Only lossless conversions are made (a whole float for an integer); anything else is the code's
    mistake, named so the user can fix it. Keys main() returned but did not declare are dropped:
    nothing downstream can refer to them.
    """
    outputs = {}
    for output in declared:
        if output.name not in returned:
            template = gettext_noop("main() did not return the output %(output)s.")
            raise node_error("code_bad_result", template, details={"output": output.name}, output=output.name)
        value = _conformed(returned[output.name], output.type)
        if value is _MISMATCH:
            got = type(returned[output.name]).__name__
            template = gettext_noop("The output %(output)s must be of type %(type)s, not %(got)s.")
            raise node_error(
                "code_bad_result",
                template,
                details={"output": output.name},
                output=output.name,
                type=output.type,
                got=got,
            )
        outputs[output.name] = value
    return outputs


_MISMATCH = object()
_ITEM_TYPES = {"array[string]": "string", "array[number]": "number", "array[object]": "object"}


def _conformed(value: Any, type_name: str) -> Any:
    if type_name == "integer" and isinstance(value, float) and value.is_integer():
        return int(value)
    if not value_matches_type(value, type_name):
        return _MISMATCH
    item_type = _ITEM_TYPES.get(type_name)
    if item_type is not None and any(not value_matches_type(item, item_type) or item is None for item in value):
        return _MISMATCH
    return value
