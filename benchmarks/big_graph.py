"""Does one big graph stall the server (issue 11, defect 7)? Prints figures; asserts nothing.

    .venv/bin/python benchmarks/big_graph.py [--nodes 1998] [--runs 3] [--poll-ms 20] [--baseline-s 3]

Starts the app (uvicorn, one process, embedded default) beside the scripted model server, as
``chat_load.py`` does, with a published bot start → ``--nodes`` template nodes (a chain, each
reading the previous one's text) → answer, just under the 2,000-node cap. Then, while a poller
sends ``GET /api/v1/health`` one request after another (``--poll-ms`` apart), it measures:

- baseline: /health with nothing else happening, for ``--baseline-s`` seconds;
- draft save: an editor key saves the big graph as the bot's draft (``PUT …/draft``), which
  validates it;
- chat: a viewer key chats with the bot ``--runs`` times in a row (``POST …/chat``, blocking), the
  first run on a cold process (the graph is compiled then), the rest warm.

For each phase: how long it took (and each run's status), /health latency p50/p95/max during it,
and those figures as ratios of the baseline measured in the same process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import subprocess
import time
from pathlib import Path
from typing import Any

from chat_load import PYTHON, ROOT, Stack, percentile


def big_graph(count: int) -> dict[str, Any]:
    """start → ``count`` template nodes in a chain → answer."""
    nodes: list[dict[str, Any]] = [
        {"id": "start", "type": "start@1", "position": {"x": 0, "y": 0}, "data": {"inputs": []}}
    ]
    previous = "sys.query"
    for index in range(count):
        node_id = f"t{index}"
        template = f"{{{{ {previous} }}}}!" if index == 0 else f"{{{{ {previous}.text | length }}}}"
        nodes.append(
            {"id": node_id, "type": "template@1", "position": {"x": 0, "y": 0}, "data": {"template": template}}
        )
        previous = node_id
    answer_text = f"{{{{ {previous}.text }}}}"
    nodes.append({"id": "answer", "type": "answer@1", "position": {"x": 0, "y": 0}, "data": {"text": answer_text}})
    edges = [
        {"id": f"e{index}", "source": source["id"], "target": target["id"]}
        for index, (source, target) in enumerate(itertools.pairwise(nodes))
    ]
    return {"version": 1, "nodes": nodes, "edges": edges, "variables": [], "settings": {}}


class BigGraphStack(Stack):
    """The benchmark's processes, seeded with the big bot, a viewer key and an editor key."""

    def seed_big(self, count: int) -> dict[str, str]:
        graph_file = Path(self.var_dir) / "big_graph.json"
        graph_file.write_text(json.dumps(big_graph(count)))
        script = f"""
import json
from pathlib import Path
from builder.accounts.models import User
from builder.accounts.roles import Role
from builder.accounts.services import api_key_create, workspace_create
from builder.bots.services import bot_create, bot_publish
user = User.objects.create_user("bench", "bench@example.com", "bench-password-123")
workspace = workspace_create(actor=user, name="Bench")
draft = json.loads(Path({str(graph_file)!r}).read_text())
bot, problems = bot_create(actor=user, workspace=workspace, name="Big", draft=draft)
assert not problems, problems[:3]
bot_publish(actor=user, bot=bot)
_viewer, viewer = api_key_create(actor=user, workspace=workspace, name="chatter", role=Role.VIEWER)
_editor, editor = api_key_create(actor=user, workspace=workspace, name="editor", role=Role.EDITOR)
print(json.dumps({{"bot": str(bot.pk), "key": viewer, "editor": editor, "graph": {str(graph_file)!r}}}))
"""
        out = subprocess.run(
            [PYTHON, "manage.py", "shell", "-c", script], cwd=ROOT, env=self.env, check=True, capture_output=True
        )
        return dict(json.loads(out.stdout.decode().strip().splitlines()[-1]))


class HealthPoller:
    """GET /api/v1/health one after another until stopped; keeps each latency in ms."""

    def __init__(self, client: Any, poll_s: float) -> None:
        self.client = client
        self.poll_s = poll_s
        self.samples: list[float] = []
        self.failures = 0
        self._stop = asyncio.Event()

    async def run(self) -> None:
        while not self._stop.is_set():
            sent = time.perf_counter()
            response = await self.client.get("/api/v1/health")
            self.samples.append((time.perf_counter() - sent) * 1000)
            if response.status_code != 200:
                self.failures += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.poll_s)

    def stop(self) -> None:
        self._stop.set()


def summary(samples: list[float]) -> tuple[float, float, float]:
    return percentile(samples, 50), percentile(samples, 95), max(samples)


def report(name: str, seconds: float, samples: list[float], baseline: tuple[float, float, float], note: str) -> None:
    p50, p95, worst = summary(samples)
    b50, b95, bmax = baseline
    print(
        f"{name:<11} {seconds:7.2f} s  /health ({len(samples):4d} requests) p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  "
        f"max {worst:7.1f} ms   ×baseline: p50 {p50 / b50:6.1f}  p95 {p95 / b95:6.1f}  max {worst / bmax:6.1f}  {note}"
    )


async def while_polling(client: Any, poll_s: float, work: Any) -> tuple[float, list[float], Any]:
    """Run ``work`` with the health poller beside it: (seconds it took, health latencies, its result)."""
    poller = HealthPoller(client, poll_s)
    polling = asyncio.create_task(poller.run())
    await asyncio.sleep(poll_s)  # the poller's first request is on its way before the work starts
    started = time.perf_counter()
    result = await work
    elapsed = time.perf_counter() - started
    poller.stop()
    await polling
    return elapsed, poller.samples, result


async def bench(port: int, seed: dict[str, str], runs: int, poll_s: float, baseline_s: float) -> None:
    import httpx

    base = f"http://127.0.0.1:{port}"
    graph = json.loads(Path(seed["graph"]).read_text())
    async with (
        httpx.AsyncClient(base_url=base, timeout=600) as health_client,
        httpx.AsyncClient(base_url=base, timeout=600) as client,
    ):
        await health_client.get("/api/v1/health")  # warm-up: first request imports and connects
        baseline_task = while_polling(health_client, poll_s, asyncio.sleep(baseline_s))
        _elapsed, baseline_samples, _ = await baseline_task
        baseline = summary(baseline_samples)
        print(f"{'baseline':<11} {baseline_s:7.2f} s  /health ({len(baseline_samples):4d} requests) "
              f"p50 {baseline[0]:7.1f} ms  p95 {baseline[1]:7.1f} ms  max {baseline[2]:7.1f} ms")

        editor = {"Authorization": f"Bearer {seed['editor']}"}
        bot = (await client.get(f"/api/v1/bots/{seed['bot']}/", headers=editor)).json()
        save = client.put(
            f"/api/v1/bots/{seed['bot']}/draft",
            json={"revision": bot["draft_revision"], "draft": graph},
            headers=editor,
        )
        elapsed, samples, response = await while_polling(health_client, poll_s, save)
        report("draft save", elapsed, samples, baseline, f"HTTP {response.status_code}")

        chatter = {"Authorization": f"Bearer {seed['key']}"}
        for index in range(runs):
            chat = client.post(
                f"/api/v1/bots/{seed['bot']}/chat", json={"query": "hi", "stream": False}, headers=chatter
            )
            elapsed, samples, response = await while_polling(health_client, poll_s, chat)
            body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
            status = body.get("status", f"HTTP {response.status_code}")
            error = body.get("error")
            note = f"run {status}" + (f" ({error})" if error else "")
            report(f"chat {index + 1}" + (" cold" if index == 0 else ""), elapsed, samples, baseline, note)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=1998, help="template nodes between start and answer")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--poll-ms", type=float, default=20.0)
    parser.add_argument("--baseline-s", type=float, default=3.0)
    args = parser.parse_args()
    stack = BigGraphStack("embedded", tokens=1, tokens_per_second=0.0)
    try:
        seed = stack.seed_big(args.nodes)
        stack.start_app()
        print(f"app on :{stack.port}; start → {args.nodes} template nodes → answer; /health every {args.poll_ms:g} ms")
        asyncio.run(bench(stack.port, seed, args.runs, args.poll_ms / 1000, args.baseline_s))
    finally:
        stack.close()


if __name__ == "__main__":
    main()
