"""Thin views over bot services and selectors."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, parsers, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from builder.accounts import selectors as account_selectors
from builder.accounts.apis import UserOut
from builder.accounts.authentication import request_actor
from builder.accounts.roles import Action, BotRole
from builder.bots import selectors, services, transfer
from builder.bots.graph_errors import problem_payload
from builder.bots.models import Bot, BotGrant, BotVersion, Visibility
from builder.bots.parsers import RawYamlParser
from builder.bots.secrets import secret_references
from builder.core.api_views import query_param, validated
from builder.core.exceptions import ValidationFailed


# --- serializers -------------------------------------------------------------------------------
class BotVersionSummaryOut(serializers.ModelSerializer[BotVersion]):
    created_by = UserOut(allow_null=True)

    class Meta:
        model = BotVersion
        fields = ["id", "number", "name", "note", "checksum", "created_by", "created_at"]


class BotVersionOut(BotVersionSummaryOut):
    class Meta(BotVersionSummaryOut.Meta):
        fields = [*BotVersionSummaryOut.Meta.fields, "description", "icon", "graph"]


class BotSummaryOut(serializers.ModelSerializer[Bot]):
    live_version = serializers.IntegerField(source="live_version.number", allow_null=True, default=None)

    class Meta:
        model = Bot
        fields = [
            "id",
            "workspace",
            "name",
            "description",
            "icon",
            "visibility",
            "draft_revision",
            "live_version",
            "created_at",
            "updated_at",
        ]


class BotOut(BotSummaryOut):
    class Meta(BotSummaryOut.Meta):
        fields = [*BotSummaryOut.Meta.fields, "draft", "draft_updated_at"]


class ProblemOut(serializers.Serializer[Any]):
    code = serializers.CharField()
    message = serializers.CharField()
    node_id = serializers.CharField(allow_null=True)
    edge_id = serializers.CharField(allow_null=True)
    field = serializers.CharField(allow_null=True)


class SecretReferenceOut(serializers.Serializer[Any]):
    node_id = serializers.CharField()
    field = serializers.CharField(help_text="Under the node, e.g. `data.auth.token`.")
    credential = serializers.UUIDField(help_text="The workspace credential the slot now references.")


class DraftSavedOut(serializers.Serializer[Any]):
    revision = serializers.IntegerField()
    problems = ProblemOut(many=True)
    secrets = SecretReferenceOut(
        many=True,
        help_text='Every secret slot of the saved draft, as the `{"credential": id}` it now holds: '
        "raw secrets sent in the draft were moved into credentials and are never sent back.",
    )


class BotCreatedOut(BotOut):
    problems = ProblemOut(many=True, read_only=True, help_text="What to fix before the draft can be published.")

    class Meta(BotOut.Meta):
        fields = [*BotOut.Meta.fields, "problems"]


class GrantOut(serializers.ModelSerializer[BotGrant]):
    user = UserOut()

    class Meta:
        model = BotGrant
        fields = ["user", "role", "created_at"]


class BotCreateIn(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    icon = serializers.CharField(required=False, allow_blank=True, max_length=512)
    visibility = serializers.ChoiceField(choices=Visibility.choices, default=Visibility.WORKSPACE)
    draft = serializers.JSONField(required=False, help_text="A DSL document; a starter graph when omitted.")


class BotUpdateIn(serializers.Serializer[Any]):
    name = serializers.CharField(required=False, max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    icon = serializers.CharField(required=False, allow_blank=True, max_length=512)
    visibility = serializers.ChoiceField(required=False, choices=Visibility.choices)


class DraftIn(serializers.Serializer[Any]):
    revision = serializers.IntegerField(min_value=1, help_text="The draft_revision you loaded.")
    draft = serializers.JSONField()


class PublishIn(serializers.Serializer[Any]):
    note = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class RestoreIn(serializers.Serializer[Any]):
    revision = serializers.IntegerField(min_value=1)


class GrantIn(serializers.Serializer[Any]):
    role = serializers.ChoiceField(choices=BotRole.choices)


class ImportedOut(serializers.Serializer[Any]):
    bot = BotOut()
    dependencies = serializers.DictField()
    secrets_to_fill = serializers.ListField(child=serializers.DictField())
    problems = ProblemOut(many=True)


class BotFilter(django_filters.FilterSet):
    published = django_filters.BooleanFilter(field_name="live_version", lookup_expr="isnull", exclude=True)

    class Meta:
        model = Bot
        fields = ["visibility", "created_by", "published"]


# --- bots --------------------------------------------------------------------------------------
class BotListApi(generics.ListAPIView[Bot]):
    # Only for the OpenAPI schema (filter fields); requests go through get_queryset and its selector.
    queryset = Bot.objects.none()
    serializer_class = BotSummaryOut
    filterset_class = BotFilter
    search_fields = ["name", "description"]
    ordering_fields = ["name", "created_at", "updated_at"]

    def get_queryset(self) -> QuerySet[Bot]:
        actor = request_actor(self.request)
        workspace = account_selectors.workspace_get(actor=actor, workspace_id=self.kwargs["workspace_id"])
        return selectors.bot_list(actor=actor, workspace=workspace)

    @extend_schema(request=BotCreateIn, responses={201: BotCreatedOut})
    def post(self, request: Request, workspace_id: str) -> Response:
        actor = request_actor(request)
        data = validated(BotCreateIn, request.data)
        workspace = account_selectors.workspace_get(actor=actor, workspace_id=workspace_id)
        bot, problems = services.bot_create(actor=actor, workspace=workspace, **data)
        body = BotOut(bot).data | {"problems": [problem_payload(problem) for problem in problems]}
        return Response(body, status=status.HTTP_201_CREATED)


class BotDetailApi(APIView):
    @extend_schema(responses={200: BotOut})
    def get(self, request: Request, bot_id: str) -> Response:
        return Response(BotOut(selectors.bot_get(actor=request_actor(request), bot_id=bot_id)).data)

    @extend_schema(request=BotUpdateIn, responses={200: BotOut})
    def patch(self, request: Request, bot_id: str) -> Response:
        actor = request_actor(request)
        data = validated(BotUpdateIn, request.data)
        bot = services.bot_update(actor=actor, bot=selectors.bot_get(actor=actor, bot_id=bot_id), **data)
        return Response(BotOut(bot).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, bot_id: str) -> Response:
        actor = request_actor(request)
        services.bot_delete(actor=actor, bot=selectors.bot_get(actor=actor, bot_id=bot_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class BotDraftApi(APIView):
    @extend_schema(
        request=DraftIn,
        responses={200: DraftSavedOut},
        summary="Save the draft graph",
        description="409 `stale_revision` when someone saved since `revision`; nothing is lost.",
    )
    def put(self, request: Request, bot_id: str) -> Response:
        actor = request_actor(request)
        data = validated(DraftIn, request.data)
        bot = selectors.bot_get(actor=actor, bot_id=bot_id)
        saved, problems = services.bot_draft_save(actor=actor, bot=bot, draft=data["draft"], revision=data["revision"])
        body = {
            "revision": saved.draft_revision,
            "problems": [problem_payload(p) for p in problems],
            "secrets": secret_references(saved.draft),
        }
        return Response(body)


class BotPublishApi(APIView):
    @extend_schema(request=PublishIn, responses={201: BotVersionOut})
    def post(self, request: Request, bot_id: str) -> Response:
        actor = request_actor(request)
        data = validated(PublishIn, request.data)
        version = services.bot_publish(
            actor=actor, bot=selectors.bot_get(actor=actor, bot_id=bot_id), note=data["note"]
        )
        return Response(BotVersionOut(version).data, status=status.HTTP_201_CREATED)


class BotVersionListApi(generics.ListAPIView[BotVersion]):
    # Only for the OpenAPI schema (filter fields); requests go through get_queryset and its selector.
    queryset = BotVersion.objects.none()
    serializer_class = BotVersionSummaryOut
    ordering_fields = ["number", "created_at"]
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[BotVersion]:
        actor = request_actor(self.request)
        bot = selectors.bot_get(actor=actor, bot_id=self.kwargs["bot_id"])
        return selectors.bot_version_list(actor=actor, bot=bot)


class BotVersionDetailApi(APIView):
    @extend_schema(responses={200: BotVersionOut})
    def get(self, request: Request, bot_id: str, number: int) -> Response:
        actor = request_actor(request)
        bot = selectors.bot_get(actor=actor, bot_id=bot_id)
        return Response(BotVersionOut(selectors.bot_version_get(actor=actor, bot=bot, number=number)).data)


class BotRollbackApi(APIView):
    @extend_schema(request=None, responses={200: BotOut}, summary="Serve this version again")
    def post(self, request: Request, bot_id: str, number: int) -> Response:
        actor = request_actor(request)
        bot = selectors.bot_get(actor=actor, bot_id=bot_id)
        version = selectors.bot_version_get(actor=actor, bot=bot, number=number)
        return Response(BotOut(services.bot_rollback(actor=actor, bot=bot, version=version)).data)


class BotRestoreApi(APIView):
    @extend_schema(request=RestoreIn, responses={200: BotOut}, summary="Copy this version into the draft")
    def post(self, request: Request, bot_id: str, number: int) -> Response:
        actor = request_actor(request)
        data = validated(RestoreIn, request.data)
        bot = selectors.bot_get(actor=actor, bot_id=bot_id)
        version = selectors.bot_version_get(actor=actor, bot=bot, number=number)
        restored = services.bot_version_restore(actor=actor, bot=bot, version=version, revision=data["revision"])
        return Response(BotOut(restored).data)


class BotDiffApi(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("from", str, description="A version number or 'draft'", required=True),
            OpenApiParameter("to", str, description="A version number or 'draft' (default)"),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, bot_id: str) -> Response:
        actor = request_actor(request)
        if "from" not in request.query_params:
            raise ValidationFailed(fields={"from": ["This parameter is required."]})
        bot = selectors.bot_get(actor=actor, bot_id=bot_id)
        diff = selectors.bot_diff(
            actor=actor, bot=bot, from_ref=query_param(request, "from", ""), to_ref=query_param(request, "to", "draft")
        )
        return Response(diff.model_dump(mode="json"))


class BotGrantListApi(generics.ListAPIView[BotGrant]):
    # Only for the OpenAPI schema (filter fields); requests go through get_queryset and its selector.
    queryset = BotGrant.objects.none()
    serializer_class = GrantOut
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[BotGrant]:
        actor = request_actor(self.request)
        bot = selectors.bot_get(actor=actor, bot_id=self.kwargs["bot_id"])
        return selectors.bot_grant_list(actor=actor, bot=bot)


class BotGrantDetailApi(APIView):
    @extend_schema(request=GrantIn, responses={200: GrantOut}, summary="Share the bot with a member")
    def put(self, request: Request, bot_id: str, user_id: str) -> Response:
        actor = request_actor(request)
        data = validated(GrantIn, request.data)
        bot = selectors.bot_get(actor=actor, bot_id=bot_id)
        user = account_selectors.member_get(actor=actor, workspace=bot.workspace, user_id=user_id)
        return Response(GrantOut(services.bot_grant_set(actor=actor, bot=bot, user=user, role=data["role"])).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, bot_id: str, user_id: str) -> Response:
        actor = request_actor(request)
        bot = selectors.bot_get(actor=actor, bot_id=bot_id)
        user = account_selectors.member_get(actor=actor, workspace=bot.workspace, user_id=user_id)
        services.bot_grant_remove(actor=actor, bot=bot, user=user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- import / export ---------------------------------------------------------------------------
class BotExportApi(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("version", int, description="Export this version instead of the draft")],
        responses={
            (200, "application/x-yaml"): OpenApiResponse(
                OpenApiTypes.OBJECT, description="The bot file: kind, format_version, bot, graph, dependencies."
            )
        },
    )
    def get(self, request: Request, bot_id: str) -> HttpResponse:
        actor = request_actor(request)
        bot = selectors.bot_get(actor=actor, bot_id=bot_id, action=Action.BOT_EXPORT)
        version_ref = query_param(request, "version", "")
        version = None
        if version_ref:
            if not version_ref.isdigit():
                raise ValidationFailed(fields={"version": ["A version number."]})
            version = selectors.bot_version_get(actor=actor, bot=bot, number=int(version_ref))
        body = transfer.bot_export(actor=actor, bot=bot, version=version)
        response = HttpResponse(body, content_type="application/x-yaml; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="bot-{bot.pk}.yaml"'
        return response


class BotImportApi(APIView):
    parser_classes = [parsers.MultiPartParser, RawYamlParser]

    @extend_schema(
        request={
            "multipart/form-data": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}},
            "application/x-yaml": OpenApiTypes.STR,
        },
        parameters=[OpenApiParameter("name", str, description="Name the imported bot differently")],
        responses={201: ImportedOut},
    )
    def post(self, request: Request, workspace_id: str) -> Response:
        actor = request_actor(request)
        workspace = account_selectors.workspace_get(actor=actor, workspace_id=workspace_id, action=Action.BOT_CREATE)
        raw = RawYamlParser.read_upload(request)
        result = transfer.bot_import(
            actor=actor, workspace=workspace, raw=raw, name=query_param(request, "name", "") or None
        )
        body = {
            "bot": BotOut(result.bot).data,
            "dependencies": result.dependencies,
            "secrets_to_fill": result.secrets_to_fill,
            "problems": result.problems,
        }
        return Response(body, status=status.HTTP_201_CREATED)
