"""The concrete ``NodeContext``: one per attempt of one node, over the pool the node was handed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from langgraph.types import interrupt

from builder.engine.i18n import gettext_noop
from builder.engine.runtime.contract import RuntimeServices, node_error, phrase
from builder.engine.runtime.events import FileInfo
from builder.engine.runtime.pool import VariablePool
from builder.engine.values import CoercionError, coerce_value

if TYPE_CHECKING:
    from builder.engine.runtime.plan import NodePlan
    from builder.engine.runtime.session import RunSession

SCOPES = {"conv": "conv", "conversation": "conv", "user": "user"}


class RunNodeContext:
    """Implements ``contract.NodeContext`` (and ``EntryContext`` for the start node)."""

    def __init__(self, session: RunSession, node: NodePlan, pool: VariablePool) -> None:
        self.node_id = node.id
        self.run_id = session.run_id
        self.services: RuntimeServices = session.services
        self.run_inputs: Mapping[str, Any] = session.run_inputs
        self._session = session
        self._node = node
        self._pool = pool
        # What the node read (reference → value): the trace's "inputs" when the node reports none.
        self.reads: dict[str, Any] = {}
        # Conversation/user variables written by this attempt; applied only if it succeeds.
        self.variables: dict[str, dict[str, Any]] = {}

    @property
    def pool(self) -> VariablePool:
        return self._pool

    def resolve(self, value: Any) -> Any:
        return self._pool.resolve(value, self.reads)

    def render(self, template: str) -> str:
        return self._pool.render(template, self.reads)

    async def emit_message_delta(self, text: str) -> None:
        await self._session.message_delta(self._node, text)

    async def emit_node_delta(self, data: Mapping[str, Any]) -> None:
        await self._session.node_delta(self._node, data)

    async def emit_tool_progress(self, tool: str, percent: float | None, note: str = "") -> None:
        await self._session.tool_progress(self._node, tool, percent, note)

    async def emit_tool_file(
        self, tool: str, *, url: str, name: str, content_type: str, size: int | None = None, field: str = ""
    ) -> None:
        file = FileInfo(node_id=self._node.id, url=url, name=name, content_type=content_type, size=size, field=field)
        await self._session.tool_file(tool, file)

    def set_variable(self, scope: str, name: str, value: Any) -> None:
        prefix = SCOPES.get(scope)
        if prefix is None:
            raise node_error(
                "invalid_variable", gettext_noop("Variables live in conv or user, not %(scope)s."), scope=scope
            )
        declared = self._session.plan.graph.variable(prefix, name)
        if declared is None:
            raise node_error(
                "unknown_variable", gettext_noop("There is no variable %(variable)s."), variable=f"{prefix}.{name}"
            )
        try:
            value = coerce_value(value, declared.type)
        except CoercionError as error:
            raise node_error(
                "invalid_value",
                gettext_noop("The value for %(variable)s is not valid: %(error)s (%(type)s)."),
                variable=f"{prefix}.{name}",
                error=phrase(error.template, **error.params),
                type=declared.type,
            ) from error
        self.variables.setdefault(prefix, {})[name] = value
        # Later reads by the same node see the write.
        self._pool = self._pool.with_variables(
            {**self._pool.conv, **self.variables.get("conv", {})},
            {**self._pool.user, **self.variables.get("user", {})},
        )

    def ask(self, question: Mapping[str, Any]) -> Any:
        if self._node.parent is not None:
            raise node_error("not_supported", gettext_noop("A question cannot be asked inside a loop or an iteration."))
        if not self._session.can_pause:
            raise node_error("not_configured", gettext_noop("This run cannot pause: the runner has no checkpointer."))
        return interrupt({"node_id": self.node_id, "question": dict(question)})

    def cancelled(self) -> bool:
        return self._session.cancelled()
