"""Thin views over conversation services and selectors (the SSE chat lives in sse.py)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from builder.accounts.authentication import request_actor
from builder.bots import selectors as bot_selectors
from builder.conversations import selectors, services
from builder.conversations.models import Conversation, Message, Run, RunStep
from builder.conversations.ownership import chat_end_user
from builder.core.api_views import validated
from builder.core.messages import translated_error
from builder.memory.models import END_USER_NAME_MAX


class ConversationOut(serializers.ModelSerializer[Conversation]):
    class Meta:
        model = Conversation
        fields = ["id", "bot", "use_draft", "source", "title", "variables", "created_at", "updated_at"]


class MessageFileOut(serializers.Serializer[Any]):
    """A file a tool produced for an assistant message (``tool.file``): show it by its type."""

    node_id = serializers.CharField()
    url = serializers.CharField()
    name = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField(allow_null=True, required=False)
    # The tool output's field that held the URL (video_url, thumbnail_url): a video or its poster.
    field = serializers.CharField(required=False, default="")


class MessageOut(serializers.ModelSerializer[Message]):
    files = MessageFileOut(many=True, read_only=True)

    class Meta:
        model = Message
        fields = ["id", "role", "content", "files", "run", "created_at"]


class ErrorOut(serializers.JSONField):
    """A run's or a step's stored error (``{"code", "message", "details"}``, English), its message
    in the request's language."""

    def to_representation(self, value: Any) -> Any:
        return super().to_representation(translated_error(value))


class RunStepOut(serializers.ModelSerializer[RunStep]):
    error = ErrorOut(read_only=True, allow_null=True)

    class Meta:
        model = RunStep
        fields = [
            "node_id",
            "node_type",
            "status",
            "inputs",
            "outputs",
            "error",
            "branch",
            "latency_ms",
            "usage",
            "attempts",
        ]


class RunOut(serializers.ModelSerializer[Run]):
    steps = RunStepOut(many=True, read_only=True)
    error = ErrorOut(read_only=True, allow_null=True)

    class Meta:
        model = Run
        fields = [
            "id",
            "conversation",
            "status",
            "query",
            "answer",
            "outputs",
            "error",
            "usage",
            "last_seq",
            "paused_node_id",
            "started_at",
            "finished_at",
            "created_at",
            "steps",
        ]


class ConversationIn(serializers.Serializer[Any]):
    use_draft = serializers.BooleanField(default=False, help_text="Chat with the draft (the builder's debug panel).")
    user = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=END_USER_NAME_MAX,
        help_text="API keys: the end user the conversation is for (then `?user=` on its other paths). "
        "Signed-in people chat as themselves: 400.",
    )


class AnswerIn(serializers.Serializer[Any]):
    answer = serializers.JSONField()


USER_PARAMETER = OpenApiParameter(
    "user",
    str,
    description="API keys: the end user the conversation was opened for (the chat's `user`). "
    "Signed-in people chat as themselves and may not name one.",
)


def _end_user(request: Request) -> str:
    """The end user an API key's request speaks for (``?user=``); refused for signed-in people."""
    return chat_end_user(actor=request_actor(request), user=request.query_params.get("user"))


class ConversationCreateApi(APIView):
    @extend_schema(request=ConversationIn, responses={201: ConversationOut})
    def post(self, request: Request, bot_id: str) -> Response:
        actor = request_actor(request)
        data = validated(ConversationIn, request.data)
        bot = bot_selectors.bot_get(actor=actor, bot_id=bot_id)
        conversation = services.conversation_create(
            actor=actor, bot=bot, use_draft=data["use_draft"], end_user_id=data.get("user", "")
        )
        return Response(ConversationOut(conversation).data, status=status.HTTP_201_CREATED)


class MessageListApi(generics.ListAPIView[Message]):
    serializer_class = MessageOut
    # Only for the OpenAPI schema; requests go through get_queryset and its selector.
    queryset = Message.objects.none()
    filter_backends: list[Any] = []

    @extend_schema(parameters=[USER_PARAMETER])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Message]:
        actor, end_user = request_actor(self.request), _end_user(self.request)
        conversation = selectors.conversation_get(
            actor=actor, conversation_id=self.kwargs["conversation_id"], end_user=end_user
        )
        return selectors.message_list(actor=actor, conversation=conversation, end_user=end_user)


class RunDetailApi(APIView):
    @extend_schema(parameters=[USER_PARAMETER], responses={200: RunOut}, summary="A run with its per-node trace")
    def get(self, request: Request, run_id: str) -> Response:
        run = selectors.run_get(actor=request_actor(request), run_id=run_id, end_user=_end_user(request))
        return Response(RunOut(run).data)


class RunCancelApi(APIView):
    @extend_schema(parameters=[USER_PARAMETER], request=None, responses={200: RunOut})
    def post(self, request: Request, run_id: str) -> Response:
        actor, end_user = request_actor(request), _end_user(request)
        run = selectors.run_get(actor=actor, run_id=run_id, end_user=end_user)
        return Response(RunOut(services.run_cancel(actor=actor, run=run, end_user=end_user)).data)


class RunAnswerApi(APIView):
    @extend_schema(
        parameters=[USER_PARAMETER],
        request=AnswerIn,
        responses={200: RunOut},
        summary="Answer the question a paused run asks",
    )
    def post(self, request: Request, run_id: str) -> Response:
        actor, end_user = request_actor(request), _end_user(request)
        data = validated(AnswerIn, request.data)
        run = selectors.run_get(actor=actor, run_id=run_id, end_user=end_user)
        answered = services.question_answer(actor=actor, run=run, answer=data["answer"], end_user=end_user)
        return Response(RunOut(answered).data)
