"""What every embedder and reranker offers the knowledge services, and the errors they raise.

Embedders are synchronous on purpose: documents are embedded in background jobs (a Celery task
or an inline task in a worker thread), and a query embeds one short text, which an async caller
hands to a thread (``asyncio.to_thread``). The models underneath are sync anyway (torch for the
local model, LangChain's ``embed_documents`` for remote ones); an async facade would only hide a
thread pool.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

from builder.knowledge.index.base import Hit

DEFAULT_BATCH_SIZE = 32
MAX_BATCH_SIZE = 2048  # OpenAI's limit on inputs per /embeddings request


class EmbeddingError(Exception):
    """An embedder could not produce vectors; ``message`` is meant for the builder's user."""


class EmbeddingAuthError(EmbeddingError):
    """The provider refused the credentials (HTTP 401/403)."""


class EmbeddingModelNotFound(EmbeddingError):
    """The provider does not serve this model, or the base URL is wrong (HTTP 404)."""


class EmbeddingTimeout(EmbeddingError):
    """The provider did not answer in time."""


class EmbeddingUnavailable(EmbeddingError):
    """The provider could not be reached, or answered with something that is not embeddings."""


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors of ``dimension`` floats, the same way for documents and queries."""

    @property
    def name(self) -> str:
        """Identifies the model (and provider): vectors of two names never share a knowledge base."""
        ...

    @property
    def dimension(self) -> int: ...

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order; sent to the model ``batch_size`` texts at a time."""
        ...

    def embed_query(self, text: str) -> list[float]: ...

    def coverage(self, text: str) -> float:
        """The share (0…1) of ``text`` the model really reads: the dense side of hybrid search
        counts in proportion (see :func:`~builder.knowledge.index.fusion.dense_weight_for`)."""
        ...


@runtime_checkable
class Reranker(Protocol):
    """Reorders retrieved hits by a model that reads query and passage together."""

    def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]:
        """The hits best first, each ``score`` replaced by the reranker's relevance score."""
        ...


def check_batch_size(batch_size: int) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValueError(f"batch_size must be an integer from 1 to {MAX_BATCH_SIZE}, got {batch_size!r}")
    return batch_size


def check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise ValueError("embed_documents() takes a sequence of texts, not one string")
    texts = list(texts)
    for text in texts:
        if not isinstance(text, str):
            raise ValueError(f"expected a string to embed, got {type(text).__name__}")
    return texts


def batches(texts: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(texts), size):
        yield texts[start : start + size]
