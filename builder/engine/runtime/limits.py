"""What one run may spend: node steps, wall time and CPU time (the host passes the limits in).

A graph under the node cap can still cost a lot (2,000 template nodes, a loop of 1,000 rounds
around a big body), and a chatter can start it again and again, so every run gets a budget:

- **steps**: every execution of a node counts: each attempt (a retry is another step) and each
  round of a loop or iteration body (its nodes count once per round). Skipped nodes do not.
- **wall time**: from the start of the run (of this leg: the wait for a question's answer is not
  part of it), checked before each step and enforced by the runner while a node is busy.
- **CPU**: the processing time the run spends on its thread (the event loop): LangGraph's steps,
  the nodes' own code, templates, events. Work a node hands elsewhere (a model, the code sandbox,
  a database thread) has its own limits and does not count.

A run past a limit ends with ``run.failed`` and a typed error (``step_limit``, ``time_limit``,
``cpu_limit``) whose message is a translatable template; the node it stopped ends ``node.failed``
with the same error. A run started from inside another (a called bot) spends its caller's budget
as well as its own, so calling bots cannot multiply what one run may cost.

Between steps the budget yields to the event loop, so one big run never holds the loop for more
than one node at a time.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import Coroutine, Generator, Iterator
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from builder.engine.i18n import gettext_noop
from builder.engine.runtime.events import ErrorInfo

T = TypeVar("T")

STEP_LIMIT: Final = gettext_noop("The run was stopped after %(steps)s node steps, the most one run may take.")
TIME_LIMIT: Final = gettext_noop("The run was stopped after %(seconds)s s, the longest one run may last.")
CPU_LIMIT: Final = gettext_noop(
    "The run was stopped after %(seconds)s s of processing time, the most one run may use."
)

# The budget of the run whose code is executing (a called bot's run finds its caller's here).
_CURRENT: contextvars.ContextVar[RunBudget | None] = contextvars.ContextVar("agentloom_run_budget", default=None)
# Per thread: is a metered piece of code already running (so nested meters do not count it twice)?
_metering = threading.local()


@dataclass(frozen=True)
class RunLimits:
    """The most one run may spend; ``None`` means no limit (the engine's default: the host sets them)."""

    max_steps: int | None = None
    max_seconds: float | None = None
    max_cpu_seconds: float | None = None


class RunLimitExceeded(Exception):
    """A run went past one of its limits: the run fails with ``error`` (never a node's error policy)."""

    def __init__(self, error: ErrorInfo) -> None:
        super().__init__(error.message)
        self.error = error


class RunBudget:
    """What one run spent so far, checked against its limits (and its caller's, for a called bot)."""

    def __init__(self, limits: RunLimits, *, parent: RunBudget | None = None) -> None:
        self.limits = limits
        self.parent = parent
        self.steps = 0
        self.cpu_seconds = 0.0
        self.exceeded: ErrorInfo | None = None
        self._started = time.monotonic()
        self._exceeded_event = asyncio.Event()

    @classmethod
    def for_run(cls, limits: RunLimits) -> RunBudget:
        """The budget of a new run, inside its caller's when it is started from another run."""
        return cls(limits, parent=_CURRENT.get())

    def enter(self) -> contextvars.Token[RunBudget | None]:
        """Make this the budget of code started from here on (the run's graph task and its nodes)."""
        return _CURRENT.set(self)

    @staticmethod
    def leave(token: contextvars.Token[RunBudget | None]) -> None:
        _CURRENT.reset(token)

    # --- limits --------------------------------------------------------------------------------------

    def _chain(self) -> Iterator[RunBudget]:
        """This budget, then its caller's, and so on."""
        budget: RunBudget | None = self
        while budget is not None:
            yield budget
            budget = budget.parent

    def _deadlines(self) -> list[tuple[float, float]]:
        """(deadline, limit in seconds) of this run and its callers that have one."""
        return [
            (budget._started + budget.limits.max_seconds, budget.limits.max_seconds)
            for budget in self._chain()
            if budget.limits.max_seconds is not None
        ]

    def remaining_seconds(self) -> float | None:
        """Wall time left before the earliest deadline of this run and its callers (None: no deadline)."""
        deadlines = self._deadlines()
        return min(deadlines)[0] - time.monotonic() if deadlines else None

    async def spend_step(self) -> None:
        """A node is about to execute: count it, refuse it past a limit, and let the loop breathe."""
        for budget in self._chain():
            budget.steps += 1
            limit = budget.limits.max_steps
            if limit is not None and budget.steps > limit:
                budget._exceed(ErrorInfo.from_template("step_limit", STEP_LIMIT, steps=limit))
        self.check()
        # Other requests and runs get the loop between two nodes: LangGraph runs a lone ready node
        # inline, so a chain of nodes that await nothing would otherwise hold it to the end.
        await asyncio.sleep(0)
        self.check()

    def over_limit(self) -> ErrorInfo | None:
        """The error of the first limit this run or a caller went over, if any."""
        return next((budget.exceeded for budget in self._chain() if budget.exceeded is not None), None)

    def check(self) -> None:
        """Raise ``RunLimitExceeded`` if this run or a caller is over a limit."""
        if (error := self.over_limit()) is not None:
            raise RunLimitExceeded(error)
        remaining = self.remaining_seconds()
        if remaining is not None and remaining <= 0:
            raise RunLimitExceeded(self.time_exceeded())

    def time_exceeded(self) -> ErrorInfo:
        """The error of a run stopped at its (or its caller's) deadline."""
        deadlines = self._deadlines()
        seconds = min(deadlines)[1] if deadlines else 0.0
        return self._exceed(ErrorInfo.from_template("time_limit", TIME_LIMIT, seconds=f"{seconds:g}"))

    async def wait_exceeded(self) -> ErrorInfo:
        """Wait until this run goes over a limit that shows outside its steps (its CPU time)."""
        await self._exceeded_event.wait()
        assert self.exceeded is not None
        return self.exceeded

    def _exceed(self, error: ErrorInfo) -> ErrorInfo:
        if self.exceeded is None:
            self.exceeded = error
            self._exceeded_event.set()
        return self.exceeded

    # --- CPU -----------------------------------------------------------------------------------------

    async def metered(self, work: Coroutine[Any, Any, T]) -> T:
        """``work``, with the CPU time of each of its slices on this thread added to the budget."""
        result: T = await _Metered(self, work)
        return result

    def _add_cpu(self, seconds: float) -> None:
        for budget in self._chain():
            budget.cpu_seconds += seconds
            limit = budget.limits.max_cpu_seconds
            if limit is not None and budget.cpu_seconds > limit:
                budget._exceed(ErrorInfo.from_template("cpu_limit", CPU_LIMIT, seconds=f"{limit:g}"))


class _Metered:
    """Drives a coroutine the way a task would, timing each slice between two suspensions.

    A slice that runs inside another metered slice (LangGraph runs a lone node inline in the
    graph's own task) is already being counted, so only the outermost one adds its time.
    """

    __slots__ = ("_budget", "_work")

    def __init__(self, budget: RunBudget, work: Coroutine[Any, Any, Any]) -> None:
        self._budget = budget
        self._work = work

    def __await__(self) -> Generator[Any, Any, Any]:
        work = self._work
        message: Any = None
        error: BaseException | None = None
        while True:
            outermost = not getattr(_metering, "active", False)
            if outermost:
                _metering.active = True
                started = time.thread_time()
            try:
                suspended = work.send(message) if error is None else work.throw(error)
            except StopIteration as finished:
                return finished.value
            finally:
                if outermost:
                    _metering.active = False
                    self._budget._add_cpu(time.thread_time() - started)
            try:
                message, error = (yield suspended), None
            except GeneratorExit:
                work.close()
                raise
            except BaseException as thrown:  # a cancel (or anything thrown in) goes on to the work
                message, error = None, thrown
