"""Loop and iteration: the container's node runs its body graph once per round.

A round is one invocation of the body's compiled graph, with the pool of the run plus the
container's own entry (``{{ each.item }}``, ``{{ each.index }}``, ``{{ again.index }}``). Body nodes
emit their events like any node (once per round). Their conversation/user variable writes carry over
to the next round and, at the end, to the run; their usage is summed into the container's.

**Outputs.** Each ``outputs`` entry names a body value: an iteration collects it from every round
that ran, in item order (a list); a loop publishes the value of its last round.

**Iteration.** Items are taken in order by ``parallelism`` workers, so at most that many rounds run at
once. A failing round fails the container (its error policy then applies; the other rounds are
cancelled).

**Continue and break** (the DSL has no dedicated nodes for them):

- *continue*: a path of the body that ends (a condition branch that leads nowhere, or an edge back to
  the container) simply ends that path; the next round starts when every active path has ended.
- *break*: after a round, the container stops when
  - an edge from a body node back to the container with ``targetHandle: "break"`` was taken in the
    round (e.g. a condition's "stop" case → the container's break handle), or
  - for a loop, its ``break_condition`` holds, evaluated over the round's body values (a body node that
    did not run in the round reads as empty).
  The breaking round's values are kept. A loop also stops after ``max_iterations`` rounds (not an error).
  An iteration that breaks starts no new items; rounds already running finish.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from langchain_core.runnables import RunnableConfig

from builder.engine.i18n import gettext_noop
from builder.engine.nodes.condition import evaluate_group
from builder.engine.nodes.container import BODY_HANDLE, ContainerConfig
from builder.engine.nodes.iteration import IterationConfig
from builder.engine.nodes.loop import LoopConfig
from builder.engine.runtime.context import RunNodeContext
from builder.engine.runtime.contract import NodeResult, Usage, node_error
from builder.engine.runtime.plan import NodePlan
from builder.engine.runtime.pool import VariablePool
from builder.engine.runtime.session import RunSession

if TYPE_CHECKING:
    from builder.engine.runtime.compiler import CompiledBotGraph, RunState

_MISSING = object()


class _Rounds:
    """Runs rounds of one container's body and keeps what carries over between them."""

    def __init__(
        self, compiled: CompiledBotGraph, node: NodePlan, config: ContainerConfig, state: RunState, session: RunSession
    ) -> None:
        self.compiled = compiled
        self.node = node
        self.config = config
        self.state = state
        self.session = session
        self.conv = dict(state["conv"])
        self.user = dict(state["user"])
        self.usage = Usage()
        self.count = 0

    async def run(self, scope: dict[str, Any]) -> dict[str, Any]:
        """One round; returns the body's final state."""
        conv, user = dict(self.conv), dict(self.user)
        body = self.compiled.bodies[self.node.id]
        start: dict[str, Any] = {
            "outputs": {**self.state["outputs"], self.node.id: scope},
            "routes": {self.node.id: BODY_HANDLE},
            "skipped": {},
            "conv": conv,
            "user": user,
            "usage": {},
            "sys": self.state["sys"],
        }
        if body is None:
            final = start
        else:
            config: RunnableConfig = {"recursion_limit": self.compiled.recursion_limits[self.node.id]}
            final = await body.ainvoke(start, config, context=self.session)
        # Only what this round changed is applied, so parallel rounds do not undo each other's writes.
        self.conv.update(_changes(conv, final["conv"]))
        self.user.update(_changes(user, final["user"]))
        if final["usage"]:
            self.usage.add(Usage(**final["usage"]))
        self.count += 1
        return dict(final)

    def pool(self, final: Mapping[str, Any]) -> VariablePool:
        return VariablePool(
            final["outputs"],
            sys=final["sys"],
            conv=final["conv"],
            user=final["user"],
            node_ids=self.compiled.plan.node_ids,
        )

    def published(self, final: Mapping[str, Any]) -> dict[str, Any]:
        pool = self.pool(final)
        return {output.name: pool.lookup(output.ref) for output in self.config.outputs}

    def broke(self, final: Mapping[str, Any]) -> bool:
        routes = final["routes"]
        for source, handle in self.compiled.plan.break_edges.get(self.node.id, ()):
            if routes.get(source, _MISSING) == handle:
                return True
        if isinstance(self.config, LoopConfig) and self.config.break_condition is not None:
            return evaluate_group(self.config.break_condition, self.pool(final).resolve)
        return False

    def result(self, ctx: RunNodeContext, outputs: dict[str, Any], inputs: dict[str, Any]) -> NodeResult:
        for scope, values, before in (("conv", self.conv, self.state["conv"]), ("user", self.user, self.state["user"])):
            for name, value in _changes(before, values).items():
                ctx.set_variable(scope, name, value)
        usage = self.usage if self.usage != Usage() else None
        return NodeResult(outputs=outputs, usage=usage, inputs={**inputs, "rounds": self.count})


def _changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in after.items() if before.get(name, _MISSING) != value}


async def run_container(
    compiled: CompiledBotGraph, node: NodePlan, state: RunState, session: RunSession, ctx: RunNodeContext
) -> NodeResult:
    config = node.config
    if isinstance(config, IterationConfig):
        return await _iterate(_Rounds(compiled, node, config, state, session), config, ctx)
    if isinstance(config, LoopConfig):
        return await _loop(_Rounds(compiled, node, config, state, session), config, ctx)
    raise node_error("not_implemented", gettext_noop("The %(type)s container cannot run."), type=node.type_name)


async def _loop(rounds: _Rounds, config: LoopConfig, ctx: RunNodeContext) -> NodeResult:
    last: dict[str, Any] = {output.name: None for output in config.outputs}
    for index in range(config.max_iterations):
        final = await rounds.run({"index": index})
        last = rounds.published(final)
        if rounds.broke(final):
            break
    return rounds.result(ctx, last, {"max_iterations": config.max_iterations})


async def _iterate(rounds: _Rounds, config: IterationConfig, ctx: RunNodeContext) -> NodeResult:
    items = ctx.resolve(config.items)
    if items is None:
        items = []
    if not isinstance(items, list):
        where = ".".join(str(part) for part in config.items.ref)
        raise node_error("invalid_input", gettext_noop("An iteration needs a list; %(items)s is not one."), items=where)
    results: list[dict[str, Any] | None] = [None] * len(items)
    numbered = iter(enumerate(items))
    stop = False

    async def worker() -> None:
        nonlocal stop
        for index, item in numbered:  # shared iterator: items are started in order
            if stop:
                return
            final = await rounds.run({"item": item, "index": index})
            results[index] = rounds.published(final)
            if rounds.broke(final):
                stop = True

    try:
        async with asyncio.TaskGroup() as group:
            for _ in itertools.repeat(None, min(config.parallelism, len(items))):
                group.create_task(worker())
    except BaseExceptionGroup as failures:
        raise _first(failures) from None
    collected = [result for result in results if result is not None]
    outputs = {output.name: [result[output.name] for result in collected] for output in config.outputs}
    return rounds.result(ctx, outputs, {"items": items})


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The error that failed the group (not the cancellations it caused)."""
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            return _first(error)
        if not isinstance(error, asyncio.CancelledError):
            return error
    return group.exceptions[0]
