"""Websocket ``ws/conversations/<id>/``: send messages, receive a run's events, cancel, answer, resume.

Transport only: every decision is made by conversations services, which check permissions.
Client → server: ``{"type": "message.send", "text"}``, ``{"type": "run.cancel", "run_id"}``,
``{"type": "question.answer", "run_id", "answer"}``, ``{"type": "resume", "run_id", "after_seq"}``.
Reconnecting: open ``ws/conversations/<id>/?run_id=<run>&after_seq=<last seq seen>``; the missed
events are replayed before any live one, so the client gets the rest in order, with no gap and no
duplicate. (The ``resume`` message does the same on an open socket, deduplicated by seq.)
Only the conversation's owner is admitted (``builder/conversations/ownership.py``): a socket
authenticated by an API key names the end user it speaks for with ``?user=<id>``, as the chat's
``user`` did when the conversation was opened.
Server → client: the run events (DESIGN.md §4), ``{"type": "run.queued", "run_id"}``, and
``{"type": "error", "code", "message", "fields"}`` for a refused request (the socket stays open).

Websocket ``ws/knowledge/<id>/``: the builder's knowledge base page watches its documents being
indexed. Server → client only: ``document.progress`` events (``builder.knowledge.events``).

Both authenticate like the HTTP API (the session, or ``Authorization: Bearer <API key>``) and ask
a selector whether the actor may see what it names; a refusal is one ``error`` message, then the
socket closes with 4401 (not authenticated) or 4403 (no access).

Both speak the language the HTTP API would answer the client in (the ``django_language`` cookie,
then ``Accept-Language``), or the one ``?lang=`` names (``builder.realtime.language``): their own
messages, and the error messages of run events, which are stored in English.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import translation
from django.utils.translation import gettext as _

from builder.accounts.models import ApiKey, User
from builder.accounts.services import api_key_authenticate
from builder.conversations import selectors, services
from builder.conversations.dispatch import remember_loop
from builder.conversations.ownership import chat_end_user
from builder.core.exceptions import ApplicationError, NotFound
from builder.core.json_input import load_json
from builder.knowledge import selectors as knowledge_selectors
from builder.knowledge.events import knowledge_group
from builder.realtime.event_log import live_event_log
from builder.realtime.groups import conversation_group
from builder.realtime.language import socket_language, translated_event

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


@dataclass(frozen=True)
class _Refused:
    """A frame ``load_json`` refused, and why."""

    error: ApplicationError


def _api_key_from_scope(scope: dict[str, Any]) -> str | None:
    """``Authorization: Bearer al_…`` (never a query parameter: URLs end up in logs)."""
    for name, value in scope.get("headers", []):
        if name == b"authorization" and value.startswith(b"Bearer "):
            return str(value[7:].decode(errors="replace").strip())
    return None


class ActorConsumer(AsyncJsonWebsocketConsumer):
    """Authenticates the socket like the HTTP API and refuses it with a typed error."""

    actor: User | ApiKey
    language: str

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.language = socket_language(scope)
        await super().__call__(scope, receive, send)

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Everything a handler says (refusals, service errors) is in the socket's language.
        with translation.override(self.language):
            await super().dispatch(message)

    async def admit(self, check: Callable[..., object], **kwargs: Any) -> bool:
        """Accept the socket; keep it if an actor authenticated and ``check(actor=…, **kwargs)``
        (a selector) lets it see what it asks for, else send the reason and close."""
        actor = await self._authenticate()
        await self.accept()
        if actor is None:
            await self._refuse(CLOSE_UNAUTHENTICATED, "not_authenticated", _("Sign in or send an API key."))
            return False
        self.actor = actor
        try:
            await database_sync_to_async(check)(actor=actor, **kwargs)
        except ApplicationError as error:
            await self._refuse(CLOSE_FORBIDDEN, error.code, str(error.message))
            return False
        return True

    async def _authenticate(self) -> User | ApiKey | None:
        raw_key = _api_key_from_scope(self.scope)
        if raw_key:
            key: ApiKey | None = await database_sync_to_async(api_key_authenticate)(raw_key=raw_key)
            return key
        user = self.scope.get("user")
        return user if isinstance(user, User) and user.is_authenticated else None

    async def _refuse(self, close_code: int, code: str, message: str) -> None:
        await self.send_json({"type": "error", "code": code, "message": message, "fields": {}})
        await self.close(code=close_code, reason=message[:120])


class ConversationConsumer(ActorConsumer):
    conversation_id: str
    # The end user an API key's socket speaks for (``?user=``); "" for signed-in people.
    end_user: str = ""

    async def connect(self) -> None:
        remember_loop()
        self.sent: dict[str, set[int]] = {}
        self.conversation_id = self.scope["url_route"]["kwargs"]["conversation_id"]
        query = parse_qs(self.scope.get("query_string", b"").decode(errors="replace"))
        if not await self.admit(self._own_conversation, user=(query.get("user") or [None])[0]):
            return
        # Join first, replay second: live events queue up behind the replay instead of being lost.
        await self.channel_layer.group_add(conversation_group(self.conversation_id), self.channel_name)
        if "run_id" in query:
            try:
                await self._resume(
                    {"run_id": query["run_id"][0], "after_seq": int((query.get("after_seq") or ["0"])[0])}
                )
            except (ApplicationError, ValueError) as error:
                await self._error(getattr(error, "code", "invalid"), str(getattr(error, "message", error)), {})

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(conversation_group(self.conversation_id), self.channel_name)

    def _own_conversation(self, *, actor: User | ApiKey, user: str | None) -> Any:
        """Admit only the conversation's owner (for a key: with the end user ``?user=`` names)."""
        self.end_user = chat_end_user(actor=actor, user=user)
        return selectors.conversation_get(actor=actor, conversation_id=self.conversation_id, end_user=self.end_user)

    # --- client → server -------------------------------------------------------------------------
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        if text_data is None:  # Channels' JSON consumer would raise, and drop the socket
            await self._error("invalid_json", _("Send JSON text frames."), {})
            return
        await self.receive_json(await self.decode_json(text_data), **kwargs)

    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        # A frame that is refused (not JSON, too deep, not valid Unicode…) is answered with an
        # error, not by dropping the socket.
        try:
            return load_json(text_data)
        except ApplicationError as error:
            return _Refused(error)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, _Refused):
            error = content.error
            # The socket's name for a frame it cannot read, as the HTTP API's is "parse_error".
            code = "invalid_json" if error.code == "parse_error" else error.code
            await self._error(code, str(error.message), error.fields)
            return
        kind = content.get("type") if isinstance(content, dict) else None
        handler = {
            "message.send": self._send_message,
            "run.cancel": self._cancel,
            "question.answer": self._answer,
            "resume": self._resume,
        }.get(kind or "")
        if handler is None:
            unknown = _("Unknown message type.")
            await self._error("invalid", unknown, {"type": [unknown]})
            return
        try:
            await handler(content)
        except ApplicationError as error:
            await self._error(error.code, str(error.message), error.fields)

    async def _send_message(self, content: dict[str, Any]) -> None:
        run = await database_sync_to_async(self._message_send)(content.get("text"))
        await self.send_json({"type": "run.queued", "run_id": str(run.pk)})

    def _message_send(self, text: Any) -> Any:
        return services.conversation_message_send(
            actor=self.actor,
            conversation_id=self.conversation_id,
            text=text if isinstance(text, str) else "",
            end_user=self.end_user,
        )

    async def _cancel(self, content: dict[str, Any]) -> None:
        await database_sync_to_async(self._with_run)(content, services.run_cancel)

    async def _answer(self, content: dict[str, Any]) -> None:
        await database_sync_to_async(self._with_run)(content, services.question_answer, answer=content.get("answer"))

    def _with_run(self, content: dict[str, Any], service: Any, **kwargs: Any) -> Any:
        return service(actor=self.actor, run=self._run(content), end_user=self.end_user, **kwargs)

    def _run(self, content: dict[str, Any]) -> Any:
        """The run ``content`` names, in this conversation (checked against the actor)."""
        conversation = selectors.conversation_get(
            actor=self.actor, conversation_id=self.conversation_id, end_user=self.end_user
        )
        try:
            return selectors.run_get(
                actor=self.actor, run_id=str(content.get("run_id")), end_user=self.end_user, conversation=conversation
            )
        except (ValueError, DjangoValidationError) as error:  # a malformed id is just "not found"
            raise NotFound() from error

    async def _resume(self, content: dict[str, Any]) -> None:
        after = content.get("after_seq", 0)
        if not isinstance(after, int) or after < 0:
            message = _("after_seq must be a non-negative integer.")
            await self._error("invalid", message, {"after_seq": [message]})
            return
        run = await database_sync_to_async(self._run)(content)
        run_id = str(run.pk)
        events = await live_event_log().since(run_id, after)
        if events is None:
            events = await database_sync_to_async(selectors.run_events_since)(run=run, seq=after)
        for event in events:
            await self._forward(event)

    async def _error(self, code: str, message: str, fields: dict[str, Any]) -> None:
        await self.send_json({"type": "error", "code": code, "message": message, "fields": fields})

    # --- server → client -------------------------------------------------------------------------
    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels closes stale database connections (a thread round trip) before every handler;
        # run events arrive once per token batch and never touch the database.
        if message.get("type") == "run.events":
            with translation.override(self.language):
                await self.run_events(message)
        else:
            await super().dispatch(message)

    async def run_events(self, message: dict[str, Any]) -> None:
        for event in message["events"]:
            await self._forward(event)

    async def _forward(self, event: dict[str, Any]) -> None:
        """Each event reaches the client once, whether it arrives live, replayed, or both."""
        sent = self.sent.setdefault(event["run_id"], set())
        if event["seq"] in sent:
            return
        sent.add(event["seq"])
        await self.send_json(translated_event(event))


class KnowledgeConsumer(ActorConsumer):
    """``ws/knowledge/<id>/``: a knowledge base's indexing progress, for those who may see it."""

    group: str | None = None

    async def connect(self) -> None:
        knowledge_base_id = str(self.scope["url_route"]["kwargs"]["knowledge_base_id"])
        if not await self.admit(knowledge_selectors.knowledge_base_get, knowledge_base_id=knowledge_base_id):
            return
        self.group = knowledge_group(knowledge_base_id)
        await self.channel_layer.group_add(self.group, self.channel_name)

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        message = _("This socket only sends progress; use the API to change documents.")
        await self.send_json({"type": "error", "code": "invalid", "message": message, "fields": {}})

    async def knowledge_event(self, message: dict[str, Any]) -> None:
        """``{"type": "knowledge.event", "event": DocumentProgress}`` from ``ingestion.publish_progress``."""
        await self.send_json(message["event"])
