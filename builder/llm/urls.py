from django.urls import path

from builder.llm import apis

urlpatterns = [
    path("model-providers/presets", apis.ProviderPresetsApi.as_view(), name="model-provider-presets"),
    path("model-providers/kinds", apis.ProviderKindsApi.as_view(), name="model-provider-kinds"),
    path(
        "workspaces/<uuid:workspace_id>/model-providers/",
        apis.ModelProviderListApi.as_view(),
        name="model-provider-list",
    ),
    path(
        "workspaces/<uuid:workspace_id>/model-providers/check",
        apis.ModelProviderDraftCheckApi.as_view(),
        name="model-provider-draft-check",
    ),
    path(
        "workspaces/<uuid:workspace_id>/model-providers/<uuid:provider_id>",
        apis.ModelProviderDetailApi.as_view(),
        name="model-provider-detail",
    ),
    path(
        "workspaces/<uuid:workspace_id>/model-providers/<uuid:provider_id>/check",
        apis.ModelProviderCheckApi.as_view(),
        name="model-provider-check",
    ),
]
