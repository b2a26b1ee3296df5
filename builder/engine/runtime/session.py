"""One run's bookkeeping: event numbering, open nodes, the answer stream, cancellation.

The compiled graph is shared by every run of a bot; everything that belongs to one run lives here
and reaches the LangGraph nodes as the run's ``context`` (``Runtime[RunSession]``).

Events are emitted in batches under a lock: ``seq`` is consecutive and the host's ``emit`` sees
events in ``seq`` order even when parallel branches report at the same time. Whatever a batch
contains is decided synchronously before it waits for the lock, so two batches never interleave.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from builder.engine.i18n import gettext_noop
from builder.engine.runtime.contract import RuntimeServices, Usage
from builder.engine.runtime.events import (
    ErrorInfo,
    FileInfo,
    MessageCompleted,
    MessageDelta,
    NodeDelta,
    NodeFailed,
    NodeFinished,
    NodeStarted,
    RunEvent,
    RunFailed,
    RunFinished,
    RunPaused,
    RunStarted,
    ToolFile,
    ToolProgress,
    UsageInfo,
)
from builder.engine.runtime.limits import RunBudget
from builder.engine.runtime.plan import GraphPlan, NodePlan
from builder.engine.runtime.streaming import AnswerStream, Delta

Emit = Callable[[RunEvent], Awaitable[None]]
CANCELLED = ErrorInfo.from_template("cancelled", gettext_noop("The run was cancelled."))
_Pending = list[tuple[type[Any], dict[str, Any]]]


@dataclass
class _OpenNode:
    node: NodePlan
    started: float  # perf_counter
    attempt: int = 1


def usage_info(usage: Usage | None) -> UsageInfo | None:
    return None if usage is None else UsageInfo(**asdict(usage))


class RunSession:
    def __init__(
        self,
        *,
        plan: GraphPlan,
        run_id: str,
        emit: Emit,
        first_seq: int,
        services: RuntimeServices,
        run_inputs: Mapping[str, Any],
        cancel: asyncio.Event | None,
        can_pause: bool,
        budget: RunBudget,
    ) -> None:
        self.plan = plan
        # What the run may still spend (steps, time, CPU): see limits.py.
        self.budget = budget
        self.run_id = run_id
        self.services = services
        self.run_inputs = run_inputs
        self.can_pause = can_pause
        self._emit = emit
        self._seq = first_seq
        self._lock = asyncio.Lock()
        self._cancel = cancel
        self._tokens = itertools.count()
        self._open: dict[int, _OpenNode] = {}
        self.stream = AnswerStream(plan)
        self.message: list[str] = []
        # Files tools produced in this leg of the run: message.completed carries them.
        self.files: list[FileInfo] = []
        # A question resumed after a pause already has its node.started in the log.
        self.already_started: set[str] = set()
        # The first node whose failure fails the run (the others still running are stopped).
        self.failed_node: str | None = None

    @property
    def last_seq(self) -> int:
        return self._seq - 1

    @property
    def cancel_event(self) -> asyncio.Event | None:
        return self._cancel

    def cancelled(self) -> bool:
        return self._cancel is not None and self._cancel.is_set()

    def stop_reason(self) -> ErrorInfo:
        """Why a node still running is being stopped."""
        if self.cancelled():
            return CANCELLED
        if (over_limit := self.budget.over_limit()) is not None:
            return over_limit
        if self.failed_node is not None:
            return ErrorInfo.from_template(
                "cancelled", gettext_noop("Stopped because %(node_id)s failed."), node_id=self.failed_node
            )
        return CANCELLED

    async def _flush(self, pending: _Pending) -> None:
        if not pending:
            return
        async with self._lock:
            for event_class, fields in pending:
                event = event_class(run_id=self.run_id, seq=self._seq, at=time.time(), **fields)
                self._seq += 1
                await self._emit(event)

    def _messages(self, deltas: list[Delta]) -> _Pending:
        pending: _Pending = []
        for node_id, text in deltas:
            self.message.append(text)
            pending.append((MessageDelta, {"node_id": node_id, "text": text}))
        return pending

    # --- nodes -----------------------------------------------------------------------------------------

    def open_node(self, node: NodePlan) -> int:
        token = next(self._tokens)
        self._open[token] = _OpenNode(node, time.perf_counter())
        return token

    async def attempt_started(self, token: int, attempt: int) -> None:
        entry = self._open.get(token)
        if entry is None:
            return
        entry.attempt = attempt
        node = entry.node
        pending: _Pending = []
        if attempt == 1 and node.id in self.already_started:
            self.already_started.discard(node.id)
        else:
            fields = {"node_id": node.id, "node_type": node.type_name, "title": node.title, "attempt": attempt}
            pending.append((NodeStarted, fields))
        if node.parent is None:
            pending += self._messages(self.stream.node_started(node.id, attempt))
        await self._flush(pending)

    async def node_finished(
        self,
        token: int,
        *,
        inputs: dict[str, Any],
        outputs: dict[str, Any],
        route: str | None,
        branch: str | None,
        usage: Usage | None,
        variables: Mapping[str, dict[str, Any]],
        error: ErrorInfo | None = None,
    ) -> None:
        entry = self._open.pop(token, None)
        if entry is None:
            return  # already closed (the run was cancelled under it)
        node = entry.node
        fields = {
            "node_id": node.id,
            "node_type": node.type_name,
            "inputs": inputs,
            "outputs": outputs,
            "latency_ms": (time.perf_counter() - entry.started) * 1000,
            "usage": usage_info(usage),
            "branch": branch,
            "attempts": entry.attempt,
            "error": error,
        }
        pending: _Pending = [(NodeFinished, fields)]
        pending += self._messages(self.stream.node_finished(node.id, route, outputs, variables))
        await self._flush(pending)

    async def node_failed(
        self, token: int, error: ErrorInfo, *, handled: bool, outputs: dict[str, Any] | None = None
    ) -> None:
        entry = self._open.pop(token, None)
        if entry is None:
            return
        node = entry.node
        fields = {
            "node_id": node.id,
            "node_type": node.type_name,
            "error": error,
            "latency_ms": (time.perf_counter() - entry.started) * 1000,
            "attempts": entry.attempt,
            "handled": handled,
        }
        pending: _Pending = [(NodeFailed, fields)]
        if handled:
            pending += self._messages(self.stream.node_finished(node.id, "error", outputs or {}, {}))
        await self._flush(pending)

    async def node_skipped(self, node: NodePlan) -> None:
        await self._flush(self._messages(self.stream.node_skipped(node.id)))

    async def node_delta(self, node: NodePlan, data: Mapping[str, Any]) -> None:
        pending: _Pending = [(NodeDelta, {"node_id": node.id, "data": dict(data)})]
        if node.parent is None:
            pending += self._messages(self.stream.node_delta(node.id, data))
        await self._flush(pending)

    async def message_delta(self, node: NodePlan, text: str) -> None:
        if node.is_answer:
            self.stream.answer_text(node.id, text)
        else:
            # Only answers speak to the user; other nodes' text reaches them through an answer.
            await self.node_delta(node, {"text": text})

    async def tool_progress(self, node: NodePlan, tool: str, percent: float | None, note: str) -> None:
        if percent is not None:
            percent = min(max(float(percent), 0.0), 100.0)
        fields = {"node_id": node.id, "tool": tool, "percent": percent, "note": note}
        await self._flush([(ToolProgress, fields)])

    async def tool_file(self, tool: str, file: FileInfo) -> None:
        self.files.append(file)
        await self._flush([(ToolFile, {"tool": tool, **file.model_dump()})])

    async def close_open_nodes(self, error: ErrorInfo) -> None:
        """Fail every node still running (cancel, or a sibling's failure ended the run)."""
        while self._open:
            token = next(iter(self._open))
            await self.node_failed(token, error, handled=False)

    # --- the run ---------------------------------------------------------------------------------------

    async def run_started(self, *, resumed: bool) -> None:
        await self._flush([(RunStarted, {"resumed": resumed})])

    async def start_stream(self, values: Mapping[str, Any], *, resumed: bool) -> None:
        if resumed:
            self.stream.restore(values)
        else:
            deltas = self.stream.start(sys=values["sys"], conv=values["conv"], user=values["user"])
            await self._flush(self._messages(deltas))

    async def run_finished(self, *, outputs: dict[str, Any], usage: Usage, latency_ms: float) -> None:
        pending = self._messages(self.stream.flush())
        answer = "".join(self.message)
        pending.append((MessageCompleted, {"text": answer, "files": list(self.files)}))
        fields = {"answer": answer, "outputs": outputs, "usage": usage_info(usage), "latency_ms": latency_ms}
        pending.append((RunFinished, fields))
        await self._flush(pending)

    async def run_paused(self, *, node_id: str, question: dict[str, Any]) -> None:
        pending = self._messages(self.stream.flush())
        if self.message or self.files:
            pending.append((MessageCompleted, {"text": "".join(self.message), "files": list(self.files)}))
        pending.append((RunPaused, {"node_id": node_id, "question": question}))
        await self._flush(pending)

    async def run_failed(self, *, error: ErrorInfo, node_id: str | None) -> None:
        await self._flush([(RunFailed, {"error": error, "node_id": node_id})])
