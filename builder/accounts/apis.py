"""Thin views: parse input, call one service or selector, shape the output."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate, login, logout
from django.db.models import QuerySet
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views.decorators.csrf import ensure_csrf_cookie
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from builder.accounts import selectors, services
from builder.accounts.authentication import request_actor
from builder.accounts.login_throttle import (
    LoginThrottle,
    client_address,
    login_failure_record,
    login_success_record,
    login_username,
)
from builder.accounts.models import ApiKey, Invitation, Membership, User, Workspace
from builder.accounts.permissions import check_not_api_key
from builder.accounts.roles import API_KEY_ROLES, Role
from builder.core.api_views import validated
from builder.core.exceptions import NotAuthenticated


# --- output serializers ------------------------------------------------------------------------
class UserOut(serializers.ModelSerializer[User]):
    class Meta:
        model = User
        fields = ["id", "username", "email", "display_name", "locale"]


class WorkspaceOut(serializers.ModelSerializer[Workspace]):
    class Meta:
        model = Workspace
        fields = ["id", "name", "slug", "description", "created_at", "updated_at"]


class MembershipOut(serializers.ModelSerializer[Membership]):
    user = UserOut()

    class Meta:
        model = Membership
        fields = ["user", "role", "created_at"]


class InvitationOut(serializers.ModelSerializer[Invitation]):
    status = serializers.CharField()

    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "status", "expires_at", "created_at", "accepted_at", "revoked_at"]


class InvitationCreatedOut(InvitationOut):
    token = serializers.CharField(help_text="Shown once; also sent by email.")

    class Meta(InvitationOut.Meta):
        fields = [*InvitationOut.Meta.fields, "token"]


class ApiKeyOut(serializers.ModelSerializer[ApiKey]):
    is_active = serializers.BooleanField()
    created_by = UserOut()

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "name",
            "prefix",
            "role",
            "bot",
            "is_active",
            "created_by",
            "created_at",
            "last_used_at",
            "expires_at",
            "revoked_at",
        ]


class ApiKeyCreatedOut(ApiKeyOut):
    key = serializers.CharField(help_text="The secret. Shown once: store it now.")

    class Meta(ApiKeyOut.Meta):
        fields = [*ApiKeyOut.Meta.fields, "key"]


# --- auth --------------------------------------------------------------------------------------
class LoginIn(serializers.Serializer[Any]):
    username = serializers.CharField(help_text="Username or email.")
    password = serializers.CharField(style={"input_type": "password"})


class SignupIn(serializers.Serializer[Any]):
    username = serializers.RegexField(r"^[\w.@+-]{3,150}$")
    email = serializers.EmailField()
    password = serializers.CharField(min_length=8)
    display_name = serializers.CharField(required=False, allow_blank=True, max_length=150)


class MeIn(serializers.Serializer[Any]):
    display_name = serializers.CharField(required=False, allow_blank=True, max_length=150)
    locale = serializers.ChoiceField(required=False, choices=["en", "zh-hans"])


@method_decorator(ensure_csrf_cookie, name="dispatch")
class CsrfApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses={204: None}, summary="Set the CSRF cookie for session clients")
    def get(self, request: Request) -> Response:
        return Response(status=status.HTTP_204_NO_CONTENT)


class LoginApi(APIView):
    # The default authentication runs (no empty list): it holds anonymous callers to the CSRF check.
    permission_classes = [AllowAny]
    # A username or an address locked out after failed sign-ins gets a 429 before its password is checked.
    throttle_classes = [LoginThrottle]

    @extend_schema(request=LoginIn, responses={200: UserOut})
    def post(self, request: Request) -> Response:
        data = validated(LoginIn, request.data)
        username = login_username(data["username"])
        user = authenticate(request._request, username=username, password=data["password"])
        if user is None:
            login_failure_record(username=username, address=client_address(request))
            raise NotAuthenticated(_("Wrong username or password."), code="invalid_credentials")
        login_success_record(username=username)
        login(request._request, user)
        return Response(UserOut(user).data)


class LogoutApi(APIView):
    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        selectors.me(actor=request_actor(request))  # a session to end: API keys are refused
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SignupApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(request=SignupIn, responses={201: UserOut})
    def post(self, request: Request) -> Response:
        check_not_api_key(request_actor(request))
        data = validated(SignupIn, request.data)
        user = services.user_signup(**data)
        login(request._request, user, backend="django.contrib.auth.backends.ModelBackend")
        return Response(UserOut(user).data, status=status.HTTP_201_CREATED)


class MeApi(APIView):
    @extend_schema(responses={200: UserOut})
    def get(self, request: Request) -> Response:
        return Response(UserOut(selectors.me(actor=request_actor(request))).data)

    @extend_schema(request=MeIn, responses={200: UserOut})
    def patch(self, request: Request) -> Response:
        data = validated(MeIn, request.data)
        user = services.user_update_profile(user=selectors.me(actor=request_actor(request)), **data)
        return Response(UserOut(user).data)


# --- workspaces --------------------------------------------------------------------------------
class WorkspaceIn(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True)


class WorkspaceUpdateIn(serializers.Serializer[Any]):
    name = serializers.CharField(required=False, max_length=100)
    description = serializers.CharField(required=False, allow_blank=True)


class WorkspaceListApi(generics.ListAPIView[Workspace]):
    # Only for the OpenAPI schema (filter fields); requests go through get_queryset and its selector.
    queryset = Workspace.objects.none()
    serializer_class = WorkspaceOut
    search_fields = ["name", "slug"]
    ordering_fields = ["name", "created_at"]

    def get_queryset(self) -> QuerySet[Workspace]:
        return selectors.workspace_list(actor=request_actor(self.request))

    @extend_schema(request=WorkspaceIn, responses={201: WorkspaceOut})
    def post(self, request: Request) -> Response:
        data = validated(WorkspaceIn, request.data)
        workspace = services.workspace_create(actor=request_actor(request), **data)
        return Response(WorkspaceOut(workspace).data, status=status.HTTP_201_CREATED)


class WorkspaceDetailApi(APIView):
    @extend_schema(responses={200: WorkspaceOut})
    def get(self, request: Request, workspace_id: str) -> Response:
        workspace = selectors.workspace_get(actor=request_actor(request), workspace_id=workspace_id)
        return Response(WorkspaceOut(workspace).data)

    @extend_schema(request=WorkspaceUpdateIn, responses={200: WorkspaceOut})
    def patch(self, request: Request, workspace_id: str) -> Response:
        actor = request_actor(request)
        data = validated(WorkspaceUpdateIn, request.data)
        workspace = selectors.workspace_get(actor=actor, workspace_id=workspace_id)
        return Response(WorkspaceOut(services.workspace_update(actor=actor, workspace=workspace, **data)).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, workspace_id: str) -> Response:
        actor = request_actor(request)
        services.workspace_delete(
            actor=actor, workspace=selectors.workspace_get(actor=actor, workspace_id=workspace_id)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- members and invitations -------------------------------------------------------------------
class MemberRoleIn(serializers.Serializer[Any]):
    role = serializers.ChoiceField(choices=Role.choices)


class MemberListApi(generics.ListAPIView[Membership]):
    # Only for the OpenAPI schema (filter fields); requests go through get_queryset and its selector.
    queryset = Membership.objects.none()
    serializer_class = MembershipOut
    filterset_fields = ["role"]
    search_fields = ["user__username", "user__email", "user__display_name"]
    ordering_fields = ["created_at", "role"]

    def get_queryset(self) -> QuerySet[Membership]:
        actor = request_actor(self.request)
        workspace = selectors.workspace_get(actor=actor, workspace_id=self.kwargs["workspace_id"])
        return selectors.membership_list(actor=actor, workspace=workspace)


class MemberDetailApi(APIView):
    @extend_schema(request=MemberRoleIn, responses={200: MembershipOut})
    def patch(self, request: Request, workspace_id: str, user_id: str) -> Response:
        actor = request_actor(request)
        data = validated(MemberRoleIn, request.data)
        workspace = selectors.workspace_get(actor=actor, workspace_id=workspace_id)
        user = selectors.member_get(actor=actor, workspace=workspace, user_id=user_id)
        membership = services.member_role_change(actor=actor, workspace=workspace, user=user, role=data["role"])
        return Response(MembershipOut(membership).data)

    @extend_schema(responses={204: None}, summary="Remove a member, or leave the workspace")
    def delete(self, request: Request, workspace_id: str, user_id: str) -> Response:
        actor = request_actor(request)
        workspace = selectors.workspace_get(actor=actor, workspace_id=workspace_id)
        user = selectors.member_get(actor=actor, workspace=workspace, user_id=user_id)
        services.member_remove(actor=actor, workspace=workspace, user=user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationIn(serializers.Serializer[Any]):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Role.choices)


class InvitationAcceptIn(serializers.Serializer[Any]):
    token = serializers.CharField()


class InvitationListApi(generics.ListAPIView[Invitation]):
    # Only for the OpenAPI schema (filter fields); requests go through get_queryset and its selector.
    queryset = Invitation.objects.none()
    serializer_class = InvitationOut
    search_fields = ["email"]
    ordering_fields = ["created_at", "expires_at"]

    def get_queryset(self) -> QuerySet[Invitation]:
        actor = request_actor(self.request)
        workspace = selectors.workspace_get(actor=actor, workspace_id=self.kwargs["workspace_id"])
        return selectors.invitation_list(actor=actor, workspace=workspace)

    @extend_schema(request=InvitationIn, responses={201: InvitationCreatedOut})
    def post(self, request: Request, workspace_id: str) -> Response:
        actor = request_actor(request)
        data = validated(InvitationIn, request.data)
        workspace = selectors.workspace_get(actor=actor, workspace_id=workspace_id)
        invitation, token = services.invitation_create(actor=actor, workspace=workspace, **data)
        body = InvitationOut(invitation).data | {"token": token}
        return Response(body, status=status.HTTP_201_CREATED)


class InvitationDetailApi(APIView):
    @extend_schema(responses={200: InvitationOut}, summary="Revoke an invitation")
    def delete(self, request: Request, workspace_id: str, invitation_id: str) -> Response:
        actor = request_actor(request)
        workspace = selectors.workspace_get(actor=actor, workspace_id=workspace_id)
        invitation = selectors.invitation_get(actor=actor, workspace=workspace, invitation_id=invitation_id)
        return Response(InvitationOut(services.invitation_revoke(actor=actor, invitation=invitation)).data)


class InvitationAcceptApi(APIView):
    @extend_schema(request=InvitationAcceptIn, responses={200: MembershipOut})
    def post(self, request: Request) -> Response:
        data = validated(InvitationAcceptIn, request.data)
        membership = services.invitation_accept(user=selectors.me(actor=request_actor(request)), token=data["token"])
        return Response(MembershipOut(membership).data)


# --- API keys ----------------------------------------------------------------------------------
class ApiKeyIn(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100)
    role = serializers.ChoiceField(choices=API_KEY_ROLES, default=Role.VIEWER)
    bot = serializers.UUIDField(required=False, allow_null=True, help_text="Limit the key to this bot.")
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class ApiKeyListApi(generics.ListAPIView[ApiKey]):
    # Only for the OpenAPI schema (filter fields); requests go through get_queryset and its selector.
    queryset = ApiKey.objects.none()
    serializer_class = ApiKeyOut
    filterset_fields = ["role", "bot"]
    search_fields = ["name", "prefix"]
    ordering_fields = ["created_at", "last_used_at"]

    def get_queryset(self) -> QuerySet[ApiKey]:
        actor = request_actor(self.request)
        workspace = selectors.workspace_get(actor=actor, workspace_id=self.kwargs["workspace_id"])
        return selectors.api_key_list(actor=actor, workspace=workspace)

    @extend_schema(request=ApiKeyIn, responses={201: ApiKeyCreatedOut})
    def post(self, request: Request, workspace_id: str) -> Response:
        actor = request_actor(request)
        data = validated(ApiKeyIn, request.data)
        workspace = selectors.workspace_get(actor=actor, workspace_id=workspace_id)
        key, raw_key = services.api_key_create(
            actor=actor,
            workspace=workspace,
            name=data["name"],
            role=data["role"],
            bot_id=data.get("bot"),
            expires_at=data.get("expires_at"),
        )
        return Response(ApiKeyOut(key).data | {"key": raw_key}, status=status.HTTP_201_CREATED)


class ApiKeyDetailApi(APIView):
    @extend_schema(responses={200: ApiKeyOut}, summary="Revoke an API key")
    def delete(self, request: Request, workspace_id: str, key_id: str) -> Response:
        actor = request_actor(request)
        workspace = selectors.workspace_get(actor=actor, workspace_id=workspace_id)
        key = selectors.api_key_get(actor=actor, workspace=workspace, key_id=key_id)
        return Response(ApiKeyOut(services.api_key_revoke(actor=actor, key=key)).data)
