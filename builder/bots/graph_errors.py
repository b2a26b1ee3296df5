"""Turn the engine's graph problems into the API's error shape, translated."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from builder.core.exceptions import ValidationFailed
from builder.engine.dsl import GraphProblem


def problem_message(problem: GraphProblem) -> str:
    """The engine marks its English templates for extraction; we translate them here."""
    return _(problem.template) % problem.params


def problem_payload(problem: GraphProblem) -> dict[str, Any]:
    return {
        "code": problem.code,
        "message": problem_message(problem),
        "node_id": problem.node_id,
        "edge_id": problem.edge_id,
        "field": problem.field,
    }


def graph_invalid_error(problems: list[GraphProblem], *, field_prefix: str = "draft") -> ValidationFailed:
    fields: dict[str, list[str]] = {}
    for problem in problems:
        where = ".".join(
            part
            for part in (
                field_prefix,
                f"nodes.{problem.node_id}" if problem.node_id else "",
                f"edges.{problem.edge_id}" if problem.edge_id else "",
                problem.field or "",
            )
            if part
        )
        fields.setdefault(where, []).append(problem_message(problem))
    return ValidationFailed(
        _("The bot graph is invalid."),
        code="invalid_graph",
        fields=fields,
        extra={"problems": [problem_payload(problem) for problem in problems]},
    )
