"""BotGraph → LangGraph ``StateGraph``: one LangGraph node per DSL node, LangGraph runs the graph.

**State.** Node outputs, the handle each node took (``routes``), the nodes that were skipped,
``conv``/``user`` variables, summed usage and ``sys``. Each node writes only its own entries, merged
by reducers, so parallel branches never overwrite each other; the whole state is what a checkpoint
holds and what a resumed run continues from.

**Joins and branches (Dify semantics).** Every node is wired to wait for *all* of its predecessors
(``add_edge([a, b], c)``) and every node always executes once per run, for real or as a skip: when
none of its incoming edges is active (the source was skipped, or took another handle) it records
itself as skipped, emits nothing and lets the skip flow on. So a node runs once every active
branch into it has finished, a node behind an untaken branch never runs, and parallel branches are
simply LangGraph's parallel tasks. An ``error_branch`` failure takes the ``error`` handle, which
skips what hangs off the normal one.

LangGraph runs in supersteps: the nodes ready at the same time run concurrently, and the next step
starts when they have all finished. So parallel branches advance in lockstep (a fast branch's next
node waits for a slow sibling's current one); the answer stream (``streaming.py``) does not, it
sends text as soon as what it reads has finished.

**Bodies.** Each loop/iteration body is compiled once into its own (un-checkpointed) graph that the
container's node invokes per round (see ``containers.py``).

Everything per run (events, the answer stream, cancellation) travels as LangGraph's run
``context`` (a ``RunSession``), so one compiled graph serves any number of concurrent runs.
"""

from __future__ import annotations

import operator
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from functools import partial
from typing import Annotated, Any, Final, TypedDict

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime

from builder.engine.checks import find_problems
from builder.engine.graph import BotGraph
from builder.engine.problems import GraphInvalid
from builder.engine.runtime import containers
from builder.engine.runtime.context import RunNodeContext
from builder.engine.runtime.contract import NodeResult
from builder.engine.runtime.plan import GraphPlan, NodePlan
from builder.engine.runtime.policy import run_with_policy
from builder.engine.runtime.pool import VariablePool
from builder.engine.runtime.session import RunSession

# LangGraph node names: the DSL id after a prefix (ids cannot contain "."), so no id can clash with
# a state key or with LangGraph's own names.
NODE_PREFIX: Final = "node."
_MISSING: Final = object()


def _merge(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    return {**left, **right} if right else left


def _add_usage(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    if not right:
        return left
    total = dict(left)
    for key in ("prompt_tokens", "completion_tokens", "total_tokens", "cost"):
        total[key] = operator.add(total.get(key, 0), right.get(key, 0))
    total["model"] = total.get("model") or right.get("model")
    return total


class RunState(TypedDict, total=False):
    outputs: Annotated[dict[str, dict[str, Any]], _merge]
    routes: Annotated[dict[str, str | None], _merge]
    skipped: Annotated[dict[str, bool], _merge]
    conv: Annotated[dict[str, Any], _merge]
    user: Annotated[dict[str, Any], _merge]
    usage: Annotated[dict[str, Any], _add_usage]
    sys: dict[str, Any]


def graph_name(node_id: str) -> str:
    return NODE_PREFIX + node_id


def node_id_of(graph_name: str) -> str:
    return graph_name.removeprefix(NODE_PREFIX)


class CompiledBotGraph:
    """The LangGraph graphs of one bot graph: the main one and one per loop/iteration body."""

    def __init__(self, graph: BotGraph, checkpointer: BaseCheckpointSaver[Any] | None) -> None:
        _check_runnable(graph)
        self.plan = GraphPlan(graph)
        self.bodies: dict[str, CompiledStateGraph[Any, Any, Any, Any] | None] = {
            node_id: self._build(node_id, checkpointer=False) if self.plan.body(node_id) else None
            for node_id, node in self.plan.nodes.items()
            if node.is_container
        }
        self.main = self._build(None, checkpointer=checkpointer)
        self.recursion_limits = {scope: len(members) + 5 for scope, members in self.plan.orders.items()}

    def _build(self, scope: str | None, *, checkpointer: BaseCheckpointSaver[Any] | bool | None) -> Any:
        builder: StateGraph[Any, Any, Any, Any] = StateGraph(RunState, context_schema=RunSession)
        order = self.plan.orders[scope]
        for node_id in order:
            builder.add_node(graph_name(node_id), self._node_function(self.plan.nodes[node_id]))
        for node_id in order:
            predecessors = [graph_name(source) for source in self.plan.nodes[node_id].predecessors]
            if not predecessors:
                builder.add_edge(START, graph_name(node_id))
            elif len(predecessors) == 1:
                builder.add_edge(predecessors[0], graph_name(node_id))
            else:
                builder.add_edge(predecessors, graph_name(node_id))
        name = "bot" if scope is None else f"body.{scope}"
        return builder.compile(checkpointer=checkpointer, name=name)

    def _node_function(self, node: NodePlan) -> Callable[..., Awaitable[dict[str, Any]]]:
        # A partial, not a closure: LangGraph inspects a plain function's type hints and bytecode
        # (looking for subgraphs) for every node it adds, most of a big graph's compile time.
        return partial(_run_node, self, node)

    async def execute(self, node: NodePlan, state: RunState, session: RunSession) -> dict[str, Any]:
        routes = state["routes"]
        if node.incoming and not any(routes.get(source, _MISSING) == handle for source, handle in node.incoming):
            await session.node_skipped(node)
            return {"skipped": {node.id: True}}
        pool = VariablePool(
            state["outputs"], sys=state["sys"], conv=state["conv"], user=state["user"], node_ids=self.plan.node_ids
        )
        body: Callable[[RunNodeContext], Awaitable[NodeResult]]
        if node.is_container:
            body = partial(containers.run_container, self, node, state, session)
        else:
            body = partial(node.spec.run, node.config)
        outcome = await run_with_policy(node, session, partial(RunNodeContext, session, node, pool), body)
        update: dict[str, Any] = {"routes": {node.id: outcome.route}, "outputs": {node.id: outcome.outputs}}
        update.update(outcome.variables)
        if outcome.usage is not None:
            update["usage"] = asdict(outcome.usage)
        return update


async def _run_node(
    compiled: CompiledBotGraph, node: NodePlan, state: RunState, runtime: Runtime[Any]
) -> dict[str, Any]:
    # Runtime[Any]: LangGraph types contexts as dataclasses/TypedDicts; ours is a plain class.
    session: RunSession = runtime.context
    # Parallel nodes run in tasks of their own: their CPU time is the run's too.
    return await session.budget.metered(compiled.execute(node, state, session))


def _check_runnable(graph: BotGraph) -> None:
    """Refuse a graph with problems, except values still to fill in (they fail their node at run time)."""
    unfilled = {
        (issue.code, node.id, f"data.{issue.field}")
        for node in graph.nodes
        for issue in node.spec.unfilled(node.config)
    }
    problems = [p for p in find_problems(graph) if (p.code, p.node_id, p.field) not in unfilled]
    if problems:
        raise GraphInvalid(problems)
