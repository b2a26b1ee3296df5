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
