"""Thin views over workspace credentials. Values go in, never out (a masked hint only)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from builder.accounts import selectors as account_selectors
from builder.accounts.apis import UserOut
from builder.accounts.authentication import request_actor
from builder.core.api_views import validated
from builder.credentials import selectors, services
from builder.credentials.models import Credential, CredentialKind

VALUE_HELP = "Write-only. Stored encrypted; responses show `value_hint` only."


class CredentialOut(serializers.ModelSerializer[Credential]):
    created_by = UserOut(allow_null=True)
    value_hint = serializers.CharField(help_text="The value masked (`sk-…3456`); send it back to keep the value.")

    class Meta:
        model = Credential
        fields = ["id", "name", "kind", "value_hint", "created_by", "created_at", "updated_at"]


class CredentialIn(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=services.MAX_NAME_LENGTH)
    kind = serializers.ChoiceField(choices=CredentialKind.choices, default=CredentialKind.TOKEN)
    value = serializers.CharField(
        max_length=services.MAX_VALUE_LENGTH, write_only=True, trim_whitespace=False, help_text=VALUE_HELP
    )


class CredentialUpdateIn(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=services.MAX_NAME_LENGTH, required=False)
    kind = serializers.ChoiceField(choices=CredentialKind.choices, required=False)
    value = serializers.CharField(
        max_length=services.MAX_VALUE_LENGTH,
        required=False,
        write_only=True,
        trim_whitespace=False,
        help_text="Leave out (or send `value_hint` back) to keep the stored value.",
    )


class CredentialListApi(generics.ListAPIView[Credential]):
    # Only for the OpenAPI schema; requests go through get_queryset and its selector.
    queryset = Credential.objects.none()
    serializer_class = CredentialOut
    filterset_fields = ["kind"]
    search_fields = ["name"]
    ordering_fields = ["name", "created_at"]

    def get_queryset(self) -> QuerySet[Credential]:
        actor = request_actor(self.request)
        workspace = account_selectors.workspace_get(actor=actor, workspace_id=self.kwargs["workspace_id"])
        return selectors.credential_list(actor=actor, workspace=workspace)

    @extend_schema(request=CredentialIn, responses={201: CredentialOut}, summary="Add a credential")
    def post(self, request: Request, workspace_id: str) -> Response:
        actor = request_actor(request)
        data = validated(CredentialIn, request.data)
        workspace = account_selectors.workspace_get(actor=actor, workspace_id=workspace_id)
        credential = services.credential_create(actor=actor, workspace=workspace, **data)
        return Response(CredentialOut(credential).data, status=status.HTTP_201_CREATED)


class CredentialDetailApi(APIView):
    def _credential(self, request: Request, workspace_id: str, credential_id: str) -> Credential:
        actor = request_actor(request)
        workspace = account_selectors.workspace_get(actor=actor, workspace_id=workspace_id)
        return selectors.credential_get(actor=actor, workspace=workspace, credential_id=credential_id)

    @extend_schema(responses={200: CredentialOut})
    def get(self, request: Request, workspace_id: str, credential_id: str) -> Response:
        return Response(CredentialOut(self._credential(request, workspace_id, credential_id)).data)

    @extend_schema(request=CredentialUpdateIn, responses={200: CredentialOut})
    def patch(self, request: Request, workspace_id: str, credential_id: str) -> Response:
        data = validated(CredentialUpdateIn, request.data)
        credential = self._credential(request, workspace_id, credential_id)
        updated = services.credential_update(actor=request_actor(request), credential=credential, **data)
        return Response(CredentialOut(updated).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, workspace_id: str, credential_id: str) -> Response:
        credential = self._credential(request, workspace_id, credential_id)
        services.credential_delete(actor=request_actor(request), credential=credential)
        return Response(status=status.HTTP_204_NO_CONTENT)
