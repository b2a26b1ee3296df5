"""Running graphs in tests: an event log that checks the event contract, and a controllable node.

``EventLog`` is the ``emit`` callback: every event is serialised and parsed back with
``parse_event`` (so it is what a client would receive), ``seq`` must be consecutive, and a run must end
with exactly one ``run.finished``/``run.paused``/``run.failed``.

The ``probe`` node type exists only in these tests (the ``probes`` fixture registers it and removes it
afterwards): its ``behaviour`` names an async function the test provides, so a test can make a node
fail, hang, stream or wait for another branch, without mocking the runtime itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from builder.engine.dsl import validate_graph
from builder.engine.nodes.base import NodeConfig, NodeSpec
from builder.engine.runtime.contract import NodeContext, NodeResult, RuntimeServices
from builder.engine.runtime.events import RunEvent, parse_event
from builder.engine.runtime.runner import GraphRunner, RunOutcome, RunRequest
from builder.engine.values import Template

TERMINAL = frozenset({"run.finished", "run.paused", "run.failed"})
# A safety net against hanging tests, not a timing assertion.
PATIENCE_S = 10.0

Behaviour = Callable[[NodeContext], Awaitable[NodeResult]]
BEHAVIOURS: dict[str, Behaviour] = {}


class ProbeConfig(NodeConfig):
    behaviour: str
    # A template the behaviour may render (so the probe can depend on upstream nodes).
    text: Template = ""


class ProbeNode(NodeSpec[ProbeConfig]):
    name = "probe"
    version = 1
    title = "Probe"
    config_model = ProbeConfig
    static_outputs = {"text": "string", "value": "any"}

    async def run(self, config: ProbeConfig, ctx: NodeContext) -> NodeResult:
        return await BEHAVIOURS[config.behaviour](ctx)


class EventLog:
    def __init__(self, *, first_seq: int = 1, on_event: Callable[[RunEvent], None] | None = None) -> None:
        self.events: list[RunEvent] = []
        self.next_seq = first_seq
        self.on_event = on_event

    async def __call__(self, event: RunEvent) -> None:
        parsed = parse_event(event.model_dump(mode="json"))
        assert parsed == event
        assert event.seq == self.next_seq, (event.seq, self.next_seq)
        assert not any(e.type in TERMINAL for e in self.events), f"{event.type} after the end of the run"
        self.next_seq += 1
        self.events.append(event)
        if self.on_event is not None:
            self.on_event(event)

    @property
    def types(self) -> list[str]:
        return [event.type for event in self.events]

    def of(self, event_type: str, node_id: str | None = None) -> list[Any]:
        return [
            event
            for event in self.events
            if event.type == event_type and (node_id is None or getattr(event, "node_id", None) == node_id)
        ]

    def one(self, event_type: str, node_id: str | None = None) -> Any:
        found = self.of(event_type, node_id)
        assert len(found) == 1, (event_type, node_id, self.types)
        return found[0]

    def index(self, event: RunEvent) -> int:
        return self.events.index(event)

    def nodes_that_ran(self) -> list[str]:
        return [event.node_id for event in self.of("node.started") if event.attempt == 1]

    def message(self) -> str:
        return "".join(event.text for event in self.of("message.delta"))

    def assert_complete(self, *, waiting: Iterable[str] = ()) -> None:
        """One terminal event, last; every started node finished or failed (except those ``waiting``)."""
        assert sum(event.type in TERMINAL for event in self.events) == 1, self.types
        assert self.events[-1].type in TERMINAL
        open_nodes: dict[str, int] = {}
        for event in self.events:
            if event.type == "node.started" and event.attempt == 1:
                open_nodes[event.node_id] = open_nodes.get(event.node_id, 0) + 1
            elif event.type in ("node.finished", "node.failed") and open_nodes.get(event.node_id):
                open_nodes[event.node_id] -= 1
        left = {node_id for node_id, count in open_nodes.items() if count}
        assert left == set(waiting), f"left open: {left}"


def runner_for(
    document: dict[str, Any], services: RuntimeServices | None = None, *, checkpointer: Any = None
) -> GraphRunner:
    return GraphRunner(validate_graph(document), services or RuntimeServices(), checkpointer=checkpointer)


async def run(
    document: dict[str, Any] | GraphRunner,
    *,
    services: RuntimeServices | None = None,
    resume: Any = None,
    cancel: asyncio.Event | None = None,
    log: EventLog | None = None,
    **request: Any,
) -> tuple[RunOutcome, EventLog]:
    """Run a document (or a runner) and check the event contract."""
    runner = document if isinstance(document, GraphRunner) else runner_for(document, services)
    request.setdefault("run_id", "run-1")
    request.setdefault("thread_id", "thread-1")
    log = log or EventLog(first_seq=request.get("first_seq", 1))
    outcome = await asyncio.wait_for(
        runner.run(RunRequest(**request), log, resume=resume, cancel=cancel), timeout=PATIENCE_S
    )
    assert outcome.last_seq == log.next_seq - 1
    log.assert_complete(waiting=[outcome.paused_node_id] if outcome.paused_node_id else [])
    return outcome, log
