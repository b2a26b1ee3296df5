"""Writes: enable and disable a plugin in a workspace, configure it, test its credentials.

Admins manage plugins (they hold the credentials); see ``roles.py``. A plugin is enabled only
with valid settings, so a bot never meets a half-configured plugin it was allowed to use.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils.translation import gettext as _

from builder.accounts.models import Workspace
from builder.accounts.permissions import Actor, actor_user
from builder.core.exceptions import ValidationFailed
from builder.core.ssrf import SsrfSafeHttpClient
from builder.engine.runtime.contract import NodeError
from builder.pluginhost.configuration import (
    decrypted_config,
    merged_config,
    stored_config,
    validate_config,
)
from builder.pluginhost.contexts import plugin_context
from builder.pluginhost.manager import LoadedPlugin, get_host
from builder.pluginhost.models import PluginInstallation, PluginJob
from builder.pluginhost.roles import PLUGINS_MANAGE
from builder.pluginhost.selectors import plugin_get
from builder.sdk.context import CredentialCheck, PluginContext
from builder.sdk.errors import ToolError

logger = logging.getLogger(__name__)
CHECK_TIMEOUT_S: Final = 30.0
MAX_MESSAGE_CHARS: Final = 500


@dataclass(frozen=True)
class CredentialsResult:
    """``checked`` is False when the plugin has no ``validate_config`` (nothing could be tested)."""

    ok: bool
    message: str
    checked: bool


def _installation_for_update(workspace: Workspace, plugin_id: str) -> PluginInstallation:
    installation, _created = PluginInstallation.objects.select_for_update().get_or_create(
        workspace=workspace, plugin_id=plugin_id
    )
    return installation


def _loaded(listing_plugin: LoadedPlugin | None) -> LoadedPlugin:
    assert listing_plugin is not None  # plugin_get raises NotFound for anything else
    return listing_plugin


def _check_settings(plugin: LoadedPlugin, values: Mapping[str, Any]) -> None:
    """The config schema, then the plugin's own offline checks (``check_config``: a spec that does
    not parse, a transport this server refuses); ``ValidationFailed`` with the fields otherwise."""
    validate_config(plugin.manifest, values)
    try:
        problems = get_host().check_config(plugin.id, values)
    except Exception as error:  # the plugin's bug: say so, do not save what it could not check
        logger.exception("check_config of the plugin %s raised", plugin.id)
        raise ValidationFailed(
            _("The plugin could not check these settings: %(error)s") % {"error": type(error).__name__}
        ) from None
    if problems:
        raise ValidationFailed(_("The plugin's settings are invalid."), fields=dict(problems))


@transaction.atomic
def plugin_enable(*, actor: Actor, workspace: Workspace, plugin_id: str) -> PluginInstallation:
    """Let the workspace's bots use the plugin; its stored settings must be valid first."""
    plugin = _loaded(plugin_get(actor=actor, workspace=workspace, plugin_id=plugin_id, action=PLUGINS_MANAGE).plugin)
    installation = _installation_for_update(workspace, plugin_id)
    values = decrypted_config(plugin.manifest, installation)
    try:
        _check_settings(plugin, values)
    except ValidationFailed as error:
        raise ValidationFailed(_("Complete the plugin's settings before enabling it."), fields=error.fields) from None
    installation.enabled = True
    installation.updated_by = actor_user(actor)
    installation.save()
    return installation


@transaction.atomic
def plugin_disable(*, actor: Actor, workspace: Workspace, plugin_id: str) -> PluginInstallation:
    """Stop the workspace's bots from using the plugin (their tool calls fail with ``plugin_disabled``).
    The settings are kept for when it is enabled again."""
    plugin_get(actor=actor, workspace=workspace, plugin_id=plugin_id, action=PLUGINS_MANAGE)
    installation = _installation_for_update(workspace, plugin_id)
    installation.enabled = False
    installation.updated_by = actor_user(actor)
    installation.save()
    return installation


@transaction.atomic
def plugin_configure(
    *, actor: Actor, workspace: Workspace, plugin_id: str, config: Mapping[str, Any]
) -> PluginInstallation:
    """Replace the plugin's settings (secrets: see ``configuration.py``), validated against its schema."""
    plugin = _loaded(plugin_get(actor=actor, workspace=workspace, plugin_id=plugin_id, action=PLUGINS_MANAGE).plugin)
    installation = _installation_for_update(workspace, plugin_id)
    values = merged_config(plugin.manifest, installation, config)
    _check_settings(plugin, values)
    stored = stored_config(plugin.manifest, values)
    installation.config = stored.config
    installation.secrets_encrypted = stored.secrets_encrypted
    installation.secret_hints = stored.secret_hints
    installation.updated_by = actor_user(actor)
    installation.save()
    return installation


def plugin_test_credentials(
    *, actor: Actor, workspace: Workspace, plugin_id: str, config: Mapping[str, Any] | None = None
) -> CredentialsResult:
    """Ask the plugin (``validate_config``) whether the saved settings, or ``config`` merged onto
    them (not saved), really work. A failing check is a result, not an error."""
    listing = plugin_get(actor=actor, workspace=workspace, plugin_id=plugin_id, action=PLUGINS_MANAGE)
    plugin = _loaded(listing.plugin)
    if config is None:
        values = decrypted_config(plugin.manifest, listing.installation)
    else:
        values = merged_config(plugin.manifest, listing.installation, config)
    _check_settings(plugin, values)
    ctx = plugin_context(
        plugin,
        config=values,
        http=SsrfSafeHttpClient(allow=settings.AGENTLOOM_HTTP_ALLOWLIST),
        workspace_id=str(workspace.pk),
    )
    return async_to_sync(_check)(plugin, ctx)


async def _check(plugin: LoadedPlugin, ctx: PluginContext) -> CredentialsResult:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            answer = get_host().validate_config(plugin.id, ctx.config, ctx)
            if inspect.isawaitable(answer):
                answer = await answer
    except TimeoutError:
        return CredentialsResult(
            ok=False,
            message=_("The check did not finish within %(seconds)s seconds.") % {"seconds": f"{CHECK_TIMEOUT_S:g}"},
            checked=True,
        )
    except (ToolError, NodeError) as error:
        return CredentialsResult(ok=False, message=ctx.redact(error.message)[:MAX_MESSAGE_CHARS], checked=True)
    except Exception as error:  # the plugin's bug: the admin sees it, the server carries on
        logger.error("validate_config of the plugin %s raised %s", plugin.id, type(error).__name__)
        described = ctx.redact(f"{type(error).__name__}: {error}")[:MAX_MESSAGE_CHARS]
        return CredentialsResult(
            ok=False, message=_("The check failed: %(error)s") % {"error": described}, checked=True
        )
    if answer is None:
        return CredentialsResult(ok=True, message=_("This plugin cannot test its settings."), checked=False)
    if not isinstance(answer, CredentialCheck):
        return CredentialsResult(
            ok=False,
            message=_("The plugin answered the check with %(type)s instead of a CredentialCheck.")
            % {"type": type(answer).__name__},
            checked=True,
        )
    return CredentialsResult(ok=answer.ok, message=ctx.redact(answer.message)[:MAX_MESSAGE_CHARS], checked=True)


def workspace_job_files_forget(*, workspace_id: Any) -> None:
    """Before a workspace's rows go: its jobs' stored files, deleted once the deletion commits."""
    jobs = PluginJob.objects.filter(workspace_id=workspace_id)
    names = [name for files in jobs.values_list("files", flat=True) for name in files or ()]

    def forget() -> None:
        for name in names:
            default_storage.delete(name)

    transaction.on_commit(forget)
