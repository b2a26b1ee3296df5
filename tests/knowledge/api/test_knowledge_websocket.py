"""The builder watches documents being indexed on ``ws/knowledge/<kb id>/`` (the full ASGI stack:
origin check, session and API-key authentication, routing, the consumer, the channel layer)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator
from django.conf import settings
from django.test import Client

from builder.accounts.models import User
from builder.accounts.roles import Role
from builder.config.asgi import application
from builder.knowledge import services
from builder.knowledge.events import DocumentProgress
from builder.knowledge.models import Chunk, Document, KnowledgeBase
from tests.factories import client_for, key_client, make_workspace, member, owner_of
from tests.knowledge.api.support import upload
from tests.support.knowledge import wait_for_document

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

# Embedded, a tiny document is indexed in milliseconds; in production through the Celery worker.
EVENT_TIMEOUT_S = 10.0 if settings.EMBEDDED else 30.0


class WebsocketCommunicator(ApplicationCommunicator):
    """Channels' ``WebsocketCommunicator``, reduced to what these tests use: importing
    ``channels.testing`` needs daphne, which this project does not install."""

    def __init__(self, path: str, headers: list[tuple[bytes, bytes]]) -> None:
        scope = {"type": "websocket", "path": path, "query_string": b"", "headers": headers, "subprotocols": []}
        super().__init__(application, scope)

    async def connect(self, timeout: float = 5) -> bool:
        await self.send_input({"type": "websocket.connect"})
        return bool((await self.receive_output(timeout))["type"] == "websocket.accept")

    async def send_json_to(self, data: Any) -> None:
        await self.send_input({"type": "websocket.receive", "text": json.dumps(data)})

    async def receive_json_from(self, timeout: float = 1) -> Any:
        message = await self.receive_output(timeout)
        assert message["type"] == "websocket.send", message
        return json.loads(message["text"])

    async def disconnect(self, timeout: float = 5) -> None:
        if self.future.done():  # closed by the consumer, or cancelled by a receive that timed out
            return
        await self.send_input({"type": "websocket.disconnect", "code": 1000})
        await self.wait(timeout)


@pytest.fixture(autouse=True)
def _fresh_channel_layer() -> Iterator[None]:
    """Each test runs on its own event loop; a Redis channel layer binds to the first loop that uses it."""
    from channels.layers import channel_layers

    channel_layers.backends.pop("default", None)
    yield
    channel_layers.backends.pop("default", None)


def _knowledge_base() -> tuple[KnowledgeBase, User]:
    workspace = make_workspace()
    owner = owner_of(workspace)
    return services.knowledge_base_create(actor=owner, workspace=workspace, name="Manuals"), owner


def _session_cookie(user: User) -> bytes:
    browser = Client()
    browser.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


def _upload(user: User, kb: KnowledgeBase, filename: str, content: bytes, content_type: str = "text/plain") -> str:
    """Upload through the API as ``user``; the new document's id."""
    response = upload(client_for(user), kb.pk, filename, content, content_type)
    assert response.status_code == 201, response.content
    return str(response.json()["id"])


def _socket(kb_id: Any, headers: list[tuple[bytes, bytes]] | None = None) -> WebsocketCommunicator:
    return WebsocketCommunicator(f"/ws/knowledge/{kb_id}/", headers or [])


async def _events_until_finished(socket_: WebsocketCommunicator, document_id: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + EVENT_TIMEOUT_S
    while not events or events[-1]["status"] not in ("ready", "failed"):
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no finishing event, only {events}"
        event = await socket_.receive_json_from(timeout=remaining)
        DocumentProgress.model_validate(event)  # typed, extra="forbid"
        if event["document_id"] == document_id:
            events.append(event)
    return events


async def test_a_member_sees_an_upload_progress_up_to_ready() -> None:
    kb, owner = await sync_to_async(_knowledge_base)()
    viewer = await sync_to_async(member)(kb.workspace, Role.VIEWER)
    socket_ = _socket(kb.pk, [(b"cookie", await sync_to_async(_session_cookie)(viewer))])
    assert await socket_.connect()
    try:
        # Uploaded after connecting, by someone else: the viewer's page follows it.
        document_id = await sync_to_async(_upload)(owner, kb, "a.txt", b"Aurora pairing guide.")
        events = await _events_until_finished(socket_, document_id)
    finally:
        await socket_.disconnect()
    statuses = [event["status"] for event in events]
    assert statuses[0] in ("parsing", "chunking") and statuses[-1] == "ready", statuses
    assert events[-1]["progress"] == 100 and events[-1]["chunk_count"] == 1 and events[-1]["error"] is None
    assert {event["type"] for event in events} == {"document.progress"}
    assert {event["knowledge_base_id"] for event in events} == {str(kb.pk)}


async def test_an_api_key_watches_a_failing_document() -> None:
    kb, owner = await sync_to_async(_knowledge_base)()
    _client, raw = await sync_to_async(key_client)(kb.workspace, role=Role.VIEWER)
    socket_ = _socket(kb.pk, [(b"authorization", f"Bearer {raw}".encode())])
    assert await socket_.connect()
    try:
        document_id = await sync_to_async(_upload)(owner, kb, "r.pdf", b"%PDF-1.7 broken", "application/pdf")
        events = await _events_until_finished(socket_, document_id)
    finally:
        await socket_.disconnect()
    assert events[-1]["status"] == "failed" and events[-1]["error"]["code"] == "corrupt_file"


def _ready_chunk(owner: User, kb: KnowledgeBase) -> tuple[str, str]:
    document_id = _upload(owner, kb, "a.txt", b"The warranty is one year.")
    assert wait_for_document(Document.objects.get(pk=document_id)).status == Document.Status.READY
    return document_id, str(Chunk.objects.get(document_id=document_id).pk)


def _edit_chunk(user: User, chunk_id: str, text: str) -> None:
    assert client_for(user).patch(f"/api/v1/chunks/{chunk_id}", {"text": text}).status_code == 200


async def test_an_edited_chunk_is_announced_and_the_socket_only_listens() -> None:
    kb, owner = await sync_to_async(_knowledge_base)()
    document_id, chunk_id = await sync_to_async(_ready_chunk)(owner, kb)
    socket_ = _socket(kb.pk, [(b"cookie", await sync_to_async(_session_cookie)(owner))])
    assert await socket_.connect()
    try:
        await sync_to_async(_edit_chunk)(owner, chunk_id, "The warranty is three years.")
        event = await socket_.receive_json_from(timeout=EVENT_TIMEOUT_S)
        await socket_.send_json_to({"type": "document.delete", "document_id": document_id})
        refused = await socket_.receive_json_from(timeout=5)
        await socket_.send_input({"type": "websocket.receive", "text": "not json"})
        assert (await socket_.receive_json_from(timeout=5))["type"] == "error"
    finally:
        await socket_.disconnect()
    assert DocumentProgress.model_validate(event).document_id == document_id
    assert (event["status"], event["chunk_count"]) == ("ready", 1)
    assert refused["type"] == "error" and refused["code"] == "invalid"
    assert await Document.objects.filter(pk=document_id).aexists()


async def _refusal(socket_: WebsocketCommunicator) -> tuple[dict[str, Any], int]:
    assert await socket_.connect()  # accepted, told why, then closed
    error = await socket_.receive_json_from(timeout=5)
    closed = await socket_.receive_output(timeout=5)
    assert closed["type"] == "websocket.close"
    await socket_.wait()
    return error, int(closed["code"])


async def test_strangers_and_anonymous_clients_are_refused_with_a_reason() -> None:
    kb, _owner = await sync_to_async(_knowledge_base)()
    error, code = await _refusal(_socket(kb.pk))
    assert (error["type"], error["code"], code) == ("error", "not_authenticated", 4401)

    other_workspace = await sync_to_async(make_workspace)(name="Other")
    stranger = await sync_to_async(owner_of)(other_workspace)
    error, code = await _refusal(_socket(kb.pk, [(b"cookie", await sync_to_async(_session_cookie)(stranger))]))
    assert (error["type"], error["code"], code) == ("error", "not_found", 4403)

    _client, stranger_key = await sync_to_async(key_client)(other_workspace, role=Role.ADMIN)
    error, code = await _refusal(_socket(kb.pk, [(b"authorization", f"Bearer {stranger_key}".encode())]))
    assert (error["code"], code) == ("not_found", 4403)

    error, code = await _refusal(
        _socket("00000000-0000-0000-0000-000000000000", [(b"authorization", b"Bearer al_nope")])
    )
    assert (error["code"], code) == ("not_authenticated", 4401)
