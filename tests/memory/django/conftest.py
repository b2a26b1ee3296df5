"""Bots that remember their users: helpers to run turns and wait for what is learned in the background.

Turns run wherever this mode runs them (inline on the embedded default, the real Celery worker in
production), and so does learning (a background thread, or the worker): tests wait for its effect.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings

from builder.accounts.models import ApiKey, User, Workspace
from builder.accounts.roles import Role
from builder.accounts.services import api_key_create
from builder.bots.models import Bot
from builder.bots.services import bot_publish
from builder.conversations.models import Conversation, Run, Source
from builder.conversations.services import conversation_create, message_send
from builder.core.background import wait_for_background
from builder.memory.catalog import scope_of
from builder.memory.core import MemoryFact
from builder.memory.models import api_end_user_id
from builder.memory.store import memory_store
from tests.factories import make_bot, make_workspace, owner_of
from tests.support.graphs import linear_bot, node

FINISHED = (Run.Status.FINISHED, Run.Status.FAILED, Run.Status.CANCELLED, Run.Status.PAUSED)


@pytest.fixture(autouse=True)
def _background_work(request: pytest.FixtureRequest) -> Iterator[None]:
    """Runs and learning happen where this mode does background work: this process (embedded; its
    learning thread is drained before the database is flushed) or the real Celery worker."""
    if not settings.EMBEDDED:
        request.getfixturevalue("celery_worker")
    yield
    wait_for_background()


def graph(
    *nodes: dict[str, Any], memory: dict[str, Any] | None = None, variables: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    settings = {"persona": "Be brief.", **({"memory": memory} if memory is not None else {})}
    return linear_bot(*nodes, settings=settings, variables=variables)


def remembering_llm_bot(*, llm_extraction: bool = False) -> dict[str, Any]:
    """start → llm (long-term memory on) → answer, with the bot's memory on."""
    return graph(
        node("start", "start", {"inputs": []}),
        node("llm", "llm", {"user_prompt": "{{ sys.query }}", "long_term_memory": True, "memory_recall_k": 5}),
        node("answer", "answer", {"text": "{{ llm.text }}"}),
        memory={"enabled": True, "llm_extraction": llm_extraction},
    )


def remembering_echo_bot() -> dict[str, Any]:
    """start → template → answer: needs no model; learns with the rules."""
    return graph(
        node("start", "start", {"inputs": []}),
        node("echo", "template", {"template": "You said: {{ sys.query }}"}),
        node("answer", "answer", {"text": "{{ echo.text }}"}),
        memory={"enabled": True},
    )


def published_bot(workspace: Workspace, document: dict[str, Any]) -> Bot:
    bot = make_bot(workspace, draft=document)
    bot_publish(actor=owner_of(workspace), bot=bot)
    bot.refresh_from_db()
    return bot


def api_key(workspace: Workspace, *, role: str = Role.VIEWER, bot: Bot | None = None) -> tuple[ApiKey, str]:
    bot_id = bot.pk if bot is not None else None
    return api_key_create(actor=owner_of(workspace), workspace=workspace, name="app", role=role, bot_id=bot_id)


def new_workspace() -> tuple[Workspace, User]:
    workspace = make_workspace()
    return workspace, owner_of(workspace)


def chat(actor: User | ApiKey, bot: Bot, end_user_id: str = "") -> Conversation:
    """A new conversation with the published bot, as an API client speaking for ``end_user_id``."""
    return conversation_create(actor=actor, bot=bot, source=Source.API, end_user_id=end_user_id)


def end_user_of(key: ApiKey, name: str) -> str:
    """The end user ``name`` of ``key`` as the bot's memory knows them (the key's own namespace)."""
    return api_end_user_id(key.pk, name)


def turn(actor: User | ApiKey, conversation: Conversation, text: str, timeout_s: float = 60.0) -> Run:
    """Send a message and wait for the run to end (it runs inline or on the worker); an API key
    speaks for the end user it opened the conversation for."""
    run = message_send(actor=actor, conversation=conversation, text=text, end_user=conversation.end_user_id)
    deadline = time.monotonic() + timeout_s
    while True:
        run.refresh_from_db()
        if run.status in FINISHED:
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run.pk} stayed {run.status}")
        time.sleep(0.05)


def remembered(bot: Bot, end_user_id: str) -> list[MemoryFact]:
    return memory_store().list(scope_of(bot.pk, end_user_id))


def wait_for_facts(bot: Bot, end_user_id: str, *texts: str, timeout_s: float = 60.0) -> list[MemoryFact]:
    """The end user's facts once every one of ``texts`` is among them (learning runs in the background)."""
    deadline = time.monotonic() + timeout_s
    while True:
        wait_for_background(timeout_s)
        facts = remembered(bot, end_user_id)
        known = {fact.text for fact in facts}
        if all(text in known for text in texts):
            return facts
        if time.monotonic() > deadline:
            raise AssertionError(f"{end_user_id} of {bot.name}: expected {texts}, remembered {sorted(known)}")
        time.sleep(0.05)
