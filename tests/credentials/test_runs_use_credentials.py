"""A run sends the credential a graph references, and nothing a reader sees holds it.

The bot's editor types a token into an http node; the stored graph holds a reference. A chat
through the published API reaches a scripted server on 127.0.0.1 (allow-listed) with the right
token, while the answer, the events and the run's trace show it masked. A credential deleted
since fails the node with a typed error, not a 500.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async

from builder.accounts.roles import Role
from builder.accounts.services import api_key_create
from builder.bots.models import Bot
from builder.bots.services import bot_draft_save, bot_publish
from builder.credentials.models import Credential
from tests.conversations.conftest import ThreadedServer
from tests.factories import make_bot, make_workspace, owner_of
from tests.support.graphs import linear_bot, node
from tests.support.http_server import LocalHttpServer, serve

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

TOKEN = "sk-run-7c1d9e8f0a2b"
API_KEY = "ak-query-5e6f7a8b9c0d"


def _published(api: LocalHttpServer) -> tuple[Bot, str]:
    """A bot calling ``api`` with a bearer token and an API-key query parameter, saved as typed in."""
    workspace = make_workspace()
    owner = owner_of(workspace)
    bot = make_bot(workspace)
    fetch = node(
        "fetch",
        "http_request",
        {
            "url": api.url("/text"),  # a reply that does not echo the request (the echo would hold the token)
            "query": {"api_key": API_KEY, "city": "Paris"},
            "auth": {"type": "bearer", "token": TOKEN},
        },
    )
    graph = linear_bot(
        node("start", "start", {"inputs": []}), fetch, node("answer", "answer", {"text": "{{ fetch.status_code }}"})
    )
    saved, _problems = bot_draft_save(actor=owner, bot=bot, draft=graph, revision=bot.draft_revision)
    assert TOKEN not in json.dumps(saved.draft) and API_KEY not in json.dumps(saved.draft)
    bot_publish(actor=owner, bot=saved)
    _key, raw = api_key_create(actor=owner, workspace=workspace, name="api", role=Role.VIEWER)
    return saved, raw


async def _chat(server: ThreadedServer, bot: Bot, key: str) -> tuple[dict[str, Any], dict[str, Any]]:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=server.http, timeout=60) as client:
        body = {"query": "go", "stream": False}
        answer = await client.post(f"/api/v1/bots/{bot.pk}/chat", json=body, headers=headers)
        assert answer.status_code == 200, answer.text
        run = await client.get(f"/api/v1/runs/{answer.json()['run_id']}", headers=headers)
        assert run.status_code == 200, run.text
    return answer.json(), run.json()


async def test_the_run_authenticates_with_the_stored_credential(
    asgi_live_server: ThreadedServer, settings: Any
) -> None:
    settings.AGENTLOOM_HTTP_ALLOWLIST = ["127.0.0.1"]
    with serve() as api:
        bot, key = await sync_to_async(_published)(api)
        answer, run = await _chat(asgi_live_server, bot, key)

    assert answer["status"] == "finished" and answer["answer"] == "200", answer
    sent = api.requests[-1]
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert sent.query == {"api_key": API_KEY, "city": "Paris"}
    seen = json.dumps(answer) + json.dumps(run)
    assert TOKEN not in seen and API_KEY not in seen
    assert "Paris" in seen  # the trace is there, with its secrets masked


async def test_a_deleted_credential_fails_the_node_with_a_typed_error(
    asgi_live_server: ThreadedServer, settings: Any
) -> None:
    settings.AGENTLOOM_HTTP_ALLOWLIST = ["127.0.0.1"]
    with serve() as api:
        bot, key = await sync_to_async(_published)(api)
        await Credential.objects.filter(workspace_id=bot.workspace_id).adelete()
        answer, run = await _chat(asgi_live_server, bot, key)

    assert answer["status"] == "failed", answer
    assert api.requests == []
    assert "credential_missing" in json.dumps(run)
