"""Which embedding model a knowledge base uses (high-quality mode), built from its settings.

``{"kind": "local"}``: all-MiniLM-L6-v2 shipped in a Python package (offline, English only);
``{"provider": <model provider id>, "model": "<name>"}``: any embedding model of one of the
workspace's model providers (OpenAI and compatible endpoints, Ollama, or a kind a plugin adds,
whose ``embeddings`` factory builds it; ``EmbeddingUnavailable`` when that plugin is gone or disabled).
"""

from __future__ import annotations

from typing import Any

from builder.knowledge.embeddings import Embedder, EmbeddingUnavailable, LangChainEmbedder, LocalMiniLM
from builder.knowledge.models import KnowledgeBase


def embedder_for(kb: KnowledgeBase) -> Embedder | None:
    """None in economical mode (full text only)."""
    if kb.index_mode != KnowledgeBase.IndexMode.HIGH_QUALITY:
        return None
    return embedder_from_settings(kb.embedding or {"kind": "local"}, workspace_id=kb.workspace_id)


def embedder_from_settings(spec: dict[str, Any], *, workspace_id: Any) -> Embedder:
    if spec.get("kind", "local") == "local" and "provider" not in spec:
        return LocalMiniLM()
    from builder.llm.models import ModelProvider
    from builder.llm.plugin_providers import ProviderUnavailable, plugin_embeddings
    from builder.llm.services import provider_settings

    provider = ModelProvider.objects.get(pk=spec["provider"], workspace_id=workspace_id)
    model = str(spec.get("model") or "")
    try:
        settings = provider_settings(provider)
        from_plugin = plugin_embeddings(settings.plugin, settings.for_plugin(model)) if settings.plugin else None
    except ProviderUnavailable as error:
        raise EmbeddingUnavailable(error.message) from None
    if from_plugin is not None:
        name = f"{settings.kind}/{model}"
        return LangChainEmbedder(from_plugin, name=name, dimension=spec.get("dimension"), secret=settings.api_key)
    return LangChainEmbedder.from_settings(
        kind=settings.kind,
        base_url=settings.base_url,
        api_key=settings.api_key,
        model=model,
        dimension=spec.get("dimension"),
        allow=settings.allow,
    )
