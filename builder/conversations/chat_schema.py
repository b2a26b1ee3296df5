"""``POST /api/v1/bots/<id>/chat`` in the API schema.

The chat is a plain async Django view (``sse.chat``: it streams, which DRF views do not), so the
schema generator would not see it; ``ChatApi`` describes it instead and is never served
(``builder.core.schema.documented_by`` ties the two in ``urls.py``).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from builder.conversations.apis import MessageFileOut
from builder.conversations.services import MAX_MESSAGE_CHARS
from builder.memory.models import END_USER_NAME_MAX

STREAM_EXAMPLE = (
    'event: conversation\ndata: {"type": "conversation", "conversation_id": "…", "run_id": "…"}\n\n'
    'event: message.delta\ndata: {"type": "message.delta", "run_id": "…", "seq": 3, "node_id": "answer", '
    '"text": "Hel"}\n\n'
    'event: run.finished\ndata: {"type": "run.finished", "run_id": "…", "answer": "Hello", …}\n\n'
)

# One event of the stream, as Open API 3.2 reads text/event-stream (and 3.0 tools that follow it).
SSE_EVENT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "event": {"type": "string", "description": "The event's type: conversation, run.started, message.delta…"},
        "data": {"type": "string", "description": "The event as JSON; its `type` repeats `event`."},
    },
    "required": ["event", "data"],
}
ANSWERED = 'The run\'s events as they happen (text/event-stream, the default), or its answer ("stream": false).'


class ChatIn(serializers.Serializer[Any]):
    query = serializers.CharField(max_length=MAX_MESSAGE_CHARS, help_text="The user's message (not blank).")
    conversation_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="Continue this conversation; left out or null: a new one."
    )
    stream = serializers.BooleanField(
        required=False, default=True, help_text="false: wait for the run and answer with one JSON object."
    )
    user = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=END_USER_NAME_MAX,
        help_text="API keys: your end user's id (memory, user variables; each key's end users are its own). "
        "Continuing a conversation takes the user who opened it. Signed-in people chat as themselves: 400.",
    )


class ChatAnswerOut(serializers.Serializer[Any]):
    conversation_id = serializers.UUIDField()
    run_id = serializers.UUIDField()
    status = serializers.ChoiceField(
        choices=["finished", "paused", "failed"], help_text="paused: the bot asked a question (runs/{id}/answer)."
    )
    answer = serializers.CharField(allow_blank=True)
    files = MessageFileOut(many=True, help_text="Files tools produced for the answer (a rendered video).")
    usage = serializers.DictField(help_text="Tokens and cost of the run.")
    error = serializers.DictField(
        allow_null=True, help_text='Why the run failed ({"code", "message"}, in the request\'s language), or null.'
    )


class ChatApi(APIView):
    """Describes ``builder.conversations.sse.chat`` for the schema; never routed."""

    # What sse.chat answers (it is no DRF view, so builder.core.schema cannot derive them): it reads
    # any body as JSON (no 415); 409 when the bot is not published or still answering.
    error_statuses = (400, 401, 403, 404, 409)

    @extend_schema(
        operation_id="bots_chat",
        summary="Chat with a bot (Server-Sent Events, or one JSON answer)",
        description="Sends `query` to the bot's published version, in a new conversation or the given one. "
        "Streaming (the default) answers `text/event-stream`: first a `conversation` event with the "
        "conversation and run ids, then the run's events as the websocket sends them (`event: <type>` / "
        "`data: <json>`), ending with `run.finished`, `run.failed` or `run.paused`; `: keepalive` "
        'comments while the run is idle. `"stream": false` waits for the run and answers one JSON object. '
        "Errors (before the run starts) come in the one error shape, in the request's language.",
        request={"application/json": ChatIn},
        responses={
            (200, "application/json"): OpenApiResponse(ChatAnswerOut, description=ANSWERED),
            (200, "text/event-stream"): OpenApiResponse(
                SSE_EVENT,
                description=ANSWERED,
                examples=[OpenApiExample("events", value=STREAM_EXAMPLE, media_type="text/event-stream")],
            ),
        },
    )
    def post(self, request: Request, bot_id: str) -> Response:
        raise NotImplementedError("POST /bots/<id>/chat is served by builder.conversations.sse.chat")
