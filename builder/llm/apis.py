"""Thin views over model-provider services and selectors. Keys go in, never out (masked hint only)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from builder.accounts import selectors as account_selectors
from builder.accounts.authentication import request_actor
from builder.accounts.roles import Action
from builder.core.api_views import validated
from builder.llm import selectors, services
from builder.llm.clients import ConnectionCheck
from builder.llm.models import ModelProvider
from builder.llm.plugin_providers import kind_label, provider_kinds
from builder.llm.providers import PRESETS

KIND_HELP = "A built-in kind (openai, openai_compatible, anthropic, ollama) or a plugin's: GET /model-providers/kinds."


# --- serializers -------------------------------------------------------------------------------
class ModelInfoSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=200)
    display_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    input_price = serializers.FloatField(min_value=0, required=False, default=0.0, help_text="Per 1M input tokens.")
    output_price = serializers.FloatField(min_value=0, required=False, default=0.0, help_text="Per 1M output tokens.")
    vision = serializers.BooleanField(required=False, default=False, help_text="Accepts images.")
    tools = serializers.BooleanField(required=False, default=True, help_text="Can call tools (agent nodes).")
    json_schema = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Takes a JSON Schema response format; otherwise JSON mode is used. Empty: the kind's default.",
    )


class ModelProviderOut(serializers.ModelSerializer[ModelProvider]):
    kind = serializers.CharField(help_text=KIND_HELP)
    kind_label = serializers.SerializerMethodField(
        help_text="The kind's name; the kind itself if no plugin adds it now."
    )
    api_key_set = serializers.SerializerMethodField()
    models = ModelInfoSerializer(source="model_list", many=True)

    class Meta:
        model = ModelProvider
        fields = [
            "id",
            "name",
            "kind",
            "kind_label",
            "preset",
            "base_url",
            "api_key_set",
            "api_key_hint",
            "models",
            "default_model",
            "is_default",
            "timeout_s",
            "created_at",
            "updated_at",
        ]

    def get_kind_label(self, provider: ModelProvider) -> str:
        return kind_label(provider.kind)

    def get_api_key_set(self, provider: ModelProvider) -> bool:
        return bool(provider.api_key_encrypted)


class ModelProviderIn(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=64)
    kind = serializers.CharField(max_length=32, help_text=KIND_HELP)
    preset = serializers.ChoiceField(choices=sorted(PRESETS), required=False, allow_blank=True, default="")
    base_url = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    api_key = serializers.CharField(
        max_length=1000, required=False, allow_blank=True, default="", write_only=True, trim_whitespace=True
    )
    models = ModelInfoSerializer(many=True, required=False, default=list)
    default_model = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    is_default = serializers.BooleanField(required=False, default=False)
    timeout_s = serializers.IntegerField(min_value=1, max_value=services.MAX_TIMEOUT_S, required=False, default=60)


class ModelProviderUpdateIn(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=64, required=False)
    kind = serializers.CharField(max_length=32, required=False, help_text=KIND_HELP)
    preset = serializers.ChoiceField(choices=sorted(PRESETS), required=False, allow_blank=True)
    base_url = serializers.CharField(max_length=500, required=False, allow_blank=True)
    api_key = serializers.CharField(
        max_length=1000,
        required=False,
        allow_blank=True,
        write_only=True,
        help_text="Leave out to keep the stored key; an empty string removes it.",
    )
    models = ModelInfoSerializer(many=True, required=False)
    default_model = serializers.CharField(max_length=200, required=False, allow_blank=True)
    is_default = serializers.BooleanField(required=False)
    timeout_s = serializers.IntegerField(min_value=1, max_value=services.MAX_TIMEOUT_S, required=False)


class CheckIn(serializers.Serializer[Any]):
    model = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default="", help_text="Default: the provider's default."
    )


class DraftCheckIn(CheckIn):
    kind = serializers.CharField(max_length=32, help_text=KIND_HELP)
    preset = serializers.ChoiceField(choices=sorted(PRESETS), required=False, allow_blank=True, default="")
    base_url = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    api_key = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="", write_only=True)
    timeout_s = serializers.IntegerField(min_value=1, max_value=services.MAX_TIMEOUT_S, required=False, default=60)


class CheckOut(serializers.Serializer[Any]):
    ok = serializers.BooleanField()
    message = serializers.CharField(help_text="The provider's own error message when the check failed.")
    latency_ms = serializers.FloatField()
    model = serializers.CharField(help_text="The model that answered one token; empty when models were listed.")
    models = serializers.ListField(child=serializers.CharField(), help_text="Models the provider serves, if listed.")


class PresetOut(serializers.Serializer[Any]):
    key = serializers.CharField()
    name = serializers.CharField()
    base_url = serializers.CharField()
    key_required = serializers.BooleanField()
    note = serializers.CharField()
    models = ModelInfoSerializer(many=True)


class ProviderKindOut(serializers.Serializer[Any]):
    kind = serializers.CharField()
    name = serializers.CharField(source="label", help_text="The kind's label (a plugin's, as it gives it).")
    plugin = serializers.CharField(help_text="The plugin that adds this kind; empty for built-in kinds.")
    default_base_url = serializers.CharField(help_text="Used when a provider gives no base URL.")
    key_required = serializers.BooleanField()
    chat = serializers.BooleanField(help_text="Serves chat models (llm, agent… nodes).")
    embeddings = serializers.BooleanField(help_text="Serves embedding models (knowledge bases).")


def _check_body(check: ConnectionCheck) -> dict[str, Any]:
    return dict(CheckOut(check).data)


# --- views -------------------------------------------------------------------------------------
class ModelProviderListApi(generics.ListAPIView[ModelProvider]):
    # Only for the OpenAPI schema; requests go through get_queryset and its selector.
    queryset = ModelProvider.objects.none()
    serializer_class = ModelProviderOut
    filterset_fields = ["kind", "is_default"]
    search_fields = ["name"]
    ordering_fields = ["name", "created_at"]

    def get_queryset(self) -> QuerySet[ModelProvider]:
        actor = request_actor(self.request)
        workspace = account_selectors.workspace_get(actor=actor, workspace_id=self.kwargs["workspace_id"])
        return selectors.model_provider_list(actor=actor, workspace=workspace)

    @extend_schema(request=ModelProviderIn, responses={201: ModelProviderOut})
    def post(self, request: Request, workspace_id: str) -> Response:
        actor = request_actor(request)
        data = validated(ModelProviderIn, request.data)
        workspace = account_selectors.workspace_get(actor=actor, workspace_id=workspace_id)
        provider = services.model_provider_create(actor=actor, workspace=workspace, **data)
        return Response(ModelProviderOut(provider).data, status=status.HTTP_201_CREATED)


class ModelProviderDetailApi(APIView):
    def _provider(self, request: Request, workspace_id: str, provider_id: str) -> ModelProvider:
        actor = request_actor(request)
        workspace = account_selectors.workspace_get(actor=actor, workspace_id=workspace_id)
        return selectors.model_provider_get(actor=actor, workspace=workspace, provider_id=provider_id)

    @extend_schema(responses={200: ModelProviderOut})
    def get(self, request: Request, workspace_id: str, provider_id: str) -> Response:
        return Response(ModelProviderOut(self._provider(request, workspace_id, provider_id)).data)

    @extend_schema(request=ModelProviderUpdateIn, responses={200: ModelProviderOut})
    def patch(self, request: Request, workspace_id: str, provider_id: str) -> Response:
        data = validated(ModelProviderUpdateIn, request.data)
        provider = self._provider(request, workspace_id, provider_id)
        updated = services.model_provider_update(actor=request_actor(request), provider=provider, **data)
        return Response(ModelProviderOut(updated).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, workspace_id: str, provider_id: str) -> Response:
        provider = self._provider(request, workspace_id, provider_id)
        services.model_provider_delete(actor=request_actor(request), provider=provider)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ModelProviderCheckApi(APIView):
    @extend_schema(
        request=CheckIn,
        responses={200: CheckOut},
        operation_id="model_providers_check",
        summary="Check a saved provider's connection",
        description="A real call: one token from the model (or the model list). 200 with ok=false on failure.",
    )
    def post(self, request: Request, workspace_id: str, provider_id: str) -> Response:
        actor = request_actor(request)
        data = validated(CheckIn, request.data)
        workspace = account_selectors.workspace_get(actor=actor, workspace_id=workspace_id)
        provider = selectors.model_provider_get(
            actor=actor, workspace=workspace, provider_id=provider_id, action=Action.MODEL_PROVIDERS_MANAGE
        )
        return Response(_check_body(services.model_provider_check(actor=actor, provider=provider, **data)))


class ModelProviderDraftCheckApi(APIView):
    @extend_schema(
        request=DraftCheckIn,
        responses={200: CheckOut},
        operation_id="model_providers_check_draft",
        summary="Check provider settings before saving them",
        description="Nothing is stored. 200 with ok=false and the provider's message on failure.",
    )
    def post(self, request: Request, workspace_id: str) -> Response:
        actor = request_actor(request)
        data = validated(DraftCheckIn, request.data)
        workspace = account_selectors.workspace_get(actor=actor, workspace_id=workspace_id)
        return Response(_check_body(services.model_provider_check_draft(actor=actor, workspace=workspace, **data)))


class ProviderPresetsApi(APIView):
    @extend_schema(responses={200: PresetOut(many=True)}, summary="OpenAI-compatible provider presets")
    def get(self, request: Request) -> Response:
        return Response(PresetOut(list(PRESETS.values()), many=True).data)


class ProviderKindsApi(APIView):
    @extend_schema(
        responses={200: ProviderKindOut(many=True)},
        summary="Kinds of model provider",
        description="The built-in kinds, then those the plugins installed on this server add.",
    )
    def get(self, request: Request) -> Response:
        return Response(ProviderKindOut(provider_kinds(), many=True).data)
