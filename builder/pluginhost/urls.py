from django.urls import path

from builder.pluginhost import apis, webhooks

urlpatterns = [
    path("workspaces/<uuid:workspace_id>/plugins/", apis.PluginListApi.as_view(), name="plugin-list"),
    path(
        "workspaces/<uuid:workspace_id>/plugins/<slug:plugin_id>", apis.PluginDetailApi.as_view(), name="plugin-detail"
    ),
    path(
        "workspaces/<uuid:workspace_id>/plugins/<slug:plugin_id>/enable",
        apis.PluginEnableApi.as_view(),
        name="plugin-enable",
    ),
    path(
        "workspaces/<uuid:workspace_id>/plugins/<slug:plugin_id>/disable",
        apis.PluginDisableApi.as_view(),
        name="plugin-disable",
    ),
    path(
        "workspaces/<uuid:workspace_id>/plugins/<slug:plugin_id>/config",
        apis.PluginConfigApi.as_view(),
        name="plugin-config",
    ),
    path(
        "workspaces/<uuid:workspace_id>/plugins/<slug:plugin_id>/tools",
        apis.PluginToolsApi.as_view(),
        name="plugin-tools",
    ),
    path(
        "workspaces/<uuid:workspace_id>/plugins/<slug:plugin_id>/test",
        apis.PluginTestApi.as_view(),
        name="plugin-test",
    ),
    path("plugins/<slug:plugin_id>/webhooks/<path:path>", webhooks.plugin_webhook, name="plugin-webhook"),
]
