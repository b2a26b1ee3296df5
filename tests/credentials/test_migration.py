"""The data migration moves secrets stored in old graphs (drafts, versions, draft runs) into credentials."""

from __future__ import annotations

import copy
import importlib
from typing import Any

import pytest
from django.apps import apps
from django.db import connection

from builder.bots.drafts import graph_checksum
from builder.bots.models import Bot, BotVersion
from builder.conversations.models import Conversation, Run
from builder.core.crypto import decrypt_secret
from builder.credentials.models import Credential
from tests.factories import make_bot, make_workspace

pytestmark = pytest.mark.django_db

migration = importlib.import_module("builder.credentials.migrations.0002_graph_secrets_to_credentials")
TOKEN = "sk-old-plaintext-0042"
PASSWORD = "hunter2-but-longer"


def old_shape(base: dict[str, Any]) -> dict[str, Any]:
    """A graph as it was stored before credentials existed: secrets in clear."""
    draft = copy.deepcopy(base)
    draft["nodes"].append(
        {
            "id": "fetch",
            "type": "http_request@1",
            "position": {"x": 0, "y": 0},
            "data": {
                "title": "Orders",
                "url": "https://orders.example.com/api",
                "headers": {"X-Trace": "{{ sys.user_id }}", "Authorization": f"Bearer {TOKEN}"},
                "auth": {"type": "basic", "username": "ada", "password": PASSWORD},
                "body": {"type": "json", "content": {"login": "ada", "client_secret": TOKEN}},
            },
        }
    )
    draft["edges"].append({"id": "start-fetch", "source": "start", "target": "fetch"})
    return draft


def everything_stored() -> str:
    with connection.cursor() as cursor:
        texts = []
        for table, column in (("bots_bot", "draft"), ("bots_botversion", "graph"), ("conversations_run", "graph")):
            cursor.execute(f"SELECT {column} FROM {table}")
            texts += [str(row[0]) for row in cursor.fetchall()]
    return "\n".join(texts)


@pytest.fixture
def old_rows() -> Bot:
    """A bot whose draft, published version and paused draft run all hold the secrets in clear."""
    bot = make_bot(make_workspace(), name="Orders bot")
    graph = old_shape(bot.draft)
    Bot.objects.filter(pk=bot.pk).update(draft=graph)
    BotVersion.objects.create(bot=bot, number=1, name=bot.name, graph=graph, checksum=graph_checksum(graph))
    conversation = Conversation.objects.create(bot=bot, use_draft=True)
    Run.objects.create(conversation=conversation, bot=bot, graph=graph, status=Run.Status.PAUSED)
    assert TOKEN in everything_stored() and PASSWORD in everything_stored()
    return bot


def fetch_data(document: dict[str, Any]) -> dict[str, Any]:
    return next(node["data"] for node in document["nodes"] if node["id"] == "fetch")


def test_forward_leaves_no_plaintext_and_one_credential_per_value(old_rows: Bot) -> None:
    migration.graph_secrets_to_credentials(apps, None)

    assert TOKEN not in everything_stored() and PASSWORD not in everything_stored()
    bot = Bot.objects.get(pk=old_rows.pk)
    version = bot.versions.get(number=1)
    run = Run.objects.get(bot=bot)
    data = fetch_data(bot.draft)
    # Draft, version and run reference the same credentials, so the draft still matches its version.
    assert bot.draft == version.graph == run.graph
    assert version.checksum == graph_checksum(version.graph)
    assert data["headers"]["X-Trace"] == "{{ sys.user_id }}" and data["auth"]["username"] == "ada"
    values = {
        path: decrypt_secret(Credential.objects.get(pk=ref["credential"], workspace=bot.workspace).value_encrypted)
        for path, ref in {
            "header": data["headers"]["Authorization"],
            "password": data["auth"]["password"],
            "body": data["body"]["content"]["client_secret"],
        }.items()
    }
    assert values == {"header": f"Bearer {TOKEN}", "password": PASSWORD, "body": TOKEN}
    assert Credential.objects.filter(workspace=bot.workspace).count() == 3
    assert Credential.objects.get(pk=data["auth"]["password"]["credential"]).kind == "password"


def test_running_it_twice_changes_nothing_more(old_rows: Bot) -> None:
    migration.graph_secrets_to_credentials(apps, None)
    first = Bot.objects.get(pk=old_rows.pk).draft
    count = Credential.objects.count()

    migration.graph_secrets_to_credentials(apps, None)

    assert Bot.objects.get(pk=old_rows.pk).draft == first
    assert Credential.objects.count() == count


def test_backward_puts_the_values_back_for_the_old_code(old_rows: Bot) -> None:
    before = Bot.objects.get(pk=old_rows.pk).draft
    migration.graph_secrets_to_credentials(apps, None)

    migration.credentials_back_into_graphs(apps, None)

    bot = Bot.objects.get(pk=old_rows.pk)
    assert bot.draft == before == bot.versions.get(number=1).graph
    assert bot.versions.get(number=1).checksum == graph_checksum(before)
