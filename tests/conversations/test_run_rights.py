"""A run acts with exactly the rights of what started it (issue 11, defect 6).

A debug (draft) run started by an editor key for bot A reaches no other bot and no knowledge base:
the sub_bot and knowledge_retrieval nodes fail with a typed error, even when someone with access
put them in the draft. A published version was vetted when it was published, so the same key's
published chats use what its publisher pointed it at.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from builder.accounts.models import ApiKey
from builder.accounts.permissions import Actor
from builder.accounts.roles import Role
from builder.accounts.services import api_key_create
from builder.bots.services import bot_draft_save, bot_publish
from builder.conversations.models import Run, Source
from builder.conversations.services import conversation_create, message_send
from tests.bots.test_graph_references import Scene, calls, scene, searches

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("run_executor")]
ENDED = (Run.Status.FINISHED, Run.Status.FAILED, Run.Status.CANCELLED, Run.Status.PAUSED)


def _bot_key(s: Scene) -> ApiKey:
    key, _raw = api_key_create(actor=s.owner, workspace=s.workspace, name="A", role=Role.EDITOR, bot_id=s.bot.pk)
    return key


def _ran(actor: Actor, s: Scene, *, use_draft: bool) -> Run:
    """A chat turn with bot A as ``actor`` (in the draft's debug chat, or the published bot's)."""
    source = Source.DEBUG if use_draft else Source.API
    s.bot.refresh_from_db()
    conversation = conversation_create(actor=actor, bot=s.bot, use_draft=use_draft, source=source)
    run = message_send(actor=actor, conversation=conversation, text="hello")
    deadline = time.monotonic() + 60
    while run.status not in ENDED:
        assert time.monotonic() < deadline, f"run {run.pk} stayed {run.status}"
        time.sleep(0.05)
        run.refresh_from_db()
    return run


def _failed_step(run: Run, node_id: str) -> dict[str, Any]:
    assert run.status == Run.Status.FAILED, (run.status, run.answer)
    step = run.steps.get(node_id=node_id)
    assert step.status == "failed"
    return dict(step.error)


def test_a_bot_keys_debug_run_cannot_call_a_private_bot_put_in_its_draft() -> None:
    s = scene()
    bot_draft_save(actor=s.owner, bot=s.bot, draft=calls(s.private), revision=s.bot.draft_revision)

    error = _failed_step(_ran(_bot_key(s), s, use_draft=True), "sub")
    assert error["code"] == "permission_denied" and s.private.name not in error["message"]

    owners = _ran(s.owner, s, use_draft=True)
    assert owners.status == Run.Status.FINISHED and owners.answer == "Got: You said: hello"


def test_a_bot_keys_debug_run_cannot_search_a_knowledge_base() -> None:
    s = scene()
    bot_draft_save(actor=s.owner, bot=s.bot, draft=searches(s.kb), revision=s.bot.draft_revision)

    error = _failed_step(_ran(_bot_key(s), s, use_draft=True), "kb")
    assert error["code"] == "permission_denied"

    owners = _ran(s.owner, s, use_draft=True)
    assert owners.status == Run.Status.FINISHED and owners.answer == "Found 0"


def test_a_published_version_uses_what_its_publisher_vetted() -> None:
    s = scene()
    bot_draft_save(actor=s.owner, bot=s.bot, draft=calls(s.private), revision=s.bot.draft_revision)
    bot_publish(actor=s.owner, bot=s.bot)

    run = _ran(_bot_key(s), s, use_draft=False)
    assert run.status == Run.Status.FINISHED and run.answer == "Got: You said: hello"
