"""Kinds of model provider that plugins add (``register_model_providers``), next to the built-in ones.

A provider row stores its kind as text, so a plugin's kind needs no migration. A workspace may
choose a kind while a plugin loaded on this server registers it, and uses it as it uses the
plugin's tools: while that plugin is enabled in the workspace. When the plugin is gone (uninstalled,
refused at load) or disabled there, building a model raises ``ProviderUnavailable``, which each
caller turns into its own typed error: a node's ``NodeError``, a failed connection check, an
``EmbeddingUnavailable``.

A built-in kind wins over a plugin that registers the same kind; between plugins, the first by id.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext, gettext_noop
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel

from builder.llm.providers import DEFAULT_BASE_URLS, KEY_REQUIRED, ProviderKind
from builder.pluginhost.manager import get_host
from builder.sdk.providers import ModelProviderSpec
from builder.sdk.providers import ProviderSettings as PluginProviderSettings

# Built-in kinds whose embedding models knowledge bases can use (builder/knowledge/embeddings).
BUILT_IN_EMBEDDING_KINDS = frozenset({ProviderKind.OPENAI, ProviderKind.OPENAI_COMPATIBLE, ProviderKind.OLLAMA})


@dataclass(frozen=True)
class KindInfo:
    """One kind of provider as the "add provider" form offers it."""

    kind: str
    label: str | Promise
    # The plugin that adds the kind; empty for built-in kinds.
    plugin: str = ""
    default_base_url: str = ""
    key_required: bool = False
    chat: bool = True
    embeddings: bool = False


@dataclass(frozen=True)
class PluginKind:
    plugin: str
    spec: ModelProviderSpec


class ProviderUnavailable(Exception):
    """A provider's model cannot be built. ``template % params`` is the English message."""

    def __init__(self, code: str, template: str, **params: Any) -> None:
        self.code = code
        self.template = template
        self.params = params
        super().__init__(template % params)

    @property
    def message(self) -> str:
        return str(self)

    def translated(self) -> str:
        return gettext(self.template) % self.params


def plugin_kinds() -> dict[str, PluginKind]:
    """Kind → the plugin that provides it, for every kind the loaded plugins register."""
    found: dict[str, PluginKind] = {}
    for plugin in get_host().sorted_plugins():
        for kind, spec in plugin.providers.items():
            if kind not in ProviderKind.values and kind not in found:
                found[kind] = PluginKind(plugin.id, spec)
    return found


def _built_in_info(kind: ProviderKind) -> KindInfo:
    return KindInfo(
        kind=kind.value,
        label=kind.label,
        default_base_url=DEFAULT_BASE_URLS.get(kind, ""),
        key_required=kind in KEY_REQUIRED,
        embeddings=kind in BUILT_IN_EMBEDDING_KINDS,
    )


def _plugin_info(found: PluginKind) -> KindInfo:
    spec = found.spec
    return KindInfo(
        kind=spec.kind,
        label=spec.label,
        plugin=found.plugin,
        default_base_url=spec.default_base_url,
        key_required=spec.key_required,
        chat=spec.chat_model is not None,
        embeddings=spec.embeddings is not None,
    )


def provider_kinds() -> list[KindInfo]:
    """Every kind a workspace may choose: the built-in ones, then the plugins' (by kind)."""
    plugins = plugin_kinds()
    return [_built_in_info(kind) for kind in ProviderKind] + [_plugin_info(plugins[kind]) for kind in sorted(plugins)]


def kind_info(kind: str) -> KindInfo | None:
    """None when no built-in kind and no loaded plugin is ``kind``."""
    if kind in ProviderKind.values:
        return _built_in_info(ProviderKind(kind))
    found = plugin_kinds().get(kind)
    return _plugin_info(found) if found is not None else None


def kind_label(kind: str) -> str:
    info = kind_info(kind)
    return str(info.label) if info is not None else kind


def usable_plugin_kind(kind: str, *, enabled: Callable[[str], bool]) -> ModelProviderSpec:
    """The spec of a plugin's ``kind``, if the plugin is loaded and ``enabled(plugin id)`` in the workspace."""
    found = plugin_kinds().get(kind)
    if found is None:
        raise ProviderUnavailable(
            "provider_unavailable",
            gettext_noop(
                "No plugin on this server provides %(kind)s models any more: ask an administrator to install "
                "it again, or choose another model provider."
            ),
            kind=kind,
        )
    if not enabled(found.plugin):
        raise ProviderUnavailable(
            "plugin_disabled",
            gettext_noop("The %(plugin)s plugin, which provides %(kind)s models, is not enabled in this workspace."),
            kind=kind,
            plugin=found.plugin,
        )
    return found.spec


def _built(
    spec: ModelProviderSpec,
    factory: Callable[[PluginProviderSettings], Any],
    settings: PluginProviderSettings,
    expected: type,
) -> Any:
    """Call one of the plugin's factories: whatever goes wrong in plugin code is a typed error."""
    try:
        built = factory(settings)
    except Exception as error:
        reason = f"{type(error).__name__}: {error}"
        if settings.api_key and len(settings.api_key) >= 4:
            reason = reason.replace(settings.api_key, "***")
        raise ProviderUnavailable(
            "provider_failed",
            gettext_noop("The %(kind)s model provider could not set up %(model)s: %(reason)s"),
            kind=spec.kind,
            model=settings.model,
            reason=reason[:500],
        ) from error
    if not isinstance(built, expected):
        raise ProviderUnavailable(
            "provider_failed",
            gettext_noop("The %(kind)s model provider could not set up %(model)s: %(reason)s"),
            kind=spec.kind,
            model=settings.model,
            reason=f"the plugin returned a {type(built).__name__}, not a {expected.__name__}",
        )
    return built


def plugin_chat_model(
    spec: ModelProviderSpec,
    settings: PluginProviderSettings,
    *,
    params: Mapping[str, Any],
    metadata: Mapping[str, Any] | None = None,
) -> BaseChatModel:
    """The plugin's chat model with the node's sampling ``params`` (those its class has) and ``metadata``."""
    if spec.chat_model is None:
        raise ProviderUnavailable(
            "provider_unsupported", gettext_noop("The %(kind)s model provider has no chat models."), kind=spec.kind
        )
    chat: BaseChatModel = _built(spec, spec.chat_model, settings, BaseChatModel)
    # The plugin builds the client; what a node chooses (temperature, max_tokens…) is set on it here,
    # by LangChain's field names, which the common chat models share.
    overrides = {name: value for name, value in params.items() if name in type(chat).model_fields}
    if metadata:
        overrides["metadata"] = {**(chat.metadata or {}), **metadata}
    return chat.model_copy(update=overrides) if overrides else chat


def plugin_embeddings(spec: ModelProviderSpec, settings: PluginProviderSettings) -> Embeddings:
    if spec.embeddings is None:
        raise ProviderUnavailable(
            "provider_unsupported", gettext_noop("The %(kind)s model provider has no embedding models."), kind=spec.kind
        )
    embeddings: Embeddings = _built(spec, spec.embeddings, settings, Embeddings)
    return embeddings
