from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from builder.accounts.models import User, Workspace
from builder.core.models import BaseModel


class PluginInstallation(BaseModel):
    """One plugin in one workspace: whether its bots may use it, and the workspace's settings of it.

    A plugin with no row is installed on the server but not enabled in the workspace. Settings are
    split by the manifest's ``config_schema``: plain values in ``config``; ``"x-secret"`` fields
    encrypted (``builder.core.crypto``) in ``secrets_encrypted``, with the masked form every
    response shows in ``secret_hints``.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="plugin_installations")
    plugin_id = models.CharField(_("plugin"), max_length=64)
    enabled = models.BooleanField(_("enabled"), default=False)
    config: models.JSONField[Any, Any] = models.JSONField(_("settings"), default=dict, blank=True)
    secrets_encrypted: models.JSONField[Any, Any] = models.JSONField(default=dict, blank=True)
    secret_hints: models.JSONField[Any, Any] = models.JSONField(default=dict, blank=True)
    updated_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["plugin_id"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "plugin_id"], name="unique_plugin_per_workspace"),
        ]
        verbose_name = _("plugin installation")
        verbose_name_plural = _("plugin installations")

    def __str__(self) -> str:
        return f"{self.plugin_id} in {self.workspace_id}"
