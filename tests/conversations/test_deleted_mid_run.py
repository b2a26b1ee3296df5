"""A conversation (or its bot) deleted while one of its runs executes: the executor stops quietly.

Deleting a chat is a normal thing to do while the bot is still answering; the worker must then
drop the run, not crash on rows that are gone (nor log it as a crash)."""

from __future__ import annotations

import asyncio
import logging

import pytest
from asgiref.sync import sync_to_async

from builder.conversations.executor import execute_run
from builder.conversations.models import Conversation, Run
from tests.conversations.conftest import use_fake_model
from tests.conversations.graphs import llm_bot
from tests.factories import make_bot, make_workspace, owner_of
from tests.support.fake_openai import FakeOpenAI, Reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def _queued_run(fake: FakeOpenAI) -> Run:
    workspace = make_workspace()
    owner = owner_of(workspace)
    use_fake_model(workspace, owner, fake)
    bot = make_bot(workspace, draft=llm_bot())
    conversation = Conversation.objects.create(bot=bot, use_draft=True, user=owner)
    return Run.objects.create(conversation=conversation, bot=bot, graph=bot.draft, query="hello", created_by=owner)


async def test_deleting_the_conversation_while_its_run_executes_stops_the_run_quietly(
    fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    fake_openai.script([Reply(text=" ".join(f"w{i}" for i in range(40)), tokens_per_second=40)])
    run = await sync_to_async(_queued_run)(fake_openai)
    execution = asyncio.create_task(execute_run(str(run.pk)))
    await asyncio.to_thread(fake_openai.wait_for_requests, 1, 30.0)
    await Conversation.objects.filter(pk=run.conversation_id).adelete()

    with caplog.at_level(logging.ERROR):
        await asyncio.wait_for(execution, timeout=60)

    assert not await Run.objects.filter(pk=run.pk).aexists()
    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR] == []
