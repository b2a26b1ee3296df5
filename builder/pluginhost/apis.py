"""Thin views over plugin services and selectors. Secrets go in, never out (masked only)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from builder.accounts import selectors as account_selectors
from builder.accounts.authentication import request_actor
from builder.core.api_views import validated
from builder.pluginhost import selectors, services
from builder.pluginhost.manager import LoadedPlugin
from builder.pluginhost.selectors import PluginListing


# --- serializers -------------------------------------------------------------------------------
class ToolOut(serializers.Serializer[Any]):
    name = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    long_running = serializers.BooleanField()
    timeout_s = serializers.FloatField()
    input_schema = serializers.JSONField(help_text="JSON Schema of the input: the tool node's form.")
    output_schema = serializers.JSONField(help_text="JSON Schema of the result.")


class ToolSetOut(serializers.Serializer[Any]):
    name = serializers.CharField()
    description = serializers.CharField()


class ToolSetProblemOut(serializers.Serializer[Any]):
    toolset = serializers.CharField()
    # DRF pops declared fields off the class, so this name does not shadow Field.source at run time.
    source = serializers.CharField(  # type: ignore[assignment]
        help_text="The failing source of the tool set (a spec, a server), or empty."
    )
    code = serializers.CharField()
    message = serializers.CharField()


class PluginToolsOut(serializers.Serializer[Any]):
    tools = ToolOut(many=True)
    problems = ToolSetProblemOut(many=True, help_text="Tool sets that cannot list their tools now, and why.")


class PermissionsOut(serializers.Serializer[Any]):
    network = serializers.ListField(child=serializers.CharField())
    long_running = serializers.BooleanField()
    webhooks = serializers.BooleanField()


class PluginOut(serializers.Serializer[Any]):
    id = serializers.CharField()
    status = serializers.ChoiceField(choices=["ready", "error"])
    error = serializers.CharField(help_text="Why the server refused the plugin (status error).")
    name = serializers.CharField()
    description = serializers.CharField()
    icon = serializers.CharField()
    version = serializers.CharField()
    sdk_version = serializers.CharField()
    categories = serializers.ListField(child=serializers.CharField())
    enabled = serializers.BooleanField()
    configured = serializers.BooleanField(help_text="The saved settings satisfy the config schema.")
    tools = ToolOut(many=True)
    toolsets = ToolSetOut(
        many=True, help_text="Tools listed per workspace from its settings: see …/plugins/<id>/tools."
    )
    providers = serializers.ListField(child=serializers.CharField())
    node_types = serializers.ListField(child=serializers.CharField())
    permissions = PermissionsOut()
    config_schema = serializers.JSONField(help_text='The settings form; "x-secret" fields are write-only.')


class ConfigOut(serializers.Serializer[Any]):
    config = serializers.JSONField(help_text="The settings; secrets masked (send the mask back to keep one).")
    secrets_set = serializers.DictField(child=serializers.BooleanField())
    config_schema = serializers.JSONField()


class ConfigIn(serializers.Serializer[Any]):
    config = serializers.DictField(
        help_text="All the settings. A secret left out or sent back masked is kept; an empty one is removed."
    )


class TestIn(serializers.Serializer[Any]):
    config = serializers.DictField(
        required=False, help_text="Settings to test before saving them (merged onto the saved ones); default: saved."
    )


class TestOut(serializers.Serializer[Any]):
    ok = serializers.BooleanField()
    message = serializers.CharField()
    checked = serializers.BooleanField(help_text="False when the plugin cannot test its settings.")


def _tool(spec: Any) -> dict[str, Any]:
    return {
        "name": spec.name,
        "title": spec.display_title,
        "description": spec.description,
        "long_running": spec.long_running,
        "timeout_s": spec.timeout_s,
        "input_schema": spec.input_schema(),
        "output_schema": spec.output_schema(),
    }


def _ready(listing: PluginListing, plugin: LoadedPlugin) -> dict[str, Any]:
    manifest = plugin.manifest
    return {
        "id": plugin.id,
        "status": "ready",
        "error": "",
        "name": manifest.name,
        "description": manifest.description,
        "icon": manifest.icon,
        "version": manifest.version,
        "sdk_version": manifest.sdk_version,
        "categories": manifest.categories,
        "enabled": listing.enabled,
        "configured": listing.configured,
        "tools": [_tool(spec) for _name, spec in sorted(plugin.tools.items())],
        "toolsets": [
            {"name": name, "description": toolset.description} for name, toolset in sorted(plugin.toolsets.items())
        ],
        "providers": sorted(plugin.providers),
        "node_types": sorted(spec.name for spec in plugin.node_types),
        "permissions": manifest.permissions.model_dump(),
        "config_schema": manifest.config_schema,
    }


def plugin_body(listing: PluginListing) -> dict[str, Any]:
    if listing.plugin is not None:
        return dict(PluginOut(_ready(listing, listing.plugin)).data)
    reason = listing.problem.message if listing.problem is not None else ""
    refused = {
        "id": listing.id,
        "status": "error",
        "error": _("This plugin could not be loaded: %(reason)s") % {"reason": reason},
        "name": listing.id,
        "description": "",
        "icon": "",
        "version": "",
        "sdk_version": "",
        "categories": [],
        "enabled": False,
        "configured": False,
        "tools": [],
        "toolsets": [],
        "providers": [],
        "node_types": [],
        "permissions": {"network": [], "long_running": False, "webhooks": False},
        "config_schema": {},
    }
    return dict(PluginOut(refused).data)


# --- views -------------------------------------------------------------------------------------
class PluginListApi(APIView):
    @extend_schema(
        responses={200: PluginOut(many=True)}, summary="The plugins on this server, as the workspace has them"
    )
    def get(self, request: Request, workspace_id: str) -> Response:
        actor = request_actor(request)
        workspace = account_selectors.workspace_get(actor=actor, workspace_id=workspace_id)
        return Response([plugin_body(listing) for listing in selectors.plugin_list(actor=actor, workspace=workspace)])


class PluginDetailApi(APIView):
    @extend_schema(responses={200: PluginOut})
    def get(self, request: Request, workspace_id: str, plugin_id: str) -> Response:
        actor = request_actor(request)
        workspace = account_selectors.workspace_get(actor=actor, workspace_id=workspace_id)
        return Response(plugin_body(selectors.plugin_get(actor=actor, workspace=workspace, plugin_id=plugin_id)))


class _PluginSwitchApi(APIView):
    enable = True

    @extend_schema(request=None, responses={200: PluginOut})
    def post(self, request: Request, workspace_id: str, plugin_id: str) -> Response:
        actor = request_actor(request)
        workspace = account_selectors.workspace_get(actor=actor, workspace_id=workspace_id)
        switch = services.plugin_enable if self.enable else services.plugin_disable
        switch(actor=actor, workspace=workspace, plugin_id=plugin_id)
        return Response(plugin_body(selectors.plugin_get(actor=actor, workspace=workspace, plugin_id=plugin_id)))


class PluginEnableApi(_PluginSwitchApi):
    enable = True


class PluginDisableApi(_PluginSwitchApi):
    enable = False


class PluginConfigApi(APIView):
    @extend_schema(responses={200: ConfigOut}, summary="A plugin's settings in this workspace (secrets masked)")
    def get(self, request: Request, workspace_id: str, plugin_id: str) -> Response:
        actor = request_actor(request)
        workspace = account_selectors.workspace_get(actor=actor, workspace_id=workspace_id)
        return Response(
            ConfigOut(selectors.plugin_config_get(actor=actor, workspace=workspace, plugin_id=plugin_id)).data
        )

    @extend_schema(request=ConfigIn, responses={200: ConfigOut}, summary="Replace a plugin's settings")
    def put(self, request: Request, workspace_id: str, plugin_id: str) -> Response:
        actor = request_actor(request)
        data = validated(ConfigIn, request.data)
        workspace = account_selectors.workspace_get(actor=actor, workspace_id=workspace_id)
        services.plugin_configure(actor=actor, workspace=workspace, plugin_id=plugin_id, config=data["config"])
        return Response(
            ConfigOut(selectors.plugin_config_get(actor=actor, workspace=workspace, plugin_id=plugin_id)).data
        )


class PluginToolsApi(APIView):
    @extend_schema(
        responses={200: PluginToolsOut},
        summary="A plugin's tools in this workspace",
        description="Its static tools and those its tool sets list from the saved settings (an imported "
        "OpenAPI spec's operations, an MCP server's tools), with their schemas.",
    )
    def get(self, request: Request, workspace_id: str, plugin_id: str) -> Response:
        actor = request_actor(request)
        workspace = account_selectors.workspace_get(actor=actor, workspace_id=workspace_id)
        listed = selectors.plugin_tools_list(actor=actor, workspace=workspace, plugin_id=plugin_id)
        body = {
            "tools": [_tool(spec) for spec in listed.tools],
            "problems": [
                {
                    "toolset": problem.toolset,
                    "source": problem.source,
                    "code": problem.error.code,
                    "message": problem.error.message,
                }
                for problem in listed.problems
            ],
        }
        return Response(PluginToolsOut(body).data)


class PluginTestApi(APIView):
    @extend_schema(
        request=TestIn,
        responses={200: TestOut},
        summary="Test a plugin's credentials",
        description="A real check by the plugin (its validate_config hook). 200 with ok=false when it fails.",
    )
    def post(self, request: Request, workspace_id: str, plugin_id: str) -> Response:
        actor = request_actor(request)
        data = validated(TestIn, request.data)
        workspace = account_selectors.workspace_get(actor=actor, workspace_id=workspace_id)
        result = services.plugin_test_credentials(
            actor=actor, workspace=workspace, plugin_id=plugin_id, config=data.get("config")
        )
        return Response(TestOut(result).data)
