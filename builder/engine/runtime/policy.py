"""The error policy of a node, as a layer around its ``run``: retries, timeout, then fail/default/branch.

- Each attempt gets a fresh context and at most ``timeout_s`` (``asyncio.timeout``); a timeout is a
  retryable ``NodeError("timeout")``.
- A failed attempt is retried (``retries`` times at most) when its error is retryable: NodeErrors
  say so themselves; any other exception counts as retryable (it is a bug or an unwrapped transient
  error, and the user asked for retries). The wait before retry *n* is ``backoff_s * 2**(n-1)``,
  capped at ``MAX_BACKOFF_S``.
- When the attempts are used up: ``fail`` fails the run; ``default`` finishes the node with its
  ``default_outputs`` (``node.finished`` carries the error); ``error_branch`` takes the ``error``
  handle instead of the normal ones, with ``outputs.error = {code, message, details}``.

LangGraph interrupts (a question waiting for its answer) pass straight through: they are not failures.
Neither is a run going past its limits (``limits.py``): each attempt is a step of the run's budget,
and a run over budget fails as a whole, whatever the node's policy.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

from langgraph.errors import GraphBubbleUp

from builder.engine.i18n import gettext_noop
from builder.engine.nodes.base import ERROR_HANDLE, ERROR_OUTPUT
from builder.engine.runtime.context import RunNodeContext
from builder.engine.runtime.contract import UNEXPECTED_ERROR, NodeError, NodeResult, Usage, node_error
from builder.engine.runtime.events import ErrorInfo
from builder.engine.runtime.limits import RunLimitExceeded
from builder.engine.runtime.plan import NodePlan
from builder.engine.runtime.session import RunSession

logger = logging.getLogger(__name__)

MAX_BACKOFF_S: Final = 600.0
TIMED_OUT: Final = gettext_noop("The node did not finish within %(seconds)s s.")
# A node inside a loop or an iteration failed the round: its id, then its own message.
INNER_NODE_FAILED: Final = gettext_noop("%(node_id)s: %(error)s")


class NodeFailure(Exception):
    """A node failed and its policy is ``fail``: the run fails (already reported as ``node.failed``)."""

    def __init__(self, node_id: str, error: ErrorInfo) -> None:
        super().__init__(f"{node_id}: {error.message}")
        self.node_id = node_id
        self.error = error


@dataclass
class NodeOutcome:
    route: str | None
    outputs: dict[str, Any]
    usage: Usage | None = None
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)


async def backoff_sleep(seconds: float) -> None:
    """Wait before a retry (a module function so tests can count the waits instead of waiting)."""
    await asyncio.sleep(seconds)


def backoff_delay(base_s: float, retry: int) -> float:
    return min(base_s * float(2 ** (retry - 1)), MAX_BACKOFF_S)


Body = Callable[[RunNodeContext], Awaitable[NodeResult]]


async def run_with_policy(
    node: NodePlan, session: RunSession, make_context: Callable[[], RunNodeContext], body: Body
) -> NodeOutcome:
    policy = node.config.error
    await session.budget.spend_step()
    token = session.open_node(node)
    ctx = make_context()
    error: NodeError | None = None
    try:
        for attempt in range(1, policy.retries + 2):
            if attempt > 1:
                await session.budget.spend_step()
                ctx = make_context()
            await session.attempt_started(token, attempt)
            try:
                result = await _attempt(body, ctx, policy.timeout_s)
            except NodeError as failure:
                error = failure
            else:
                route = node.route_of(result.branch)
                await session.node_finished(
                    token,
                    inputs=result.inputs or ctx.reads,
                    outputs=result.outputs,
                    route=route,
                    branch=result.branch,
                    usage=result.usage,
                    variables=ctx.variables,
                )
                return NodeOutcome(route, result.outputs, result.usage, ctx.variables)
            if attempt > policy.retries or not error.retryable:
                break
            await backoff_sleep(backoff_delay(policy.backoff_s, attempt))
    except asyncio.CancelledError:
        await session.node_failed(token, session.stop_reason(), handled=False)
        raise
    assert error is not None
    info = ErrorInfo.from_node_error(error)
    defaults = dict(policy.default_outputs or {})
    if policy.on_error == "default":
        route = node.route_of(None)
        await session.node_finished(
            token, inputs=ctx.reads, outputs=defaults, route=route, branch=None, usage=None, variables={}, error=info
        )
        return NodeOutcome(route, defaults)
    if policy.on_error == "error_branch":
        outputs = {**defaults, ERROR_OUTPUT: info.model_dump()}
        await session.node_failed(token, info, handled=True, outputs=outputs)
        return NodeOutcome(ERROR_HANDLE, outputs)
    await session.node_failed(token, info, handled=False)
    session.failed_node = session.failed_node or node.id
    raise NodeFailure(node.id, info)


async def _attempt(body: Body, ctx: RunNodeContext, timeout_s: float | None) -> NodeResult:
    try:
        if timeout_s is None:
            return await body(ctx)
        scope = asyncio.timeout(timeout_s)
        try:
            async with scope:
                return await body(ctx)
        except TimeoutError as error:
            if not scope.expired():
                raise  # the node's own TimeoutError, not ours
            raise node_error("timeout", TIMED_OUT, retryable=True, seconds=f"{timeout_s:g}") from error
    except (NodeError, GraphBubbleUp, RunLimitExceeded, asyncio.CancelledError):
        raise
    except NodeFailure as failure:  # a node inside a loop/iteration body failed the round
        raise node_error(
            failure.error.code,
            INNER_NODE_FAILED,
            retryable=True,
            details={**failure.error.details, "node_id": failure.node_id},
            node_id=failure.node_id,
            error=failure.error.as_param(),
        ) from failure
    except Exception as error:
        logger.exception("node %s raised an unexpected error", ctx.node_id)
        raise node_error(
            "internal_error", UNEXPECTED_ERROR, retryable=True, type=type(error).__name__, error=str(error)
        ) from error
