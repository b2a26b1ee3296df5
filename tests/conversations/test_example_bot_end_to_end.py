"""The multi-branch example bot (intent → knowledge / code + HTTP / hand-over) over a real websocket.

The model (intent classification) is the scripted OpenAI-compatible server; the order system is a
local HTTP server reached through the SSRF-safe client (127.0.0.1 allow-listed for this test);
the order number is extracted by the code node in the sandbox.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import websockets
from asgiref.sync import sync_to_async

from builder.accounts.roles import Role
from builder.accounts.services import api_key_create
from builder.bots.services import bot_publish
from builder.bots.transfer import bot_import
from builder.conversations.models import Conversation
from builder.conversations.services import conversation_create
from builder.knowledge.models import Document
from builder.knowledge.services import document_upload, knowledge_base_create
from tests.conversations.conftest import TERMINAL, ThreadedServer, receive_until, use_fake_model
from tests.factories import make_workspace, owner_of
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.http_server import LocalHttpServer, serve
from tests.support.knowledge import wait_for_document

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]
EXAMPLE = Path(__file__).resolve().parents[2] / "builder" / "bots" / "examples" / "02-support-triage.yaml"


def _triage_bot(fake: FakeOpenAI, orders: LocalHttpServer) -> tuple[Conversation, str]:
    workspace = make_workspace()
    owner = owner_of(workspace)
    use_fake_model(workspace, owner, fake)
    kb = knowledge_base_create(actor=owner, workspace=workspace, name="Handbook")
    handbook = document_upload(
        actor=owner,
        knowledge_base=kb,
        name="account-help.md",
        content=b"# Passwords\nTo reset your password, open Settings > Security and choose Reset password.",
    )
    assert wait_for_document(handbook).status == Document.Status.READY, handbook.error
    raw = EXAMPLE.read_text().replace("https://orders.example.com/api/orders/", orders.url("/echo?order="))
    raw = raw.replace("knowledge_bases: [handbook]", f"knowledge_bases: ['{kb.pk}']")
    bot = bot_import(actor=owner, workspace=workspace, raw=raw.encode()).bot
    bot_publish(actor=owner, bot=bot)
    bot.refresh_from_db()
    api_key, key = api_key_create(actor=owner, workspace=workspace, name="ws", role=Role.VIEWER)
    return conversation_create(actor=api_key, bot=bot), key


async def _turn(socket_: Any, text: str) -> list[dict[str, Any]]:
    await socket_.send(json.dumps({"type": "message.send", "text": text}))
    assert json.loads(await socket_.recv())["type"] == "run.queued"
    return await receive_until(socket_, TERMINAL)


def _ran(events: list[dict[str, Any]]) -> list[str]:
    return [event["node_id"] for event in events if event["type"] == "node.finished"]


async def test_the_support_triage_example_takes_each_branch(
    asgi_live_server: ThreadedServer, fake_openai: FakeOpenAI, settings: Any
) -> None:
    settings.AGENTLOOM_HTTP_ALLOWLIST = ["127.0.0.1"]
    with serve() as orders:
        conversation, key = await sync_to_async(_triage_bot)(fake_openai, orders)
        fake_openai.script(
            [
                Reply(json={"intent": "order", "reason": "Asks about an order."}),
                Reply(json={"intent": "other", "reason": "Wants a person."}),
                Reply(json={"intent": "question", "reason": "How-to question."}),
            ]
        )
        url = f"{asgi_live_server.ws}/ws/conversations/{conversation.pk}/"
        async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {key}"}) as socket_:
            order = await _turn(socket_, "Where is my order 1234567?")
            handover = await _turn(socket_, "I want to talk to a human")
            question = await _turn(socket_, "How do I reset my password?")

    # Order branch: intent → code (sandbox) → HTTP (SSRF-safe client) → answer.
    assert order[-1]["type"] == "run.finished", [e for e in order if e["type"] in {"node.failed", "run.failed"}]
    assert _ran(order) == ["start", "classify", "order_number", "order_lookup", "answer_order"]
    code_step = next(e for e in order if e["type"] == "node.finished" and e["node_id"] == "order_number")
    assert code_step["outputs"] == {"order_id": "1234567"}
    assert orders.requests[-1].query == {"order": "1234567"}
    assert order[-1]["answer"].startswith("Order 1234567: ")
    assert next(e for e in order if e["type"] == "node.finished" and e["node_id"] == "classify")["branch"] == "order"

    # "other" branch: straight to the hand-over answer; the untaken branches emit nothing.
    assert handover[-1]["type"] == "run.finished"
    assert _ran(handover) == ["start", "classify", "handover"]
    assert "转接人工客服" in handover[-1]["answer"]

    # Knowledge branch: the handbook's excerpt (with its source) reaches the model that answers.
    assert question[-1]["type"] == "run.finished", [e for e in question if e["type"] in {"node.failed", "run.failed"}]
    assert _ran(question) == ["start", "classify", "handbook", "explain", "answer_question"]
    handbook = next(e for e in question if e["type"] == "node.finished" and e["node_id"] == "handbook")
    chunks = handbook["outputs"]["chunks"]
    assert chunks[0]["document_name"] == "account-help.md" and "Reset password" in chunks[0]["content"]
    assert "Settings > Security" in fake_openai.requests[-1].text("system")
