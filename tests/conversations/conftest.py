"""A real ASGI server (uvicorn in a thread of the test process) and helpers for chat tests.

In-process on purpose: it shares the test database (the embedded SQLite test file, or the
PostgreSQL test database) and, on the embedded default, runs bots inline on its own event loop,
exactly as ``make run`` does. In production mode runs go to the real Celery worker fixture.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from builder.engine.runtime.events import parse_event


class ThreadedServer:
    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        from builder.config.asgi import application

        config = uvicorn.Config(application, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        from builder.conversations import dispatch
        from builder.conversations.checkpoints import close_durable_checkpointer

        loop = dispatch._server_loop
        if loop is not None and loop.is_running():
            asyncio.run_coroutine_threadsafe(close_durable_checkpointer(), loop).result(timeout=10)
        self.server.should_exit = True
        self.thread.join(timeout=10)
        # A production process has one loop for its life; each test server has its own. The
        # channel layer binds its receive loop to the first loop that uses it: start afresh.
        from channels.layers import channel_layers

        channel_layers.backends.pop("default", None)


@pytest.fixture
def run_executor(request: pytest.FixtureRequest) -> None:
    """Whatever executes runs in this mode: inline (embedded) or the real Celery worker."""
    from django.conf import settings

    if not settings.EMBEDDED:
        request.getfixturevalue("celery_worker")


@pytest.fixture
def asgi_live_server(run_executor: None) -> Iterator[ThreadedServer]:
    with ThreadedServer() as server:
        yield server


async def receive_until(socket_: Any, types: set[str], timeout: float = 60.0) -> list[dict[str, Any]]:
    """Collect messages until one whose type is in ``types`` (inclusive); validate run events."""
    received: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while True:
            message = json.loads(await socket_.recv())
            if "seq" in message:
                parse_event(message)
            received.append(message)
            if message.get("type") in types:
                return received


TERMINAL = {"run.finished", "run.failed", "run.paused"}


def use_fake_model(workspace: Any, owner: Any, fake: Any) -> None:
    """Make the scripted OpenAI-compatible server the workspace's default model provider."""
    from builder.llm.services import model_provider_create

    model_provider_create(
        actor=owner,
        workspace=workspace,
        name="fake",
        kind="openai_compatible",
        base_url=fake.base_url,
        api_key="sk-test",
        models=[{"name": "gpt-4o-mini"}],
        default_model="gpt-4o-mini",
        is_default=True,
    )


def published_chat(workspace: Any, graph: dict[str, Any]) -> tuple[Any, str]:
    """A bot of ``graph`` published in ``workspace``, a viewer API key of the workspace (raw), and a
    conversation the key opened with it (for no named end user: its socket names none either)."""
    from builder.accounts.roles import Role
    from builder.accounts.services import api_key_create
    from builder.bots.services import bot_publish
    from builder.conversations.models import Source
    from builder.conversations.services import conversation_create
    from tests.factories import make_bot, owner_of

    owner = owner_of(workspace)
    bot = make_bot(workspace, draft=graph)
    bot_publish(actor=owner, bot=bot)
    bot.refresh_from_db()
    key, raw = api_key_create(actor=owner, workspace=workspace, name="ws", role=Role.VIEWER)
    return conversation_create(actor=key, bot=bot, source=Source.API), raw


async def chat_socket(
    server: ThreadedServer, conversation: Any, key: str, *, query: str = "", headers: dict[str, str] | None = None
) -> Any:
    """A websocket on the conversation, authenticated by the API key ``key``."""
    import websockets

    return await websockets.connect(
        f"{server.ws}/ws/conversations/{conversation.pk}/{query}",
        additional_headers={"Authorization": f"Bearer {key}", **(headers or {})},
    )
