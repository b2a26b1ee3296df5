"""condition: if / elif / else. Each case is a branch (its id is the handle); "else" catches the rest.

Operators compare loosely, the way a no-code user expects: ``"3" equals 3``, ``"true" is_true``, a
missing value (a node that did not run, a key that is not there) is empty and contains nothing.
Comparing what cannot be compared (``gt`` between a list and a number) fails the node with a message
instead of quietly choosing a branch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from builder.engine.i18n import gettext_noop
from builder.engine.nodes.base import ConfigIssue, NodeConfig, NodeSpec, duplicate_issues, reserved_issues
from builder.engine.nodes.registry import register
from builder.engine.runtime.contract import NodeContext, NodeResult, node_error, phrase
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

    async def run(self, config: ConditionConfig, ctx: NodeContext) -> NodeResult:
        for case in config.cases:
            if evaluate_group(case, ctx.resolve):
                return NodeResult(outputs={}, branch=case.id)
        return NodeResult(outputs={}, branch=ELSE_HANDLE)


def evaluate_group(group: ConditionGroup, resolve: Callable[[Any], Any]) -> bool:
    """Whether the group holds; ``resolve`` turns a Value (literal or reference) into its value."""
    results = (
        evaluate(condition.operator, resolve(condition.left), resolve(condition.right))
        for condition in group.conditions
    )
    return all(results) if group.logic == "and" else any(results)


def evaluate(operator: str, left: Any, right: Any) -> bool:
    """One condition: ``left <operator> right``."""
    if operator in _NEGATIONS:
        return not evaluate(_NEGATIONS[operator], left, right)
    return _OPERATORS[operator](left, right)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


_TRUE_WORDS = frozenset({"true", "yes", "1"})
_FALSE_WORDS = frozenset({"false", "no", "0", ""})


def _equals(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        other = right if isinstance(left, bool) else left
        flag = left if isinstance(left, bool) else right
        if isinstance(other, bool):
            return bool(left == right)
        if isinstance(other, str):
            word = other.strip().lower()
            return word in (_TRUE_WORDS if flag else _FALSE_WORDS - {""})
        return False
    if isinstance(left, str) and isinstance(right, str):
        return left == right
    if isinstance(left, int | float) or isinstance(right, int | float):
        a, b = _number(left), _number(right)
        return a is not None and b is not None and a == b
    return bool(left == right)


def _contains(left: Any, right: Any) -> bool:
    if left is None:
        return False
    if isinstance(left, str):
        return right is not None and _text(right) in left
    if isinstance(left, list | tuple):
        return any(_equals(item, right) for item in left)
    if isinstance(left, Mapping):
        return _text(right) in left
    template = gettext_noop("contains needs text, a list or an object, not %(kind)s.")
    raise node_error("invalid_condition", template, kind=_kind(left))


def _in(left: Any, right: Any) -> bool:
    if right is None:
        return False
    if isinstance(right, str):
        return left is not None and _text(left) in right
    if isinstance(right, list | tuple):
        return any(_equals(left, item) for item in right)
    if isinstance(right, Mapping):
        return _text(left) in right
    template = gettext_noop("in needs text, a list or an object on the right, not %(kind)s.")
    raise node_error("invalid_condition", template, kind=_kind(right))


def _starts_with(left: Any, right: Any) -> bool:
    if isinstance(left, list | tuple):
        return bool(left) and _equals(left[0], right)
    return left is not None and _text(left).startswith(_text(right))


def _ends_with(left: Any, right: Any) -> bool:
    if isinstance(left, list | tuple):
        return bool(left) and _equals(left[-1], right)
    return left is not None and _text(left).endswith(_text(right))


def _compare(check: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(left: Any, right: Any) -> bool:
        if left is None or right is None:
            return False
        a, b = _number(left), _number(right)
        if a is not None and b is not None:
            return check(a, b)
        if isinstance(left, str) and isinstance(right, str):
            return check(left, right)
        template = gettext_noop("Cannot compare %(left)s with %(right)s.")
        raise node_error("invalid_condition", template, left=_kind(left), right=_kind(right))

    return compare


def _is_empty(left: Any, right: Any) -> bool:
    return left is None or (isinstance(left, str | list | tuple | Mapping) and len(left) == 0)


def _is_true(left: Any, right: Any) -> bool:
    if isinstance(left, bool):
        return left
    if isinstance(left, str):
        return left.strip().lower() in _TRUE_WORDS
    if isinstance(left, int | float):
        return left != 0
    return False


def _is_false(left: Any, right: Any) -> bool:
    if left is None or isinstance(left, bool):
        return not left
    if isinstance(left, str):
        return left.strip().lower() in _FALSE_WORDS
    if isinstance(left, int | float):
        return left == 0
    if isinstance(left, list | tuple | Mapping):
        return len(left) == 0
    return False


def _length(check: Callable[[int, float], bool]) -> Callable[[Any, Any], bool]:
    def compare(left: Any, right: Any) -> bool:
        if left is None:
            size = 0
        elif isinstance(left, str | list | tuple | Mapping):
            size = len(left)
        else:
            raise node_error("invalid_condition", gettext_noop("%(kind)s has no length."), kind=_kind(left))
        expected = _number(right)
        if expected is None:
            template = gettext_noop("A length is compared with a number, not %(kind)s.")
            raise node_error("invalid_condition", template, kind=_kind(right))
        return check(size, expected)

    return compare


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def _kind(value: Any) -> dict[str, Any] | str:
    """What ``value`` is, for an error message (translatable, but for a Python type's name)."""
    if value is None:
        return phrase(gettext_noop("nothing"))
    if isinstance(value, bool):
        return phrase(gettext_noop("a boolean"))
    if isinstance(value, int | float):
        return phrase(gettext_noop("a number"))
    if isinstance(value, str):
        return phrase(gettext_noop("a text value"))
    if isinstance(value, list | tuple):
        return phrase(gettext_noop("a list"))
    if isinstance(value, Mapping):
        return phrase(gettext_noop("an object"))
    return type(value).__name__


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "equals": _equals,
    "contains": _contains,
    "starts_with": _starts_with,
    "ends_with": _ends_with,
    "gt": _compare(lambda a, b: a > b),
    "gte": _compare(lambda a, b: a >= b),
    "lt": _compare(lambda a, b: a < b),
    "lte": _compare(lambda a, b: a <= b),
    "is_empty": _is_empty,
    "is_true": _is_true,
    "is_false": _is_false,
    "length_equals": _length(lambda size, n: size == n),
    "length_gt": _length(lambda size, n: size > n),
    "length_lt": _length(lambda size, n: size < n),
    "in": _in,
}
_NEGATIONS = {"not_equals": "equals", "not_contains": "contains", "is_not_empty": "is_empty", "not_in": "in"}
