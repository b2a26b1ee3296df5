"""A run paused on a question survives a hard restart of the server (DESIGN.md §4).

The first server is killed with SIGKILL while the run waits for the user's answer; a fresh process
on the same data takes the answer and finishes the run from its durable checkpoint. On the
embedded default the run executes in the server itself (its checkpoint lives in the SQLite file of
the var dir); in production mode the web process is what restarts and the run goes on in the worker.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.conftest import BASE_DIR
from tests.conversations.conftest import TERMINAL, receive_until
from tests.conversations.graphs import question_bot
from tests.support.processes import AsgiServerFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

SEED = """
import json, sys
from builder.accounts.roles import Role
from builder.accounts.services import api_key_create, workspace_create
from builder.bots.services import bot_create, bot_publish
from builder.conversations.services import conversation_create
from tests.factories import make_user
owner = make_user()
workspace = workspace_create(actor=owner, name="Restart")
bot, _problems = bot_create(actor=owner, workspace=workspace, name="Asks", draft=json.loads(sys.argv[1]))
bot_publish(actor=owner, bot=bot)
bot.refresh_from_db()
key, raw = api_key_create(actor=owner, workspace=workspace, name="ws", role=Role.VIEWER)
conversation = conversation_create(actor=key, bot=bot)
print(json.dumps({"conversation": str(conversation.pk), "key": raw}))
"""


def _manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _seed(env: dict[str, str]) -> dict[str, str]:
    """A published question bot, a conversation and an API key, in the servers' own database."""
    _manage(env, "migrate", "--noinput", "-v", "0")
    out = _manage(env, "shell", "-c", SEED.replace("sys.argv[1]", repr(json.dumps(question_bot()))))
    return dict(json.loads(out.strip().splitlines()[-1]))


async def _connect(base_url: str, seed: dict[str, str]) -> Any:
    return await websockets.connect(
        f"{base_url.replace('http', 'ws', 1)}/ws/conversations/{seed['conversation']}/",
        additional_headers={"Authorization": f"Bearer {seed['key']}"},
    )


async def test_a_question_is_answered_after_the_server_was_killed(
    asgi_server: AsgiServerFactory, tmp_path: Path, run_executor: None, subprocess_database_url: str | None
) -> None:
    var_dir = {"AGENTLOOM_VAR_DIR": str(tmp_path / "var")}
    env = {**os.environ, **var_dir, **({"DATABASE_URL": subprocess_database_url} if subprocess_database_url else {})}
    seed = _seed(env)

    first = asgi_server(env=var_dir)
    async with await _connect(first, seed) as socket_:
        await socket_.send(json.dumps({"type": "message.send", "text": "hi"}))
        run_id = json.loads(await socket_.recv())["run_id"]
        paused = await receive_until(socket_, TERMINAL)
    assert paused[-1]["type"] == "run.paused"
    asgi_server.kill(first)

    second = asgi_server(env=var_dir)
    async with await _connect(second, seed) as socket_:
        await socket_.send(json.dumps({"type": "question.answer", "run_id": run_id, "answer": "Grace"}))
        resumed = await receive_until(socket_, TERMINAL)
    assert resumed[-1]["type"] == "run.finished", resumed[-1]
    assert resumed[-1]["answer"] == "Nice to meet you, Grace!"
    # The resumed stream continues the numbering of the first process's events.
    assert resumed[0]["seq"] == paused[-1]["seq"] + 1
