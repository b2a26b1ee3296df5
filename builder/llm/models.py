from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from builder.accounts.models import User, Workspace
from builder.core.models import BaseModel
from builder.llm.providers import ModelInfo


class ModelProvider(BaseModel):
    """Where a workspace's chat models come from: an endpoint, a key and the models it serves.

    Nodes name it in ``ModelChoice.provider`` by id or by name. The key is stored encrypted
    (``builder.core.crypto``) and only ever shown masked (``api_key_hint``).
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="model_providers")
    name = models.CharField(_("name"), max_length=64)
    # A built-in ProviderKind or a kind a plugin adds (plugin_providers.py): checked by the services,
    # not by choices, so installing a plugin needs no migration.
    kind = models.CharField(_("kind"), max_length=32)
    # For openai_compatible: which preset filled it in (deepseek, dashscope…); informative only.
    preset = models.CharField(_("preset"), max_length=32, blank=True)
    base_url = models.CharField(_("base URL"), max_length=500, blank=True)
    api_key_encrypted = models.TextField(blank=True)
    api_key_hint = models.CharField(_("API key"), max_length=32, blank=True)
    # A list of ModelInfo dicts (name, label, prices per 1M tokens, capabilities).
    model_list: models.JSONField[Any, Any] = models.JSONField(_("models"), default=list, blank=True)
    # The model used when a bot or node names this provider's default; empty: the first listed.
    default_model = models.CharField(_("default model"), max_length=200, blank=True)
    is_default = models.BooleanField(_("workspace default"), default=False)
    timeout_s = models.PositiveIntegerField(_("timeout (seconds)"), default=60)
    created_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")

    # Not a column. For a plugin's kind: whether that plugin is enabled in the workspace, when the row
    # was loaded for a run (selectors.model_providers_for_run), which builds models on the event loop,
    # where the database cannot be asked. None: not loaded that way (or a built-in kind).
    plugin_enabled: bool | None = None

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(Lower("name"), "workspace", name="unique_model_provider_name"),
            models.UniqueConstraint(
                fields=["workspace"], condition=models.Q(is_default=True), name="one_default_model_provider"
            ),
        ]
        verbose_name = _("model provider")
        verbose_name_plural = _("model providers")

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    @property
    def model_infos(self) -> list[ModelInfo]:
        return [ModelInfo.model_validate(item) for item in self.model_list or []]

    def model_info(self, name: str) -> ModelInfo | None:
        return next((info for info in self.model_infos if info.name == name), None)

    @property
    def effective_default_model(self) -> str:
        if self.default_model:
            return self.default_model
        infos = self.model_infos
        return infos[0].name if infos else ""
