"""The public API of the runtime: run a bot graph (or resume a paused run) and stream its events.

::

    runner = GraphRunner(graph, services, checkpointer=saver)     # compiles once; reuse it
    outcome = await runner.run(RunRequest(run_id=..., thread_id=..., query="hi"), emit)
    if outcome.status == "paused":                                  # a question node asked something
        outcome = await runner.run(RunRequest(..., first_seq=outcome.last_seq + 1), emit, resume="yes")

``emit`` receives every event in order, with consecutive ``seq``; a run always ends with exactly one
of ``run.finished``, ``run.paused`` or ``run.failed`` (a cancel is ``run.failed`` with code
``cancelled``). A resumed run may be handled by a new runner in another process: the checkpointer
and the thread id are all it needs.

A runner is safe to share between concurrent runs: nothing per run is kept on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.types import Command

from builder.engine.graph import BotGraph
from builder.engine.i18n import gettext_noop
from builder.engine.runtime.compiler import CompiledBotGraph, node_id_of
from builder.engine.runtime.contract import UNEXPECTED_ERROR, RuntimeServices, Usage
from builder.engine.runtime.events import ErrorInfo, RunEvent
from builder.engine.runtime.limits import RunBudget, RunLimitExceeded, RunLimits
from builder.engine.runtime.policy import NodeFailure
from builder.engine.runtime.session import CANCELLED, RunSession

logger = logging.getLogger(__name__)

RunStatus = Literal["finished", "paused", "failed", "cancelled"]


@dataclass
class RunRequest:
    run_id: str
    thread_id: str  # checkpoint thread (one per run; resume uses the same)
    query: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)  # start node inputs
    sys: dict[str, Any] = field(default_factory=dict)  # user_id, conversation_id, files, now (query is added)
    conv: dict[str, Any] = field(default_factory=dict)  # conversation variables (missing ones get defaults)
    user: dict[str, Any] = field(default_factory=dict)  # user variables
    first_seq: int = 1  # events are numbered from here (a resumed run continues the numbering)
    limits: RunLimits = field(default_factory=RunLimits)  # the most this leg may spend (limits.py)


@dataclass
class RunOutcome:
    status: RunStatus
    answer: str  # everything streamed by answer nodes in this run (or this leg of a resumed run)
    outputs: dict[str, Any]  # end node outputs
    conv: dict[str, Any]  # conversation variables after the run (to persist)
    user: dict[str, Any]
    usage: Usage
    last_seq: int
    error: ErrorInfo | None
    paused_node_id: str | None


class GraphRunner:
    def __init__(
        self, graph: BotGraph, services: RuntimeServices, *, checkpointer: BaseCheckpointSaver[Any] | None = None
    ) -> None:
        self.graph = graph
        self.services = services
        self.checkpointer = checkpointer
        self._compiled = CompiledBotGraph(graph, checkpointer)

    async def run(
        self,
        request: RunRequest,
        emit: Callable[[RunEvent], Awaitable[None]],
        *,
        resume: Any = None,
        cancel: asyncio.Event | None = None,
        services: RuntimeServices | None = None,
    ) -> RunOutcome:
        """Run the graph (or, with ``resume``, answer the paused question and go on).

        ``services`` replaces the runner's for this run only, so one compiled runner can serve runs
        that each need their own (the host's conversation memory, say).
        """
        session, config = self._session(request, emit, cancel, services)
        started = time.perf_counter()
        resumed = resume is not None
        graph_input: dict[str, Any] | Command[Any]
        await session.run_started(resumed=resumed)
        if resumed:
            prepared = await self._prepare_resume(session, config, resume)
            if isinstance(prepared, ErrorInfo):
                return await self._failed(session, prepared, None, self._initial_state(request))
            graph_input, values = prepared
        else:
            values = self._initial_state(request)
            graph_input = values
        return await self._execute(session, config, graph_input, values, resumed=resumed, started=started)

    async def recover(
        self,
        request: RunRequest,
        emit: Callable[[RunEvent], Awaitable[None]],
        *,
        cancel: asyncio.Event | None = None,
        services: RuntimeServices | None = None,
    ) -> RunOutcome:
        """Go on with a run whose worker died, from its last checkpoint (same thread id, new ``first_seq``).

        Nodes that finished before the last checkpoint do not run again; those that were running do
        (from the start). A thread paused on a question pauses again. Without a checkpoint the run fails
        with ``not_recoverable``, so the host can mark it failed with that reason.
        """
        session, config = self._session(request, emit, cancel, services)
        started = time.perf_counter()
        await session.run_started(resumed=True)
        snapshot = await self._compiled.main.aget_state(config) if self.checkpointer is not None else None
        if snapshot is None or not snapshot.values or (not snapshot.next and not snapshot.tasks):
            error = ErrorInfo.from_template(
                "not_recoverable", gettext_noop("There is no unfinished checkpoint for this run.")
            )
            return await self._failed(session, error, None, self._initial_state(request))
        for task in snapshot.tasks:
            for interrupt in task.interrupts:
                session.already_started.add(_interrupted_node(task.name, interrupt.value))
        values = dict(snapshot.values)
        return await self._execute(session, config, None, values, resumed=True, started=started)

    def _session(
        self,
        request: RunRequest,
        emit: Callable[[RunEvent], Awaitable[None]],
        cancel: asyncio.Event | None,
        services: RuntimeServices | None,
    ) -> tuple[RunSession, RunnableConfig]:
        session = RunSession(
            plan=self._compiled.plan,
            run_id=request.run_id,
            emit=emit,
            first_seq=request.first_seq,
            services=services or self.services,
            run_inputs=request.inputs,
            cancel=cancel,
            can_pause=self.checkpointer is not None,
            budget=RunBudget.for_run(request.limits),
        )
        config: RunnableConfig = {
            "configurable": {"thread_id": request.thread_id},
            "recursion_limit": self._compiled.recursion_limits[None],
        }
        return session, config

    async def _execute(
        self,
        session: RunSession,
        config: RunnableConfig,
        graph_input: dict[str, Any] | Command[Any] | None,
        values: dict[str, Any],
        *,
        resumed: bool,
        started: float,
    ) -> RunOutcome:
        await session.start_stream(values, resumed=resumed)
        compiled = self._compiled
        cancel = session.cancel_event
        budget = session.budget
        # The graph's task and its nodes see this run's budget (a called bot's run spends it too).
        entered = budget.enter()
        try:
            work = compiled.main.ainvoke(graph_input, config, context=session)
            graph_task = asyncio.create_task(budget.metered(work))
        finally:
            budget.leave(entered)
        over_limit = asyncio.create_task(budget.wait_exceeded())
        waiters: set[asyncio.Future[Any]] = {graph_task, over_limit}
        cancel_task = asyncio.create_task(cancel.wait()) if cancel is not None else None
        if cancel_task is not None:
            waiters.add(cancel_task)
        try:
            # A node that is busy (or waiting) past the run's deadline is stopped there.
            await asyncio.wait(waiters, timeout=budget.remaining_seconds(), return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            # The caller's task was cancelled: stop the graph and say so, then let the cancel go on.
            await self._stop(graph_task)
            with contextlib.suppress(Exception):
                await self._cancelled(session, values)
            raise
        finally:
            over_limit.cancel()
            if cancel_task is not None:
                cancel_task.cancel()
        if not graph_task.done():
            if session.cancelled():
                await self._stop(graph_task)
                return await self._cancelled(session, values)
            error = budget.over_limit() or budget.time_exceeded()
            await self._stop(graph_task)
            return await self._failed(session, error, None, values)
        try:
            result = graph_task.result()
        except NodeFailure as failure:
            return await self._failed(session, failure.error, failure.node_id, values)
        except RunLimitExceeded as stopped:
            return await self._failed(session, stopped.error, None, values)
        except asyncio.CancelledError:
            return await self._cancelled(session, values)
        except Exception as error:
            logger.exception("run %s failed", session.run_id)
            info = ErrorInfo.from_template(
                "internal_error", UNEXPECTED_ERROR, type=type(error).__name__, error=str(error)
            )
            return await self._failed(session, info, None, values)
        if result.get("__interrupt__"):
            return await self._paused(session, result)
        return await self._finished(session, result, started)

    # --- starting and resuming ---------------------------------------------------------------------------

    def _initial_state(self, request: RunRequest) -> dict[str, Any]:
        defaults: dict[str, dict[str, Any]] = {"conversation": {}, "user": {}}
        for variable in self.graph.variables:
            defaults[variable.scope][variable.name] = variable.default
        sys = {
            "user_id": "",
            "conversation_id": "",
            "files": [],
            "now": datetime.now(UTC).isoformat(),
            **request.sys,
            "query": request.query,
        }
        return {
            "outputs": {},
            "routes": {},
            "skipped": {},
            "conv": {**defaults["conversation"], **request.conv},
            "user": {**defaults["user"], **request.user},
            "usage": {},
            "sys": sys,
        }

    async def _prepare_resume(
        self, session: RunSession, config: RunnableConfig, answer: Any
    ) -> tuple[Command[Any], dict[str, Any]] | ErrorInfo:
        if self.checkpointer is None:
            return ErrorInfo.from_template(
                "not_configured", gettext_noop("Runs can only be resumed with a checkpointer.")
            )
        snapshot = await self._compiled.main.aget_state(config)
        pending = [(task.name, interrupt) for task in snapshot.tasks for interrupt in task.interrupts]
        if not pending:
            return ErrorInfo.from_template(
                "not_paused", gettext_noop("There is no paused run on this thread to resume.")
            )
        # Questions asked before the pause already have their node.started in the log.
        for name, interrupt in pending:
            session.already_started.add(_interrupted_node(name, interrupt.value))
        first = pending[0][1]
        return Command(resume={first.id: answer}), dict(snapshot.values)

    # --- how a run ends ---------------------------------------------------------------------------------

    async def _finished(self, session: RunSession, result: dict[str, Any], started: float) -> RunOutcome:
        outputs: dict[str, Any] = {}
        for node_id in self._compiled.plan.top_order:
            node = self._compiled.plan.nodes[node_id]
            if node.spec.is_terminal and node_id in result["routes"]:
                outputs.update(result["outputs"].get(node_id, {}))
        usage = Usage(**result["usage"]) if result.get("usage") else Usage()
        latency_ms = (time.perf_counter() - started) * 1000
        await session.run_finished(outputs=outputs, usage=usage, latency_ms=latency_ms)
        return self._outcome(session, "finished", result, outputs=outputs, usage=usage)

    async def _paused(self, session: RunSession, result: dict[str, Any]) -> RunOutcome:
        interrupt = result["__interrupt__"][0]
        value = interrupt.value if isinstance(interrupt.value, dict) else {}
        node_id = str(value.get("node_id", ""))
        question = value.get("question")
        await session.run_paused(node_id=node_id, question=dict(question) if isinstance(question, dict) else {})
        usage = Usage(**result["usage"]) if result.get("usage") else Usage()
        return self._outcome(session, "paused", result, usage=usage, paused_node_id=node_id)

    async def _failed(
        self, session: RunSession, error: ErrorInfo, node_id: str | None, values: dict[str, Any]
    ) -> RunOutcome:
        session.failed_node = session.failed_node or node_id or "the run"
        await session.close_open_nodes(session.stop_reason())
        await session.run_failed(error=error, node_id=node_id)
        return self._outcome(session, "failed", self._latest(session, values), error=error)

    async def _cancelled(self, session: RunSession, values: dict[str, Any]) -> RunOutcome:
        await session.close_open_nodes(CANCELLED)
        await session.run_failed(error=CANCELLED, node_id=None)
        return self._outcome(session, "cancelled", self._latest(session, values), error=CANCELLED)

    @staticmethod
    async def _stop(graph_task: asyncio.Task[Any]) -> None:
        graph_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await graph_task

    @staticmethod
    def _latest(session: RunSession, values: dict[str, Any]) -> dict[str, Any]:
        """Variables as far as the run got (what finished nodes wrote), for a run that did not finish."""
        return {
            "conv": {**values.get("conv", {}), **session.stream.conv},
            "user": {**values.get("user", {}), **session.stream.user},
        }

    @staticmethod
    def _outcome(
        session: RunSession,
        status: RunStatus,
        values: dict[str, Any],
        *,
        outputs: dict[str, Any] | None = None,
        usage: Usage | None = None,
        error: ErrorInfo | None = None,
        paused_node_id: str | None = None,
    ) -> RunOutcome:
        return RunOutcome(
            status=status,
            answer="".join(session.message),
            outputs=outputs or {},
            conv=dict(values.get("conv", {})),
            user=dict(values.get("user", {})),
            usage=usage or Usage(),
            last_seq=session.last_seq,
            error=error,
            paused_node_id=paused_node_id,
        )


def _interrupted_node(task_name: str, value: Any) -> str:
    if isinstance(value, dict) and isinstance(value.get("node_id"), str):
        return str(value["node_id"])
    return node_id_of(task_name)
