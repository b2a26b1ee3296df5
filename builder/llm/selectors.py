"""Reads for model providers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from builder.accounts.models import Workspace
from builder.accounts.permissions import Actor, check_workspace_permission
from builder.accounts.roles import Action
from builder.core.exceptions import NotFound
from builder.llm.models import ModelProvider
from builder.llm.plugin_providers import plugin_kinds
from builder.llm.providers import ProviderKind
from builder.pluginhost.models import PluginInstallation


def model_provider_list(*, actor: Actor, workspace: Workspace) -> QuerySet[ModelProvider]:
    check_workspace_permission(actor=actor, workspace=workspace, action=Action.MODEL_PROVIDERS_VIEW)
    return ModelProvider.objects.filter(workspace=workspace)


def model_provider_get(
    *, actor: Actor, workspace: Workspace, provider_id: Any, action: Action = Action.MODEL_PROVIDERS_VIEW
) -> ModelProvider:
    check_workspace_permission(actor=actor, workspace=workspace, action=action)
    provider = ModelProvider.objects.filter(workspace=workspace, pk=provider_id).first()
    if provider is None:
        raise NotFound(_("Model provider not found."))
    return provider


def workspace_enabled_plugins(*, workspace_id: Any) -> frozenset[str]:
    """The ids of the plugins the workspace has enabled (whose provider kinds it may use)."""
    installations = PluginInstallation.objects.filter(workspace_id=workspace_id, enabled=True)
    return frozenset(installations.values_list("plugin_id", flat=True))


def model_providers_for_run(*, workspace_id: Any) -> list[ModelProvider]:
    """The workspace's providers as a run uses them: each of a plugin's kind knows whether that
    plugin is enabled in the workspace (``plugin_enabled``), since a run builds its models on the
    event loop, where the database cannot be asked."""
    providers = list(ModelProvider.objects.filter(workspace_id=workspace_id))
    if all(provider.kind in ProviderKind.values for provider in providers):
        return providers
    enabled = workspace_enabled_plugins(workspace_id=workspace_id)
    kinds = plugin_kinds()
    for provider in providers:
        if provider.kind not in ProviderKind.values:
            found = kinds.get(provider.kind)
            provider.plugin_enabled = found is not None and found.plugin in enabled
    return providers


def model_provider_match(providers: Sequence[ModelProvider], ref: str) -> ModelProvider | None:
    """The provider a ``ModelChoice.provider`` means: by id, else by name (any case), else by kind
    when the workspace has exactly one of that kind (so ``"openai"`` in an example bot finds the
    workspace's OpenAI provider whatever it is called)."""
    ref = ref.strip()
    for provider in providers:
        if str(provider.pk) == ref:
            return provider
    folded = ref.casefold()
    for provider in providers:
        if provider.name.casefold() == folded:
            return provider
    same_kind = [provider for provider in providers if provider.kind == ref]
    return same_kind[0] if len(same_kind) == 1 else None


def workspace_default_provider(providers: Sequence[ModelProvider]) -> ModelProvider | None:
    """The provider marked default, else the only one."""
    marked = next((provider for provider in providers if provider.is_default), None)
    if marked is not None:
        return marked
    return providers[0] if len(providers) == 1 else None
