"""What one chat turn costs the database: a fixed, small number of queries, whatever the graph.

Throughput is bounded by the database trips of a turn (the runtime benchmark showed it), so a change
that adds a query to every message should be a deliberate one.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from builder.accounts.roles import Role
from builder.accounts.services import api_key_create
from builder.bots.services import bot_publish
from builder.conversations.models import Run
from builder.conversations.services import conversation_create, conversation_message_send
from tests.conversations.conftest import use_fake_model
from tests.conversations.graphs import llm_bot
from tests.factories import make_bot, make_workspace, owner_of
from tests.support.fake_openai import FakeOpenAI

pytestmark = [
    pytest.mark.django_db(transaction=True),
    # Inline runs only: in production the run's queries happen in the worker.
    pytest.mark.skipif(not settings.EMBEDDED, reason="embedded default only (runs execute inline)"),
]


def test_a_published_bot_turn_costs_a_few_queries(fake_openai: FakeOpenAI) -> None:
    workspace = make_workspace()
    owner = owner_of(workspace)
    use_fake_model(workspace, owner, fake_openai)
    bot = make_bot(workspace, draft=llm_bot())
    bot_publish(actor=owner, bot=bot)
    bot.refresh_from_db()
    key, _raw = api_key_create(actor=owner, workspace=workspace, name="api", role=Role.VIEWER)
    conversation = conversation_create(actor=key, bot=bot)
    conversation_message_send(actor=key, conversation_id=conversation.pk, text="warm")

    with CaptureQueriesContext(connection) as queries:
        # What the websocket does for a message, the run executing inline to its end.
        run = conversation_message_send(actor=key, conversation_id=conversation.pk, text="hello")
    run.refresh_from_db()
    assert run.status == Run.Status.FINISHED and run.answer
    statements = [query["sql"] for query in queries.captured_queries]
    writes = [sql for sql in statements if sql.startswith(("INSERT", "UPDATE", "DELETE"))]
    # The turn: run + message in; claimed; the outcome (message, run, steps, events) in one transaction.
    assert len(writes) == 7, "\n".join(writes)
    assert len(statements) <= 18, "\n".join(sql[:160] for sql in statements)
