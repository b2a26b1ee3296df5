"""How long the server takes to refuse hostile input (issue 11.5). Prints figures; asserts nothing.

    .venv/bin/python benchmarks/hostile_input.py [--repeat 3]

Starts the app (uvicorn, one process, the embedded default in a temp dir), seeds a user, a
workspace, an editor API key and a published echo bot through the product's services (the key
opens a conversation through the chat endpoint, for the websocket attacks), then sends
each attack over real HTTP / websocket and prints, per attack, the status (or the websocket
frame's code) and the time from sending the request to having the whole answer (the median of
``--repeat`` tries), and the server's CPU time spent on them (its /proc stat before and after).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import websockets

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.chat_load import free_port, wait_port  # noqa: E402

PYTHON = sys.executable
UVICORN = [PYTHON, "-m", "uvicorn", "builder.config.asgi:application", "--log-level", "error"]
DEEP = "[" * 10_000 + "]" * 10_000

SEED = """
import json
from builder.accounts.models import User
from builder.accounts.roles import Role
from builder.accounts.services import api_key_create, workspace_create
from builder.bots.services import bot_create, bot_publish
from tests.conversations.graphs import echo_bot
user = User.objects.create_user("bench", "bench@example.com", "bench-password-123")
workspace = workspace_create(actor=user, name="Bench")
bot, _ = bot_create(actor=user, workspace=workspace, name="Echo", draft=echo_bot())
bot_publish(actor=user, bot=bot)
bot.refresh_from_db()
_key, raw = api_key_create(actor=user, workspace=workspace, name="bench", role=Role.EDITOR)
print(json.dumps({"workspace": str(workspace.pk), "bot": str(bot.pk), "key": raw}))
"""


def yaml_file(extra: str) -> bytes:
    """A bot file whose valid header is followed by the hostile ``extra`` lines."""
    header = "kind: agentloom/bot\nformat_version: 1\nbot: {name: Hostile}\n"
    header += "graph: {version: 1, nodes: [], edges: []}\n"
    return (header + extra).encode()


class Server:
    def __init__(self) -> None:
        self.env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
        self.env.update(
            AGENTLOOM_VAR_DIR=tempfile.mkdtemp(prefix="agentloom-hostile-"),
            PYTHONPATH=str(ROOT),
            AGENTLOOM_LOG_LEVEL="ERROR",
            DJANGO_SETTINGS_MODULE="builder.config.settings",
        )
        subprocess.run([PYTHON, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=self.env, check=True)
        seeded = subprocess.run(
            [PYTHON, "manage.py", "shell", "-c", SEED], cwd=ROOT, env=self.env, check=False, capture_output=True
        )
        if seeded.returncode:
            raise RuntimeError(seeded.stderr.decode()[-3000:])
        self.ids: dict[str, str] = json.loads(seeded.stdout.decode().strip().splitlines()[-1])
        self.port = free_port()
        self.process = subprocess.Popen(
            [*UVICORN, "--port", str(self.port)],
            cwd=ROOT,
            env=self.env,
            start_new_session=True,
            stderr=(Path(self.env["AGENTLOOM_VAR_DIR"]) / "server.log").open("wb"),  # its "Bad Request" lines
        )
        wait_port(self.port)
        self.ids["conversation"] = self._own_conversation()

    def _own_conversation(self) -> str:
        """A conversation the API key opened (only its owner may listen to it)."""
        response = httpx.post(
            f"http://127.0.0.1:{self.port}/api/v1/bots/{self.ids['bot']}/chat",
            json={"query": "hello", "stream": False},
            headers={"Authorization": f"Bearer {self.ids['key']}"},
            timeout=60,
        )
        response.raise_for_status()
        return str(response.json()["conversation_id"])

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


async def http_attack(server: Server, method: str, path: str, body: bytes, content_type: str, *, auth: bool) -> str:
    headers = {"Content-Type": content_type}
    if auth:
        headers["Authorization"] = f"Bearer {server.ids['key']}"
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=600) as client:
        if not auth:  # a browser's anonymous POST carries the CSRF cookie and header
            headers["X-CSRFToken"] = (await client.get("/api/v1/auth/csrf")).cookies.get("csrftoken") or ""
        response = await client.request(method, path, content=body, headers=headers)
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        code = "-"
    return f"{response.status_code} {code}"


async def websocket_attack(server: Server, frame: str | bytes) -> str:
    url = f"ws://127.0.0.1:{server.port}/ws/conversations/{server.ids['conversation']}/"
    async with websockets.connect(
        url, additional_headers={"Authorization": f"Bearer {server.ids['key']}"}, max_size=None
    ) as socket_:
        await socket_.send(frame)
        answer = json.loads(await asyncio.wait_for(socket_.recv(), timeout=600))
    return f"frame {answer.get('type')} {answer.get('code', '')}".strip()


Attack = Callable[[], Awaitable[str]]


def attacks(server: Server) -> list[tuple[str, Attack]]:
    bot, workspace = server.ids["bot"], server.ids["workspace"]
    chat, imports = f"/api/v1/bots/{bot}/chat", f"/api/v1/workspaces/{workspace}/bots/import"

    def send(method: str, path: str, body: str | bytes, content_type: str = "application/json") -> Attack:
        raw = body.encode() if isinstance(body, str) else body
        return lambda: http_attack(server, method, path, raw, content_type, auth=not path.startswith("/api/v1/auth/"))

    def upload(extra: str) -> Attack:
        return send("POST", imports, yaml_file(extra), "application/x-yaml")

    def frame(data: str | bytes) -> Attack:
        return lambda: websocket_attack(server, data)

    def zeros(count: int) -> str:
        return "x: [" + ",".join(["0"] * count) + "]\n"

    deep_login = '{"username": ' + DEEP + "}"
    flat = '{"username": "x", "password": "y", "extra": [' + ",".join(["[]"] * 800_000) + "]}"
    return [
        ("JSON nested 10,000 levels -> /auth/login", send("POST", "/api/v1/auth/login", deep_login)),
        ("JSON nested 10,000 levels -> /auth/signup", send("POST", "/api/v1/auth/signup", deep_login)),
        ("JSON nested 10,000 levels -> PUT draft", send("PUT", f"/api/v1/bots/{bot}/draft", '{"draft": ' + DEEP + "}")),
        ("JSON nested 10,000 levels -> SSE chat", send("POST", chat, '{"query": ' + DEEP + "}")),
        ("2.4 MB of 800k flat arrays -> /auth/login", send("POST", "/api/v1/auth/login", flat)),
        ("lone surrogate in query -> SSE chat", send("POST", chat, '{"query": "\\ud800", "stream": false}')),
        ("lone surrogate in user -> SSE chat", send("POST", chat, '{"query": "hi", "user": "\\udc00"}')),
        ("JSON nested 10,000 levels -> websocket", frame('{"type": "message.send", "text": ' + DEEP + "}")),
        ("lone surrogate in text -> websocket", frame('{"type": "message.send", "text": "\\ud800"}')),
        ("binary frame -> websocket", frame(b"\x00\x01")),
        ("YAML import, a 100,000-digit integer", upload("x: " + "1" * 100_000 + "\n")),
        ("YAML import, 400 KB of ~200k values", upload(zeros(200_001))),
        ("YAML import, 2 MB of ~1M values", upload(zeros(1_040_000))),
        ("YAML import, 199,900 values (accepted)", upload(zeros(199_900))),
    ]


async def main(repeat: int) -> None:
    server = Server()
    try:
        print(f"{'attack':<46} {'answer':<28} {'median s':>9} {'server CPU s':>13}")
        for label, attack in attacks(server):
            times, answer = [], ""
            cpu_before = server.cpu_seconds()
            for _ in range(repeat):
                started = time.perf_counter()
                try:
                    answer = await attack()
                except (OSError, websockets.ConnectionClosed, httpx.HTTPError) as error:  # the old server drops
                    answer = f"dropped ({type(error).__name__})"
                times.append(time.perf_counter() - started)
            cpu = (server.cpu_seconds() - cpu_before) / repeat
            print(f"{label:<46} {answer:<28} {statistics.median(times):>9.3f} {cpu:>13.3f}", flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    asyncio.run(main(parser.parse_args().repeat))
