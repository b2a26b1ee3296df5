"""``POST /api/v1/bots/<id>/chat``: the websocket's events as Server-Sent Events, for API clients.

``{"query": "...", "conversation_id"?: "...", "user"?: "...", "stream"?: true}``: ``user`` names the
end user an API key's client speaks for (a signed-in person chats as themselves); a conversation
continues only for whoever opened it (``builder/conversations/ownership.py``). Streaming answers
``text/event-stream`` (``event: <type>`` / ``data: <json>``), ending with the run's terminal event;
``"stream": false`` waits and answers ``{"answer", "files", "run_id", "conversation_id", "status",
"usage"}``: ``files`` are those tools produced for the answer (a rendered video), as
``message.completed`` carries them (``{"node_id", "url", "name", "content_type", "size", "field"}``).
Authentication: ``Authorization: Bearer al_…`` (API key) or the builder session (+ CSRF token).
Error messages are in the request's language (``Accept-Language``), like the rest of the API.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.middleware.csrf import CsrfViewMiddleware
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from builder.accounts.models import ApiKey, User
from builder.accounts.services import api_key_authenticate
from builder.conversations import services
from builder.conversations.dispatch import remember_loop
from builder.conversations.models import Source
from builder.conversations.ownership import chat_end_user
from builder.core.exception_handler import error_body
from builder.core.exceptions import ApplicationError, NotAuthenticated, NotFound, PermissionDenied, ValidationFailed
from builder.core.json_input import load_json
from builder.realtime.groups import conversation_group
from builder.realtime.language import translated_event

TERMINAL_TYPES = {"run.finished", "run.failed", "run.paused"}
KEEPALIVE_S = 15.0


async def _actor(request: HttpRequest) -> User | ApiKey:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        key: ApiKey | None = await database_sync_to_async(api_key_authenticate)(raw_key=header[7:].strip())
        if key is None:
            raise NotAuthenticated(_("Invalid, expired or revoked API key."), code="authentication_failed")
        return key
    user = await request.auser()
    if not isinstance(user, User) or not user.is_authenticated:
        raise NotAuthenticated()
    # Session clients are browsers: hold them to the CSRF check DRF would apply.
    reason = CsrfViewMiddleware(lambda r: HttpResponse()).process_view(request, _csrf_checked_view, (), {})
    if reason is not None:
        raise PermissionDenied(_("CSRF check failed."))
    return user


def _csrf_checked_view(request: HttpRequest) -> HttpResponse:
    """Stands for the chat view in the CSRF check (which only reads a view's csrf_exempt mark)."""
    return HttpResponse()


def _parse_body(request: HttpRequest) -> dict[str, Any]:
    body = load_json(request.body or b"{}")
    if not isinstance(body, dict):
        raise ValidationFailed(fields={"non_field_errors": [_("Send a JSON object.")]})
    if not isinstance(body.get("query"), str):
        raise ValidationFailed(fields={"query": [_("This field is required.")]})
    if "stream" in body and not isinstance(body["stream"], bool):
        raise ValidationFailed(fields={"stream": [_("Must be true or false.")]})
    return body


def _start(actor: User | ApiKey, bot_id: str, body: dict[str, Any], conversation_id: str, *, new: bool) -> str:
    """Open the conversation (or continue the given one, the caller's own) and send the message:
    one database trip. ``user``: the end user an API key's client speaks for."""
    end_user = chat_end_user(actor=actor, user=body.get("user"))
    if new:
        run = services.conversation_start(
            actor=actor,
            bot_id=bot_id,
            text=body["query"],
            source=Source.API,
            end_user_id=end_user,
            conversation_id=conversation_id,
        )
    else:
        run = services.conversation_message_send(
            actor=actor, conversation_id=conversation_id, text=body["query"], bot_id=bot_id, end_user=end_user
        )
    return str(run.pk)


def _conversation_id(body: dict[str, Any]) -> tuple[str, bool]:
    """The conversation to continue, or a fresh id for a new one (known before it exists, so the
    request can listen to it before the run starts)."""
    given = body.get("conversation_id")
    if not given:
        return str(uuid.uuid4()), True
    try:
        return str(uuid.UUID(str(given))), False
    except ValueError:
        raise NotFound(_("Conversation not found.")) from None


def _sse(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event, ensure_ascii=False)}\n\n".encode()


async def _events(channel: str, group: str, run_id: str) -> AsyncIterator[dict[str, Any] | None]:
    """The run's events from the group this request joined before the run started (None = idle)."""
    layer = get_channel_layer()
    try:
        while True:
            try:
                message = await asyncio.wait_for(layer.receive(channel), timeout=KEEPALIVE_S)
            except TimeoutError:
                yield None
                continue
            for event in message.get("events") or ():
                if event.get("run_id") != run_id:
                    continue
                yield event
                if event.get("type") in TERMINAL_TYPES:
                    return
    finally:
        await layer.group_discard(group, channel)


@csrf_exempt
async def chat(request: HttpRequest, bot_id: Any) -> HttpResponseBase:
    if request.method != "POST":
        return JsonResponse(error_body("method_not_allowed", _("Use POST.")), status=405)
    remember_loop()
    try:
        actor = await _actor(request)
        body = _parse_body(request)
        conversation_id, new = _conversation_id(body)
        # Join before sending: the run may start emitting as soon as the message is committed.
        layer = get_channel_layer()
        channel = await layer.new_channel()
        group = conversation_group(conversation_id)
        await layer.group_add(group, channel)
        try:
            run_id = await database_sync_to_async(_start)(actor, str(bot_id), body, conversation_id, new=new)
        except ApplicationError:
            await layer.group_discard(group, channel)
            raise
    except ApplicationError as error:
        return JsonResponse(
            error_body(error.code, error.message, error.fields, **error.extra), status=error.status_code
        )
    # The stream is sent after the middleware has returned: it keeps the request's language itself.
    language = translation.get_language()
    if body.get("stream", True):
        return StreamingHttpResponse(
            _stream(channel, group, run_id, conversation_id, language),
            content_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    final: dict[str, Any] = {}
    files: list[dict[str, Any]] = []
    async for event in _events(channel, group, run_id):
        if event is None:
            continue
        if event["type"] == "message.completed":
            files = event.get("files", [])
        elif event["type"] in TERMINAL_TYPES:
            final = event
    status = {"run.finished": "finished", "run.paused": "paused"}.get(final.get("type", ""), "failed")
    return JsonResponse(
        {
            "conversation_id": conversation_id,
            "run_id": run_id,
            "status": status,
            "answer": final.get("answer", ""),
            "files": files,
            "usage": final.get("usage", {}),
            "error": translated_event(final).get("error"),
        },
        status=200,
    )


async def _stream(
    channel: str, group: str, run_id: str, conversation_id: str, language: str | None
) -> AsyncIterator[bytes]:
    yield _sse({"type": "conversation", "conversation_id": conversation_id, "run_id": run_id})
    async for event in _events(channel, group, run_id):
        if event is None:
            yield b": keepalive\n\n"
            continue
        with translation.override(language):
            frame = _sse(translated_event(event))
        yield frame
