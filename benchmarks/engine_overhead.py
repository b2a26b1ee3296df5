"""What the engine adds on top of LangGraph: a chain of template nodes, ours vs hand-written.

    .venv/bin/python benchmarks/engine_overhead.py [--nodes 50] [--runs 200] [--checkpointer]

Runs the same chain of ``--nodes`` template nodes (each renders a small Jinja template that reads
the previous node's output) two ways:

- through ``GraphRunner`` (validation done once; per run: events for every node, the answer
  stream, the error-policy layer, the variable pool), with an ``emit`` that drops the events;
- as a hand-written LangGraph ``StateGraph`` of the same nodes, each rendering a pre-compiled
  template from the same sandboxed Jinja environment.

Prints the mean time per run of each, the engine's overhead per node and the ratio.
Targets: ratio <= 1.5, overhead <= 0.5 ms per node.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Annotated, Any, TypedDict

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph

from builder.engine.dsl import validate_graph
from builder.engine.runtime.contract import RuntimeServices
from builder.engine.runtime.events import RunEvent
from builder.engine.runtime.runner import GraphRunner, RunRequest
from builder.engine.runtime.templating import ENVIRONMENT

TEMPLATE = "step {index}: {{{{ {previous}.text | length }}}} chars after {{{{ sys.query }}}}"


def bot_document(count: int) -> dict[str, Any]:
    nodes: list[dict[str, Any]] = [{"id": "start", "type": "start", "data": {}}]
    edges = []
    previous = "start"
    for index in range(1, count + 1):
        node_id = f"t{index}"
        source = TEMPLATE.format(index=index, previous=previous if index > 1 else "sys").replace(
            "sys.text", "sys.query"
        )
        nodes.append({"id": node_id, "type": "template", "data": {"template": source}})
        edges.append({"id": f"e{index}", "source": previous, "target": node_id})
        previous = node_id
    nodes.append(
        {"id": "end", "type": "end", "data": {"outputs": [{"name": "text", "value": {"ref": [previous, "text"]}}]}}
    )
    edges.append({"id": "e-end", "source": previous, "target": "end"})
    return {"version": 1, "nodes": nodes, "edges": edges}


def _merge(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    return {**left, **right}


class RawState(TypedDict):
    outputs: Annotated[dict[str, Any], _merge]
    sys: dict[str, Any]


def raw_graph(count: int, checkpointer: Any) -> Any:
    """The same chain, hand-written: each node renders its template over the outputs so far."""
    builder: StateGraph[Any, Any, Any, Any] = StateGraph(RawState)
    previous = START
    for index in range(1, count + 1):
        node_id = f"t{index}"
        source = TEMPLATE.format(index=index, previous=f"t{index - 1}" if index > 1 else "sys").replace(
            "sys.text", "sys.query"
        )
        template = ENVIRONMENT.from_string(source)

        async def render(state: RawState, node_id: str = node_id, template: Any = template) -> dict[str, Any]:
            text = template.render({**state["outputs"], "sys": state["sys"]})
            return {"outputs": {node_id: {"text": text}}}

        builder.add_node(node_id, render)
        builder.add_edge(previous, node_id)
        previous = node_id
    return builder.compile(checkpointer=checkpointer)


async def _drop(event: RunEvent) -> None:
    return None


class Engine:
    def __init__(self, count: int, checkpointer: Any) -> None:
        self.runner = GraphRunner(validate_graph(bot_document(count)), RuntimeServices(), checkpointer=checkpointer)
        self.runs = 0

    async def __call__(self) -> tuple[float, str]:
        self.runs += 1
        request = RunRequest(run_id=f"r{self.runs}", thread_id=f"engine-{self.runs}", query="how long is this?")
        started = time.perf_counter()
        outcome = await self.runner.run(request, _drop)
        elapsed = time.perf_counter() - started
        assert outcome.status == "finished", outcome.error
        return elapsed, outcome.outputs["text"]


class Raw:
    def __init__(self, count: int, checkpointer: Any) -> None:
        self.graph = raw_graph(count, checkpointer)
        self.count = count
        self.runs = 0

    async def __call__(self) -> tuple[float, str]:
        self.runs += 1
        config = {"configurable": {"thread_id": f"raw-{self.runs}"}, "recursion_limit": self.count + 5}
        started = time.perf_counter()
        result = await self.graph.ainvoke({"outputs": {}, "sys": {"query": "how long is this?"}}, config)
        elapsed = time.perf_counter() - started
        return elapsed, result["outputs"][f"t{self.count}"]["text"]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--checkpointer", action="store_true", help="both graphs checkpoint to an InMemorySaver")
    args = parser.parse_args()

    def saver() -> Any:
        return InMemorySaver() if args.checkpointer else None

    engine, raw = Engine(args.nodes, saver()), Raw(args.nodes, saver())
    engine_times: list[float] = []
    raw_times: list[float] = []
    for number in range(args.warmup + args.runs):
        # Interleaved, so drift on a busy machine hits both sides alike.
        (engine_time, engine_text), (raw_time, raw_text) = await engine(), await raw()
        assert engine_text == raw_text, (engine_text, raw_text)
        if number >= args.warmup:
            engine_times.append(engine_time)
            raw_times.append(raw_time)

    engine_ms, raw_ms = statistics.mean(engine_times) * 1000, statistics.mean(raw_times) * 1000
    per_node = (engine_ms - raw_ms) / args.nodes
    mode = "InMemorySaver" if args.checkpointer else "no checkpointer"
    print(f"{args.nodes} template nodes, {args.runs} runs each, {mode}")
    print(f"  GraphRunner      mean {engine_ms:8.2f} ms/run  (median {statistics.median(engine_times) * 1000:.2f})")
    print(f"  raw LangGraph    mean {raw_ms:8.2f} ms/run  (median {statistics.median(raw_times) * 1000:.2f})")
    print(f"  overhead         {per_node:8.3f} ms/node   (target <= 0.5)")
    print(f"  ratio            {engine_ms / raw_ms:8.2f} x        (target <= 1.5)")


if __name__ == "__main__":
    asyncio.run(main())
