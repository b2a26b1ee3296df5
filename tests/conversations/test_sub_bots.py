"""sub_bot: a bot calls another bot of its workspace at that bot's live version."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from builder.bots.services import bot_publish
from builder.conversations.models import Run
from builder.conversations.services import conversation_create, message_send
from tests.conversations.graphs import echo_bot
from tests.factories import make_bot, make_workspace, owner_of

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio, pytest.mark.usefixtures("run_executor")]


def _caller(callee_id: str) -> dict[str, Any]:
    node = lambda node_id, kind, data: {"id": node_id, "type": f"{kind}@1", "position": {"x": 0, "y": 0}, "data": data}  # noqa: E731
    return {
        "version": 1,
        "nodes": [
            node("start", "start", {"inputs": []}),
            node("sub", "sub_bot", {"bot_id": callee_id, "inputs": {"query": "from the parent"}}),
            node("answer", "answer", {"text": "Parent got: {{ sub.answer }}"}),
        ],
        "edges": [{"id": "a", "source": "start", "target": "sub"}, {"id": "b", "source": "sub", "target": "answer"}],
        "variables": [],
        "settings": {},
    }


def _send(*, publish_callee: bool, self_call: bool = False) -> Run:
    workspace = make_workspace()
    owner = owner_of(workspace)
    callee = make_bot(workspace, name="Echo", draft=echo_bot())
    if publish_callee:
        bot_publish(actor=owner, bot=callee)
    caller = make_bot(workspace, name="Caller", draft=_caller(str(callee.pk)))
    if self_call:
        caller.draft = _caller(str(caller.pk))
        caller.save()
    bot_publish(actor=owner, bot=caller)
    caller.refresh_from_db()
    return message_send(actor=owner, conversation=conversation_create(actor=owner, bot=caller), text="hi")


async def _finished(run: Run) -> Run:
    for _ in range(200):
        await run.arefresh_from_db()
        if run.status not in Run.ACTIVE:
            return run
        await asyncio.sleep(0.05)
    raise AssertionError("the run did not end")


async def test_a_bot_uses_another_bots_answer() -> None:
    run = await _finished(await sync_to_async(_send)(publish_callee=True))
    assert run.status == Run.Status.FINISHED, run.error
    assert run.answer == "Parent got: You said: from the parent"


async def test_an_unpublished_callee_fails_the_node_with_a_reason() -> None:
    run = await _finished(await sync_to_async(_send)(publish_callee=False))
    assert run.status == Run.Status.FAILED
    step = await run.steps.aget(node_id="sub")
    assert step.status == "failed" and step.error["code"] == "not_published"


async def test_a_bot_calling_itself_stops_at_the_depth_limit() -> None:
    run = await _finished(await sync_to_async(_send)(publish_callee=True, self_call=True))
    assert run.status == Run.Status.FAILED
    step = await run.steps.aget(node_id="sub")
    assert step.error["code"] == "sub_bot_failed" and "at most" in step.error["message"]
