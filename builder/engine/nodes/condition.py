"""condition: if / elif / else. Each case is a branch (its id is the handle); "else" catches the rest."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from builder.engine.i18n import gettext_noop
from builder.engine.nodes.base import ConfigIssue, NodeConfig, NodeSpec, duplicate_issues, reserved_issues
from builder.engine.nodes.registry import register
from builder.engine.values import HandleId, RefOnly, StrictModel, Value, field_error

ELSE_HANDLE = "else"
UNARY_OPERATORS = frozenset({"is_empty", "is_not_empty", "is_true", "is_false"})
Operator = Literal[
    "equals",
    "not_equals",
    "contains",
    "not_contains",
    "starts_with",
    "ends_with",
    "gt",
    "gte",
    "lt",
    "lte",
    "is_empty",
    "is_not_empty",
    "is_true",
    "is_false",
    "length_equals",
    "length_gt",
    "length_lt",
    "in",
    "not_in",
]


class Condition(StrictModel):
    left: RefOnly
    operator: Operator
    # Required unless the operator is unary; a literal or a reference.
    right: Value = Field(default=None, validate_default=True)

    @field_validator("right")
    @classmethod
    def _right_for_binary(cls, value: Any, info: ValidationInfo) -> Any:
        operator = info.data.get("operator")
        if value is None and operator is not None and operator not in UNARY_OPERATORS:
            template = gettext_noop("The operator %(operator)s needs a value to compare with.")
            raise field_error("missing_field", template, operator=operator)
        return value


class ConditionGroup(StrictModel):
    """Conditions joined by and/or; also the shape of a loop's break condition."""

    logic: Literal["and", "or"] = "and"
    conditions: list[Condition] = Field(min_length=1, max_length=50)


class Case(ConditionGroup):
    id: HandleId


class ConditionConfig(NodeConfig):
    cases: list[Case] = Field(min_length=1, max_length=50)


@register
class ConditionNode(NodeSpec[ConditionConfig]):
    name = "condition"
    version = 1
    title = gettext_noop("Condition")
    description = gettext_noop("Branch on conditions: the first case that holds wins, otherwise else.")
    config_model = ConditionConfig
    handles_doc = gettext_noop("One handle per case id, plus else.")

    def branches(self, config: ConditionConfig) -> list[str]:
        return [case.id for case in config.cases] + [ELSE_HANDLE]

    def check(self, config: ConditionConfig) -> list[ConfigIssue]:
        return duplicate_issues(config.cases, lambda case: case.id, "cases", "id") + reserved_issues(
            config.cases, lambda case: case.id, {ELSE_HANDLE, "error"}, "cases", "id"
        )
