from django.urls import path

from builder.credentials import apis

urlpatterns = [
    path("workspaces/<uuid:workspace_id>/credentials/", apis.CredentialListApi.as_view(), name="credential-list"),
    path(
        "workspaces/<uuid:workspace_id>/credentials/<uuid:credential_id>",
        apis.CredentialDetailApi.as_view(),
        name="credential-detail",
    ),
]
