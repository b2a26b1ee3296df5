"""Reads: the plugins a workspace can use, with their state there, and a plugin's masked settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.utils.translation import gettext as _

from builder.accounts.models import Workspace
from builder.accounts.permissions import Actor, check_workspace_permission
from builder.accounts.roles import Action
from builder.core.crypto import SecretUnreadable
from builder.core.exceptions import NotFound
from builder.core.ssrf import SsrfSafeHttpClient
from builder.pluginhost.configuration import decrypted_config, is_configured, masked_config, secrets_set
from builder.pluginhost.contexts import plugin_context
from builder.pluginhost.manager import LoadedPlugin, PluginProblem, get_host
from builder.pluginhost.models import PluginInstallation
from builder.pluginhost.roles import PLUGINS_MANAGE, PLUGINS_VIEW
from builder.pluginhost.toolsets import ToolSetProblem
from builder.sdk.errors import ToolError
from builder.sdk.tools import ToolSpec


@dataclass(frozen=True)
class PluginListing:
    """A plugin as a workspace sees it: loaded (``plugin``) or refused (``problem``), and its row."""

    id: str
    plugin: LoadedPlugin | None
    problem: PluginProblem | None
    installation: PluginInstallation | None

    @property
    def enabled(self) -> bool:
        return self.plugin is not None and self.installation is not None and self.installation.enabled

    @property
    def configured(self) -> bool:
        return self.plugin is not None and is_configured(self.plugin.manifest, self.installation)


def plugin_list(*, actor: Actor, workspace: Workspace) -> list[PluginListing]:
    """Every plugin on the server (refused ones too, so an admin sees why), by id."""
    check_workspace_permission(actor=actor, workspace=workspace, action=PLUGINS_VIEW)
    host = get_host()
    rows = {row.plugin_id: row for row in PluginInstallation.objects.filter(workspace=workspace)}
    listings = [
        PluginListing(id=plugin.id, plugin=plugin, problem=None, installation=rows.get(plugin.id))
        for plugin in host.sorted_plugins()
    ]
    listings += [
        PluginListing(id=problem.plugin_id, plugin=None, problem=problem, installation=None)
        for _key, problem in sorted(host.problems.items())
    ]
    return sorted(listings, key=lambda listing: (listing.id, listing.plugin is None))


def plugin_get(*, actor: Actor, workspace: Workspace, plugin_id: str, action: Action = PLUGINS_VIEW) -> PluginListing:
    """One loaded plugin; refused and unknown plugins are 404 (there is nothing to act on)."""
    check_workspace_permission(actor=actor, workspace=workspace, action=action)
    plugin = get_host().get(plugin_id)
    if plugin is None:
        raise NotFound(_("Plugin not found."))
    installation = PluginInstallation.objects.filter(workspace=workspace, plugin_id=plugin_id).first()
    return PluginListing(id=plugin_id, plugin=plugin, problem=None, installation=installation)


def plugin_config_get(*, actor: Actor, workspace: Workspace, plugin_id: str) -> dict[str, Any]:
    """The settings form's content: values with secrets masked, and which secrets are set."""
    listing = plugin_get(actor=actor, workspace=workspace, plugin_id=plugin_id, action=PLUGINS_MANAGE)
    assert listing.plugin is not None
    manifest = listing.plugin.manifest
    return {
        "config": masked_config(manifest, listing.installation),
        "secrets_set": secrets_set(manifest, listing.installation),
        "config_schema": manifest.config_schema,
    }


@dataclass(frozen=True)
class PluginTools:
    """A plugin's tools in a workspace: static ones and those its tool sets list, by name."""

    tools: list[ToolSpec[Any, Any]]
    # Tool sets (or their sources) that list nothing now, and why.
    problems: list[ToolSetProblem] = field(default_factory=list)


def plugin_tools_list(*, actor: Actor, workspace: Workspace, plugin_id: str) -> PluginTools:
    """The tools the workspace's bots can pick from this plugin: its static tools, and what its tool
    sets list from the saved settings (even before the plugin is enabled, so an admin sees what an
    import gives). Listing may ask a remote server; the host caches it (``toolsets.py``)."""
    listing = plugin_get(actor=actor, workspace=workspace, plugin_id=plugin_id)
    plugin = listing.plugin
    assert plugin is not None
    tools = dict(plugin.tools)
    problems: list[ToolSetProblem] = []
    if plugin.toolsets:
        try:
            config = decrypted_config(plugin.manifest, listing.installation)
        except SecretUnreadable:
            unreadable = ToolError(
                _("The stored settings cannot be decrypted: an administrator must enter them again."),
                code="plugin_settings_unreadable",
            )
            problems = [ToolSetProblem(name, "", unreadable) for name in sorted(plugin.toolsets)]
            return PluginTools(tools=[tools[name] for name in sorted(tools)], problems=problems)
        ctx = plugin_context(
            plugin,
            config=config,
            http=SsrfSafeHttpClient(allow=settings.AGENTLOOM_HTTP_ALLOWLIST),
            workspace_id=str(workspace.pk),
        )
        listed = async_to_sync(get_host().toolset_cache.listing)(plugin, ctx)
        tools.update(listed.tools)
        problems = list(listed.problems)
    return PluginTools(tools=[tools[name] for name in sorted(tools)], problems=problems)
