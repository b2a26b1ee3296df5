"""variable_assign: write conversation or user variables."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from builder.engine.i18n import gettext_noop
from builder.engine.nodes.base import NodeConfig, NodeSpec
from builder.engine.nodes.registry import register
from builder.engine.runtime.contract import NodeContext, NodeResult, node_error
from builder.engine.values import VARIABLE_TARGET, Ref, StrictModel, Value

VariablePath = Annotated[str, StringConstraints(pattern=r"^(conv|user)\.[A-Za-z_][A-Za-z0-9_]*$", max_length=80)]


class Assignment(StrictModel):
    # "conv.<name>" or "user.<name>"; must name a declared variable (checked with the graph).
    variable: Annotated[VariablePath, VARIABLE_TARGET]
    value: Value = None
    mode: Literal["set", "append", "clear"] = "set"


class VariableAssignConfig(NodeConfig):
    assignments: list[Assignment] = Field(min_length=1, max_length=100)


@register
class VariableAssignNode(NodeSpec[VariableAssignConfig]):
    name = "variable_assign"
    version = 1
    title = gettext_noop("Set variables")
    description = gettext_noop("Set, append to or clear conversation and user variables.")
    config_model = VariableAssignConfig

    async def run(self, config: VariableAssignConfig, ctx: NodeContext) -> NodeResult:
        written: dict[str, Any] = {}
        for assignment in config.assignments:
            scope, _, name = assignment.variable.partition(".")
            current = ctx.resolve(Ref(ref=[scope, name]))
            value = _assigned(assignment, ctx.resolve(assignment.value), current)
            # The runtime converts the value to the variable's declared type (or fails the node).
            ctx.set_variable(scope, name, value)
            written[assignment.variable] = value
        return NodeResult(outputs={}, inputs=written)


def _assigned(assignment: Assignment, value: Any, current: Any) -> Any:
    if assignment.mode == "clear":
        return _empty_like(current)
    if assignment.mode == "set":
        return value
    if isinstance(current, str):
        return current + ("" if value is None else str(value))
    if current is None:
        return [value]
    if isinstance(current, list):
        return [*current, value]
    template = gettext_noop("Only a list or text can be appended to; %(variable)s is neither.")
    raise node_error("invalid_value", template, variable=assignment.variable)


def _empty_like(current: Any) -> Any:
    """The empty value of the variable's current type: "", 0, false, [] or {}."""
    for kind, empty in ((bool, False), (str, ""), (int, 0), (float, 0), (list, []), (dict, {})):
        if isinstance(current, kind):
            return empty
    return None
