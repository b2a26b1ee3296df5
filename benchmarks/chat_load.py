"""Load benchmarks of the chat runtime (issue 3). Prints figures; asserts nothing.

    .venv/bin/python benchmarks/chat_load.py latency      [--mode embedded|celery] [--messages 200]
    .venv/bin/python benchmarks/chat_load.py throughput   [--mode embedded|celery] [--clients 50] [--seconds 20]
    .venv/bin/python benchmarks/chat_load.py concurrency  [--mode embedded|celery] [--chats 100,200,300,500]

Each command starts, in subprocesses: the scripted OpenAI-compatible server (tests/support), the app
(uvicorn, one process) and, with ``--mode celery``, a Celery worker on PostgreSQL + Redis. The bot is
start → llm → answer, created through the product's services.
- latency: websocket message → first ``message.delta`` with a model that answers instantly (p50/p99).
- throughput: ``POST /api/v1/bots/<id>/chat`` (blocking mode) from N concurrent clients: runs/s.
- concurrency: N websocket chats at once, each streaming 200 tokens at 50 tokens/s; counts lost or
  duplicated tokens and the p99 gap between tokens, for each N.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BENCH_DATABASE = "agentloom_bench"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


FAKE_SERVER = """
import sys, time
from tests.support.fake_openai import FakeOpenAI, Reply
tokens, tps = int(sys.argv[1]), float(sys.argv[2])
fake = FakeOpenAI()
if tps > 0:
    fake.default = Reply(text=" ".join(f"t{i}" for i in range(tokens)), chunks=tokens)
    fake.tokens_per_second = tps
    fake._record = False
else:
    fake.instant(tokens=tokens)
fake.start()
print(fake.port, flush=True)
while True:
    time.sleep(3600)
"""


class Stack:
    """The processes of one benchmark run, torn down on exit."""

    def __init__(self, mode: str, *, tokens: int, tokens_per_second: float) -> None:
        self.mode = mode
        self.var_dir = tempfile.mkdtemp(prefix="agentloom-bench-")
        self.env = {
            k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
        }
        self.env.update({"AGENTLOOM_VAR_DIR": self.var_dir, "PYTHONPATH": str(ROOT), "AGENTLOOM_LOG_LEVEL": "WARNING"})
        if mode == "celery":
            subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", BENCH_DATABASE], check=True)
            subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", BENCH_DATABASE], check=True)
            self.env.update(
                DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{BENCH_DATABASE}",
                REDIS_URL="redis://127.0.0.1:6379/14",
                DJANGO_SECRET_KEY="bench-only",
            )
            subprocess.run(["redis-cli", "-n", "14", "flushdb"], check=True, capture_output=True)
        self.processes: list[subprocess.Popen[bytes]] = []
        self.fake_port = self._start_fake(tokens, tokens_per_second)
        subprocess.run([PYTHON, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=self.env, check=True)
        self.port = free_port()

    def _spawn(self, args: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(args, cwd=ROOT, env=self.env, start_new_session=True, **kwargs)
        self.processes.append(process)
        return process

    def _start_fake(self, tokens: int, tokens_per_second: float) -> int:
        process = self._spawn([PYTHON, "-c", FAKE_SERVER, str(tokens), str(tokens_per_second)], stdout=subprocess.PIPE)
        assert process.stdout is not None
        return int(process.stdout.readline())

    def seed(self) -> dict[str, str]:
        script = f"""
import json
from builder.accounts.models import User
from builder.accounts.roles import Role
from builder.accounts.services import api_key_create, workspace_create
from builder.bots.services import bot_create, bot_publish
from builder.llm.services import model_provider_create
user = User.objects.create_user("bench", "bench@example.com", "bench-password-123")
workspace = workspace_create(actor=user, name="Bench")
model_provider_create(actor=user, workspace=workspace, name="fake", kind="openai_compatible",
    base_url="http://127.0.0.1:{self.fake_port}/v1", api_key="sk-bench", models=[{{"name": "gpt-4o-mini"}}],
    default_model="gpt-4o-mini", is_default=True)
graph = {{"version": 1, "settings": {{}}, "variables": [], "nodes": [
    {{"id": "start", "type": "start@1", "position": {{"x": 0, "y": 0}}, "data": {{"inputs": []}}}},
    {{"id": "llm", "type": "llm@1", "position": {{"x": 0, "y": 0}}, "data": {{"user_prompt": "{{{{ sys.query }}}}"}}}},
    {{"id": "answer", "type": "answer@1", "position": {{"x": 0, "y": 0}}, "data": {{"text": "{{{{ llm.text }}}}"}}}}],
  "edges": [{{"id": "a", "source": "start", "target": "llm"}}, {{"id": "b", "source": "llm", "target": "answer"}}]}}
bot, _ = bot_create(actor=user, workspace=workspace, name="Bench", draft=graph)
bot_publish(actor=user, bot=bot)
_key, raw = api_key_create(actor=user, workspace=workspace, name="bench", role=Role.VIEWER)
print(json.dumps({{"bot": str(bot.pk), "key": raw}}))
"""
        out = subprocess.run(
            [PYTHON, "manage.py", "shell", "-c", script], cwd=ROOT, env=self.env, check=True, capture_output=True
        )
        return dict(json.loads(out.stdout.decode().strip().splitlines()[-1]))

    def start_app(self) -> None:
        # AGENTLOOM_BENCH_PROFILE=<file>: profile the app process with cProfile (written at exit).
        profile = os.environ.get("AGENTLOOM_BENCH_PROFILE")
        profiler = ["-m", "cProfile", "-o", profile] if profile else []
        self._spawn(
            [
                PYTHON,
                *profiler,
                "-m",
                "uvicorn",
                "builder.config.asgi:application",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                "--lifespan",
                "off",
                "--no-access-log",
                "--workers",
                os.environ.get("AGENTLOOM_BENCH_WEB_WORKERS", "1"),
            ]
        )
        if self.mode == "celery":
            self._spawn(
                [
                    PYTHON,
                    "-m",
                    "celery",
                    "-A",
                    "builder.config",
                    "worker",
                    "-l",
                    "warning",
                    # As the Procfile runs it: runs are I/O-bound coroutines, so threads, many.
                    "--pool",
                    "threads",
                    "--concurrency",
                    os.environ.get("WORKER_CONCURRENCY", "16"),
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                ]
            )
            time.sleep(4)
        wait_port(self.port)

    def app_pids(self) -> list[int]:
        """The app's processes (uvicorn and its workers; the Celery worker), not the fake model."""
        pids = [process.pid for process in self.processes[1:]]
        children = []
        for pid in pids:
            with contextlib.suppress(FileNotFoundError):
                for task in Path(f"/proc/{pid}/task").iterdir():
                    children += [int(c) for c in (task / "children").read_text().split()]
        return pids + children

    def close(self) -> None:
        if os.environ.get("AGENTLOOM_BENCH_PROFILE"):
            # cProfile writes its file on a clean exit: interrupt the app and give it time.
            app = self.processes[1]
            app.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                app.wait(timeout=30)
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


async def _open_chat(port: int, seed: dict[str, str]) -> Any:
    import httpx
    import websockets

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        created = await client.post(
            f"/api/v1/bots/{seed['bot']}/conversations", json={}, headers={"Authorization": f"Bearer {seed['key']}"}
        )
        created.raise_for_status()
    return await websockets.connect(
        f"ws://127.0.0.1:{port}/ws/conversations/{created.json()['id']}/",
        additional_headers={"Authorization": f"Bearer {seed['key']}"},
        max_queue=None,
    )


async def _one_turn(socket_: Any, text: str) -> tuple[float, list[tuple[float, str]], dict[str, Any]]:
    """Send a message; return (seconds to the first delta, [(time, token)], the terminal event)."""
    sent = time.perf_counter()
    await socket_.send(json.dumps({"type": "message.send", "text": text}))
    first: float | None = None
    tokens: list[tuple[float, str]] = []
    while True:
        event = json.loads(await socket_.recv())
        kind = event.get("type")
        if kind == "message.delta":
            now = time.perf_counter()
            first = first if first is not None else now - sent
            tokens.append((now, event["text"]))
        elif kind in {"run.finished", "run.failed", "run.paused"}:
            return (first if first is not None else float("nan")), tokens, event
        elif kind == "error":
            raise RuntimeError(event)


async def latency(port: int, seed: dict[str, str], messages: int) -> None:
    socket_ = await _open_chat(port, seed)
    samples = []
    for index in range(messages + 5):
        first, _tokens, end = await _one_turn(socket_, f"hello {index}")
        if end["type"] != "run.finished":
            raise RuntimeError(end)
        if index >= 5:  # warm-up
            samples.append(first * 1000)
    await socket_.close()
    print(
        f"websocket message → first token: p50 {percentile(samples, 50):.1f} ms, "
        f"p99 {percentile(samples, 99):.1f} ms, mean {statistics.mean(samples):.1f} ms over {len(samples)} messages"
    )


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes and their children so far (Linux /proc)."""
    total = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    return total


async def throughput(port: int, seed: dict[str, str], clients: int, seconds: float, app_pids: list[int]) -> None:
    import httpx

    done = 0
    failed = 0
    stop_at = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client_loop(client: httpx.AsyncClient) -> None:
        nonlocal done, failed
        while time.perf_counter() < stop_at:
            response = await client.post(
                f"/api/v1/bots/{seed['bot']}/chat",
                json={"query": "hi", "stream": False},
                headers={"Authorization": f"Bearer {seed['key']}"},
            )
            if response.status_code == 200 and response.json().get("status") == "finished":
                done += 1
            else:
                failed += 1

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120, limits=limits) as client:
        for _ in range(3):  # warm-up
            await client.post(
                f"/api/v1/bots/{seed['bot']}/chat",
                json={"query": "hi", "stream": False},
                headers={"Authorization": f"Bearer {seed['key']}"},
            )
        started, cpu_before = time.perf_counter(), cpu_seconds(app_pids)
        await asyncio.gather(*(client_loop(client) for _ in range(clients)))
        elapsed, cpu = time.perf_counter() - started, cpu_seconds(app_pids) - cpu_before
    print(
        f"throughput: {done / elapsed:.1f} runs/s at {clients} concurrent clients "
        f"({done} runs in {elapsed:.1f} s, {failed} failed; the app used {cpu / max(done, 1) * 1000:.1f} ms "
        f"of CPU per run)"
    )


async def concurrency(port: int, seed: dict[str, str], chats: int, tokens: int) -> tuple[int, int, float]:
    sockets = await asyncio.gather(*(_open_chat(port, seed) for _ in range(chats)))
    results = await asyncio.gather(*(_one_turn(socket_, "stream") for socket_ in sockets), return_exceptions=True)
    await asyncio.gather(*(socket_.close() for socket_ in sockets), return_exceptions=True)
    lost = duplicated = 0
    gaps: list[float] = []
    expected = [f"t{i}" for i in range(tokens)]
    for result in results:
        if isinstance(result, BaseException):
            lost += tokens
            continue
        _first, received, _end = result
        words = "".join(text for _at, text in received).split()
        lost += max(0, len(expected) - len(set(words) & set(expected)))
        duplicated += len(words) - len(set(words))
        gaps += [(later - earlier) * 1000 for (earlier, _), (later, _) in itertools.pairwise(received)]
    p99 = percentile(gaps, 99) if gaps else float("nan")
    print(
        f"{chats:4d} chats × {tokens} tokens: lost {lost}, duplicated {duplicated}, "
        f"inter-token gap p50 {percentile(gaps, 50) if gaps else float('nan'):.1f} ms, p99 {p99:.1f} ms"
    )
    return lost, duplicated, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("benchmark", choices=["latency", "throughput", "concurrency"])
    parser.add_argument("--mode", choices=["embedded", "celery"], default="embedded")
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--chats", default="50,100,200,300,500")
    args = parser.parse_args()
    paced = args.benchmark == "concurrency"
    tokens = 200 if paced else 20
    stack = Stack(args.mode, tokens=tokens, tokens_per_second=50.0 if paced else 0.0)
    try:
        seed = stack.seed()
        stack.start_app()
        print(f"mode: {args.mode}; app on :{stack.port}; fake model on :{stack.fake_port}")
        if args.benchmark == "latency":
            asyncio.run(latency(stack.port, seed, args.messages))
        elif args.benchmark == "throughput":
            asyncio.run(throughput(stack.port, seed, args.clients, args.seconds, stack.app_pids()))
        else:
            best = 0
            for chats in [int(n) for n in args.chats.split(",")]:
                lost, duplicated, p99 = asyncio.run(concurrency(stack.port, seed, chats, tokens))
                if lost == duplicated == 0 and p99 <= 100:
                    best = chats
            print(f"largest N with no lost/duplicated tokens and p99 gap ≤ 100 ms: {best}")
    finally:
        stack.close()


if __name__ == "__main__":
    main()
