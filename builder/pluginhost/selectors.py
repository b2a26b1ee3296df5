"""Reads: the plugins a workspace can use, with their state there, and a plugin's masked settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from builder.accounts.models import Workspace
from builder.accounts.permissions import Actor, check_workspace_permission
from builder.accounts.roles import Action
from builder.core.exceptions import NotFound
from builder.pluginhost.configuration import is_configured, masked_config, secrets_set
from builder.pluginhost.manager import LoadedPlugin, PluginProblem, get_host
from builder.pluginhost.models import PluginInstallation
from builder.pluginhost.roles import PLUGINS_MANAGE, PLUGINS_VIEW


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
