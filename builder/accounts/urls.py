from django.urls import path

from builder.accounts import apis

urlpatterns = [
    path("auth/csrf", apis.CsrfApi.as_view(), name="auth-csrf"),
    path("auth/login", apis.LoginApi.as_view(), name="auth-login"),
    path("auth/logout", apis.LogoutApi.as_view(), name="auth-logout"),
    path("auth/signup", apis.SignupApi.as_view(), name="auth-signup"),
    path("auth/me", apis.MeApi.as_view(), name="auth-me"),
    path("invitations/accept", apis.InvitationAcceptApi.as_view(), name="invitation-accept"),
    path("workspaces/", apis.WorkspaceListApi.as_view(), name="workspace-list"),
    path("workspaces/<uuid:workspace_id>/", apis.WorkspaceDetailApi.as_view(), name="workspace-detail"),
    path("workspaces/<uuid:workspace_id>/members/", apis.MemberListApi.as_view(), name="member-list"),
    path("workspaces/<uuid:workspace_id>/members/<uuid:user_id>", apis.MemberDetailApi.as_view(), name="member-detail"),
    path("workspaces/<uuid:workspace_id>/invitations/", apis.InvitationListApi.as_view(), name="invitation-list"),
    path(
        "workspaces/<uuid:workspace_id>/invitations/<uuid:invitation_id>",
        apis.InvitationDetailApi.as_view(),
        name="invitation-detail",
    ),
    path("workspaces/<uuid:workspace_id>/api-keys/", apis.ApiKeyListApi.as_view(), name="api-key-list"),
    path(
        "workspaces/<uuid:workspace_id>/api-keys/<uuid:key_id>", apis.ApiKeyDetailApi.as_view(), name="api-key-detail"
    ),
]
