"""variable_assign: write conversation or user variables."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from builder.engine.i18n import gettext_noop
from builder.engine.nodes.base import NodeConfig, NodeSpec
from builder.engine.nodes.registry import register
from builder.engine.values import VARIABLE_TARGET, StrictModel, Value

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
