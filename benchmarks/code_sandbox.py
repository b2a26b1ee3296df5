"""Latency of one code-node run in the sandbox (builder/engine/sandbox), as the server sees it.

    .venv/bin/python benchmarks/code_sandbox.py [--runs 100] [--concurrency 10]

Prints p50/p95/max per run for: cold starts (no sandbox started ahead), warm runs one after the
other (the pool keeps ``warm`` sandboxes ready), and a burst of concurrent runs. Each run is a
small ``main`` that reads its inputs and returns a dict, so the figures are the sandbox's overhead.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from builder.engine.sandbox import SandboxCodeRunner, SandboxLimits

CODE = """
def main(numbers, label):
    return {"label": label.upper(), "total": sum(numbers)}
"""
INPUTS = {"numbers": list(range(100)), "label": "benchmark"}


def summary(name: str, seconds: list[float]) -> str:
    ms = sorted(value * 1000 for value in seconds)
    p95 = ms[max(0, round(0.95 * len(ms)) - 1)]
    return f"{name:<34} n={len(ms):<4} p50={statistics.median(ms):6.1f} ms  p95={p95:6.1f} ms  max={ms[-1]:6.1f} ms"


async def timed(runner: SandboxCodeRunner) -> float:
    started = time.perf_counter()
    result = await runner.run(CODE, INPUTS, timeout_s=10)
    assert result == {"label": "BENCHMARK", "total": 4950}, result
    return time.perf_counter() - started


async def sequential(runner: SandboxCodeRunner, runs: int, pause_s: float) -> list[float]:
    figures = []
    for _ in range(runs):
        figures.append(await timed(runner))
        await asyncio.sleep(pause_s)  # a graph does other work between two code nodes
    return figures


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=10)
    args = parser.parse_args()

    cold = SandboxCodeRunner(SandboxLimits(warm=0))
    report = await cold.isolation_report()
    if not report["available"]:
        raise SystemExit(f"sandbox unavailable: {report['reason']}")
    print(f"isolation: {report['mode']}, namespaces {'+'.join(report['namespaces'])}; {os.cpu_count()} CPUs")
    await timed(cold)  # page cache and imports warm, like a server that has been up a while
    print(summary("cold start, one after the other", await sequential(cold, args.runs, 0)))

    warm = SandboxCodeRunner(SandboxLimits(warm=2))
    await timed(warm)  # fills the pool
    await asyncio.sleep(0.3)
    print(summary("warm pool, one after the other", await sequential(warm, args.runs, 0.05)))
    print(summary("warm pool, back to back", await sequential(warm, args.runs, 0)))

    bursts = []
    for _ in range(max(1, args.runs // args.concurrency)):
        bursts += await asyncio.gather(*(timed(warm) for _ in range(args.concurrency)))
        await asyncio.sleep(0.3)
    print(summary(f"bursts of {args.concurrency} concurrent runs", bursts))
    warm.close()


if __name__ == "__main__":
    asyncio.run(main())
