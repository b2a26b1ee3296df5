"""Thin views: what a bot remembers about its end users.

- ``bots/<id>/end-users/…``: for the bot's editors (the builder's "Memory" page).
- ``bots/<id>/memory/…``: for an end user, with the credentials of the chat API: a signed-in
  person reaches their own memory only (``?user=`` is refused, 400); an API key reaches its own
  end users', the one ``?user=`` names as the chat's ``user`` did (without it: the key's callers
  who named nobody), never a signed-in person's, another key's or the builder's.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from builder.accounts.authentication import request_actor
from builder.bots import selectors as bot_selectors
from builder.bots.models import Bot
from builder.core.api_views import validated
from builder.memory import selectors, services
from builder.memory.models import EndUser, Fact

# --- serializers -----------------------------------------------------------------------------------


class EndUserOut(serializers.ModelSerializer[EndUser]):
    fact_count = serializers.IntegerField(read_only=True, help_text="Facts the bot currently believes.")
    superseded_count = serializers.IntegerField(read_only=True, help_text="Facts later ones replaced.")
    variable_count = serializers.SerializerMethodField(help_text="User variables set for this end user.")

    class Meta:
        model = EndUser
        fields = ["id", "end_user_id", "fact_count", "superseded_count", "variable_count", "last_seen_at", "created_at"]

    @extend_schema_field(OpenApiTypes.INT)
    def get_variable_count(self, end_user: EndUser) -> int:
        return len(end_user.variables or {})


class FactOut(serializers.ModelSerializer[Fact]):
    is_current = serializers.BooleanField(read_only=True, help_text="False once a newer fact replaced it.")
    superseded_by = serializers.SerializerMethodField(help_text="The fact that replaced this one.")
    source_turn_ids = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="The messages it was learned from."
    )

    class Meta:
        model = Fact
        fields = [
            "id",
            "text",
            "kind",
            "key",
            "value",
            "is_current",
            "superseded_by",
            "observed_at",
            "updated_at",
            "source_turn_ids",
        ]

    @extend_schema_field(serializers.UUIDField(allow_null=True))
    def get_superseded_by(self, fact: Fact) -> str | None:
        # The memory core keeps ids as hex; the API names facts as it names everything else.
        return str(uuid.UUID(fact.superseded_by)) if fact.superseded_by else None


class VariableValueOut(serializers.Serializer[Any]):
    name = serializers.CharField()
    type = serializers.CharField()
    description = serializers.CharField()
    default = serializers.JSONField(allow_null=True)
    value = serializers.JSONField(allow_null=True)
    is_set = serializers.BooleanField(help_text="False: the value is the declared default.")


class VariablesIn(serializers.Serializer[Any]):
    values = serializers.DictField(
        child=serializers.JSONField(allow_null=True), help_text="Declared user variable → its new value."
    )


USER_PARAMETER = OpenApiParameter(
    "user",
    str,
    description="API keys: their end user, as named in the chat API's `user` (default: the key's callers "
    "who name nobody). Signed-in people reach only their own memory and may not name anyone (400).",
)


def _bot(request: Request, bot_id: Any) -> Bot:
    return bot_selectors.bot_get(actor=request_actor(request), bot_id=bot_id)


def _end_user(request: Request, bot_id: Any, end_user: Any) -> EndUser:
    actor = request_actor(request)
    bot = bot_selectors.bot_get(actor=actor, bot_id=bot_id)
    return selectors.end_user_get(actor=actor, bot=bot, end_user_pk=end_user)


def _own_end_user_id(request: Request) -> str:
    return selectors.own_end_user_id(actor=request_actor(request), user=request.query_params.get("user"))


# --- bot editors -----------------------------------------------------------------------------------


class EndUserListApi(generics.ListAPIView[EndUser]):
    serializer_class = EndUserOut
    # Only for the OpenAPI schema; requests go through get_queryset and its selector.
    queryset = EndUser.objects.none()
    filter_backends: list[Any] = []

    @extend_schema(summary="End users the bot remembers something about")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[EndUser]:
        bot = _bot(self.request, self.kwargs["bot_id"])
        return selectors.end_user_list(actor=request_actor(self.request), bot=bot)


class EndUserDetailApi(APIView):
    @extend_schema(responses={200: EndUserOut})
    def get(self, request: Request, bot_id: str, end_user: str) -> Response:
        return Response(EndUserOut(_end_user(request, bot_id, end_user)).data)

    @extend_schema(responses={204: None}, summary="Forget everything about this end user (facts and variables)")
    def delete(self, request: Request, bot_id: str, end_user: str) -> Response:
        services.end_user_forget(actor=request_actor(request), end_user=_end_user(request, bot_id, end_user))
        return Response(status=status.HTTP_204_NO_CONTENT)


class EndUserFactListApi(generics.ListAPIView[Fact]):
    serializer_class = FactOut
    queryset = Fact.objects.none()
    filter_backends: list[Any] = []

    @extend_schema(summary="What the bot remembers about this end user, replaced facts included")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Fact]:
        end_user = _end_user(self.request, self.kwargs["bot_id"], self.kwargs["end_user"])
        return selectors.end_user_fact_list(actor=request_actor(self.request), end_user=end_user)


class EndUserFactDetailApi(APIView):
    @extend_schema(responses={204: None}, summary="Forget one fact")
    def delete(self, request: Request, bot_id: str, end_user: str, fact_id: str) -> Response:
        services.end_user_fact_forget(
            actor=request_actor(request), end_user=_end_user(request, bot_id, end_user), fact_id=fact_id
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class EndUserVariablesApi(APIView):
    @extend_schema(responses={200: VariableValueOut(many=True)}, summary="The end user's user variables")
    def get(self, request: Request, bot_id: str, end_user: str) -> Response:
        values = selectors.end_user_variables(
            actor=request_actor(request), end_user=_end_user(request, bot_id, end_user)
        )
        return Response(VariableValueOut(values, many=True).data)

    @extend_schema(request=VariablesIn, responses={200: VariableValueOut(many=True)}, summary="Set user variables")
    def patch(self, request: Request, bot_id: str, end_user: str) -> Response:
        actor = request_actor(request)
        data = validated(VariablesIn, request.data)
        updated = services.end_user_variables_update(
            actor=actor, end_user=_end_user(request, bot_id, end_user), values=data["values"]
        )
        return Response(VariableValueOut(selectors.end_user_variables(actor=actor, end_user=updated), many=True).data)


# --- the end user themselves -----------------------------------------------------------------------


class OwnMemoryApi(APIView):
    @extend_schema(
        parameters=[USER_PARAMETER], responses={204: None}, summary="Make the bot forget everything about me"
    )
    def delete(self, request: Request, bot_id: str) -> Response:
        end_user_id = _own_end_user_id(request)
        services.own_memory_forget(actor=request_actor(request), bot=_bot(request, bot_id), end_user_id=end_user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class OwnFactListApi(generics.ListAPIView[Fact]):
    serializer_class = FactOut
    queryset = Fact.objects.none()
    filter_backends: list[Any] = []

    @extend_schema(parameters=[USER_PARAMETER], summary="What the bot remembers about me")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Fact]:
        end_user_id = _own_end_user_id(self.request)
        bot = _bot(self.request, self.kwargs["bot_id"])
        return selectors.own_fact_list(actor=request_actor(self.request), bot=bot, end_user_id=end_user_id)


class OwnFactDetailApi(APIView):
    @extend_schema(parameters=[USER_PARAMETER], responses={204: None}, summary="Make the bot forget one fact")
    def delete(self, request: Request, bot_id: str, fact_id: str) -> Response:
        end_user_id = _own_end_user_id(request)
        services.own_fact_forget(
            actor=request_actor(request), bot=_bot(request, bot_id), end_user_id=end_user_id, fact_id=fact_id
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class OwnVariablesApi(APIView):
    @extend_schema(
        parameters=[USER_PARAMETER], responses={200: VariableValueOut(many=True)}, summary="My user variables"
    )
    def get(self, request: Request, bot_id: str) -> Response:
        end_user_id = _own_end_user_id(request)
        values = selectors.own_variables(
            actor=request_actor(request), bot=_bot(request, bot_id), end_user_id=end_user_id
        )
        return Response(VariableValueOut(values, many=True).data)
