"""``WorkspaceChatModels``: the engine's ``ChatModels`` for one workspace (and one bot).

A node's model choice resolves in this order: the node's own ``model``; without one, the bot's
``settings.model``; without that, the workspace's default provider and its default model. A choice
that names a provider the workspace does not have fails the node (``not_configured``) rather
than quietly running on another model.

Providers are loaded once, up front (``load`` / ``aload``), because the engine calls ``get`` from
async code where the ORM may not run; keys are decrypted when a model is first built. A provider
of a plugin's kind is built by that plugin (``plugin_providers``); when the plugin is gone or not
enabled in the workspace, the node fails with ``provider_unavailable`` or ``plugin_disabled``.
"""

from __future__ import annotations

from collections.abc import Sequence

from asgiref.sync import sync_to_async
from django.utils.translation import gettext_noop
from langchain_core.language_models import BaseChatModel

from builder.accounts.models import Workspace
from builder.engine.nodes.model_calls import ModelTraits
from builder.engine.runtime.contract import node_error
from builder.engine.values import ModelChoice
from builder.llm.clients import build_chat_model, structured_output_method
from builder.llm.models import ModelProvider
from builder.llm.plugin_providers import ProviderUnavailable
from builder.llm.providers import ModelInfo
from builder.llm.selectors import model_provider_match, model_providers_for_run, workspace_default_provider
from builder.llm.services import provider_settings


def model_label(provider: ModelProvider, model: str) -> str:
    """How a model is named in traces and usage: ``"<provider name>/<model>"``."""
    return f"{provider.name}/{model}"


class WorkspaceChatModels:
    """Implements ``builder.engine.runtime.contract.ChatModels`` over a workspace's providers, loaded
    by ``selectors.model_providers_for_run`` (so plugin kinds know whether their plugin is enabled)."""

    def __init__(self, providers: Sequence[ModelProvider], *, bot_model: ModelChoice | None = None) -> None:
        self.providers = list(providers)
        self.bot_model = bot_model
        self._cache: dict[str, BaseChatModel] = {}
        # label → model info, for cost(); bare model names too, for callers that only know those.
        self._infos: dict[str, ModelInfo] = {}
        for provider in self.providers:
            for info in provider.model_infos:
                self._infos[model_label(provider, info.name)] = info
                self._infos.setdefault(info.name, info)

    @classmethod
    def load(cls, workspace: Workspace, *, bot_model: ModelChoice | None = None) -> WorkspaceChatModels:
        return cls(model_providers_for_run(workspace_id=workspace.pk), bot_model=bot_model)

    @classmethod
    async def aload(cls, workspace: Workspace, *, bot_model: ModelChoice | None = None) -> WorkspaceChatModels:
        providers = await sync_to_async(model_providers_for_run)(workspace_id=workspace.pk)
        return cls(providers, bot_model=bot_model)

    def get(self, choice: ModelChoice | None) -> BaseChatModel:
        choice = choice or self.bot_model or self._workspace_default()
        provider = model_provider_match(self.providers, choice.provider)
        if provider is None:
            template = gettext_noop(
                'This workspace has no model provider "%(provider)s". Add it, or choose another model.'
            )
            raise node_error("not_configured", template, provider=choice.provider)
        key = f"{provider.pk}:{choice.model_dump_json()}"
        if key not in self._cache:
            self._cache[key] = self._build(provider, choice)
        return self._cache[key]

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        info = self._infos.get(model)
        return info.cost(prompt_tokens, completion_tokens) if info is not None else 0.0

    def _workspace_default(self) -> ModelChoice:
        provider = workspace_default_provider(self.providers)
        model = provider.effective_default_model if provider is not None else ""
        if provider is None or not model:
            template = gettext_noop(
                "No model is chosen and the workspace has no default model. Add a model provider first."
            )
            raise node_error("not_configured", template)
        return ModelChoice(provider=str(provider.pk), name=model)

    def _build(self, provider: ModelProvider, choice: ModelChoice) -> BaseChatModel:
        info = provider.model_info(choice.name)
        traits = ModelTraits(
            label=model_label(provider, choice.name),
            structured_output=structured_output_method(provider.kind, info),
            vision=info.vision if info is not None else None,
            tools=info.tools if info is not None else None,
        )
        try:
            return build_chat_model(provider_settings(provider), choice.name, choice=choice, traits=traits)
        except ProviderUnavailable as error:
            raise node_error(error.code, error.template, **error.params) from None
