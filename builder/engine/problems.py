"""What is wrong with a bot graph, in a shape the API can translate and the canvas can point at."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails

from builder.engine.i18n import gettext_noop

ProblemParams = dict[str, str | int]


class GraphProblem(BaseModel):
    """One problem. ``node_id``/``edge_id`` say what it is about, ``field`` where inside it.

    ``field`` is relative to the node or edge when one is named (``data.cases.0.id``, ``sourceHandle``),
    otherwise it is a path from the document root (``variables.2.name``, ``nodes.3.id``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    message: str
    template: str
    params: ProblemParams
    node_id: str | None = None
    edge_id: str | None = None
    field: str | None = None

    @classmethod
    def build(
        cls,
        code: str,
        template: str,
        *,
        node_id: str | None = None,
        edge_id: str | None = None,
        field: str | None = None,
        **params: str | int,
    ) -> GraphProblem:
        """A problem whose message is ``template % params``."""
        return cls.with_params(code, template, params, node_id=node_id, edge_id=edge_id, field=field)

    @classmethod
    def with_params(
        cls,
        code: str,
        template: str,
        params: ProblemParams,
        *,
        node_id: str | None = None,
        edge_id: str | None = None,
        field: str | None = None,
    ) -> GraphProblem:
        return cls(
            code=code,
            message=template % params,
            template=template,
            params=params,
            node_id=node_id,
            edge_id=edge_id,
            field=field,
        )


class GraphInvalid(Exception):
    """Raised with every problem found, so the user can fix them all in one go."""

    def __init__(self, problems: Sequence[GraphProblem]) -> None:
        self.problems = list(problems)
        summary = "; ".join(problem.message for problem in self.problems[:5])
        more = f" (+{len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        super().__init__(f"{len(self.problems)} problem(s) in the bot graph: {summary}{more}")


def problems_from_validation_error(
    error: ValidationError,
    *,
    data: Any,
    prefix: str = "",
    node_id: str | None = None,
    edge_id: str | None = None,
) -> list[GraphProblem]:
    """Translate pydantic's errors into problems with translatable messages and clean field paths.

    ``data`` is the input that was validated: it lets us drop the union/tag names pydantic puts in
    ``loc``, so ``field`` only contains keys and indexes the user can see in the document.
    """
    problems = []
    for detail in error.errors(include_url=False):
        code, template, params = describe_error(detail)
        path = ".".join(str(part) for part in _visible_loc(detail["loc"], data))
        field = ".".join(part for part in (prefix, path) if part) or None
        problems.append(GraphProblem.with_params(code, template, params, node_id=node_id, edge_id=edge_id, field=field))
    return problems


def describe_error(detail: ErrorDetails) -> tuple[str, str, ProblemParams]:
    """Map one pydantic error to (code, gettext_noop template, params)."""
    kind = detail["type"]
    ctx: dict[str, Any] = dict(detail.get("ctx") or {})
    if "template" in ctx:  # raised by our own validators through values.field_error()
        return kind, ctx["template"], dict(ctx.get("params") or {})
    if kind == "missing":
        return "missing_field", gettext_noop("This field is required."), {}
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return "missing_field", gettext_noop("This field is required."), {}
    if kind == "too_short" and ctx.get("min_length") == 1:
        return "missing_field", gettext_noop("Add at least one item."), {}
    known = _TEMPLATES.get(kind)
    if known is not None:
        return "invalid_field", known, {key: _param(value) for key, value in ctx.items()}
    return "invalid_field", gettext_noop("Invalid value: %(detail)s"), {"detail": detail["msg"]}


_TEMPLATES: dict[str, str] = {
    "string_too_short": gettext_noop("Must be at least %(min_length)s characters long."),
    "string_too_long": gettext_noop("Must be at most %(max_length)s characters long."),
    "too_short": gettext_noop("Add at least %(min_length)s items."),
    "too_long": gettext_noop("Must have at most %(max_length)s items."),
    "greater_than": gettext_noop("Must be greater than %(gt)s."),
    "greater_than_equal": gettext_noop("Must be greater than or equal to %(ge)s."),
    "less_than": gettext_noop("Must be less than %(lt)s."),
    "less_than_equal": gettext_noop("Must be less than or equal to %(le)s."),
    "literal_error": gettext_noop("Must be one of: %(expected)s."),
    "enum": gettext_noop("Must be one of: %(expected)s."),
    "string_pattern_mismatch": gettext_noop("Has an invalid format."),
    "extra_forbidden": gettext_noop("Unknown field."),
    "string_type": gettext_noop("Must be text."),
    "int_type": gettext_noop("Must be a whole number."),
    "int_parsing": gettext_noop("Must be a whole number."),
    "int_from_float": gettext_noop("Must be a whole number."),
    "float_type": gettext_noop("Must be a number."),
    "float_parsing": gettext_noop("Must be a number."),
    "finite_number": gettext_noop("Must be a finite number."),
    "bool_type": gettext_noop("Must be true or false."),
    "bool_parsing": gettext_noop("Must be true or false."),
    "dict_type": gettext_noop("Must be an object."),
    "model_type": gettext_noop("Must be an object."),
    "model_attributes_type": gettext_noop("Must be an object."),
    "list_type": gettext_noop("Must be a list."),
    "literal_type": gettext_noop("Must be one of: %(expected)s."),
}


def _param(value: Any) -> str | int:
    return value if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _visible_loc(loc: tuple[int | str, ...], data: Any) -> list[int | str]:
    parts: list[int | str] = []
    current = data
    for position, part in enumerate(loc):
        if _has_key(current, part):
            current = current[part]
        elif position == len(loc) - 1 and part != "[key]":
            current = None  # a missing or unknown key: name it
        else:
            continue  # a union member or tag name, or pydantic's "[key]" marker for dict keys
        parts.append(part)
    return parts


def _has_key(container: Any, part: int | str) -> bool:
    if isinstance(container, dict):
        return part in container
    return isinstance(container, list) and isinstance(part, int) and 0 <= part < len(container)
