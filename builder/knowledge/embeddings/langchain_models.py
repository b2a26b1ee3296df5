"""Any LangChain ``Embeddings`` as an :class:`~builder.knowledge.embeddings.base.Embedder`.

:meth:`LangChainEmbedder.from_settings` builds the client for a provider the way
``builder/llm/clients.py`` builds chat models: ``max_retries=0`` (a background job retries a
document, not the SDK behind its back), a timeout, and for OpenAI-compatible servers (DashScope,
vLLM, local gateways) no tiktoken pre-splitting, which only fits OpenAI's own tokenizer.
Provider failures surface as typed :class:`~builder.knowledge.embeddings.base.EmbeddingError`\\ s.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from langchain_core.embeddings import Embeddings
from pydantic import SecretStr

from builder.core.ssrf_transport import http_library, ssrf_safe_transport
from builder.knowledge.embeddings.base import (
    DEFAULT_BATCH_SIZE,
    EmbeddingAuthError,
    EmbeddingError,
    EmbeddingModelNotFound,
    EmbeddingTimeout,
    EmbeddingUnavailable,
    batches,
    check_batch_size,
    check_texts,
)

# The provider kinds of builder.llm.providers.ProviderKind (a Django enum, so not imported here).
OPENAI = "openai"
OPENAI_COMPATIBLE = "openai_compatible"
OLLAMA = "ollama"
DEFAULT_BASE_URLS = {OPENAI: "https://api.openai.com/v1", OLLAMA: "http://localhost:11434"}
NO_KEY = "not-needed"
DEFAULT_TIMEOUT_S = 60.0
CHECK_TIMEOUT_S = 15.0
PROBE_TEXT = "dimension probe"


@dataclass(frozen=True)
class EmbeddingCheck:
    """The outcome of "check connection" for an embedding model."""

    ok: bool
    message: str
    latency_ms: float
    dimension: int | None = None
    error: EmbeddingError | None = None


class LangChainEmbedder:
    """Vectors from a LangChain embedding model, ``batch_size`` texts per request.

    ``dimension``: when ``None``, found on first use by embedding a probe text. ``coverage``:
    how much of a text the model reads; ``None`` means all of it (multilingual models), pass
    :func:`~builder.knowledge.index.fusion.english_only_coverage` for an English-only one.
    """

    def __init__(
        self,
        embeddings: Embeddings,
        *,
        name: str,
        dimension: int | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        coverage: Callable[[str], float] | None = None,
        secret: str = "",
    ) -> None:
        if dimension is not None and (isinstance(dimension, bool) or not isinstance(dimension, int) or dimension < 1):
            raise ValueError(f"dimension must be a positive integer or None, got {dimension!r}")
        self.embeddings = embeddings
        self.name = name
        self.batch_size = check_batch_size(batch_size)
        self._dimension = dimension
        self._coverage = coverage
        self._secret = secret

    @classmethod
    def from_settings(
        cls,
        kind: str,
        base_url: str,
        api_key: str,
        model: str,
        dimension: int | None = None,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        english_only: bool = False,
        allow: Sequence[str] = (),
    ) -> LangChainEmbedder:
        """An embedder for ``model`` at a provider (``kind``: openai, openai_compatible, ollama).

        Its requests go through the SSRF policy (``builder.core.ssrf_transport``): private, loopback
        and link-local addresses only when ``allow`` (the server's allow-list) names them.
        """
        if not model:
            raise ValueError("an embedding model name is required")
        base_url = base_url or DEFAULT_BASE_URLS.get(kind, "")
        embeddings: Embeddings
        if kind in (OPENAI, OPENAI_COMPATIBLE):
            from langchain_openai import OpenAIEmbeddings

            if kind == OPENAI_COMPATIBLE and not base_url:
                raise ValueError("an OpenAI-compatible provider needs a base URL")
            import openai

            transport = ssrf_safe_transport(http_library(openai.DefaultHttpxClient), allow=allow)
            embeddings = OpenAIEmbeddings(
                model=model,
                http_client=openai.DefaultHttpxClient(transport=transport, trust_env=False),
                openai_api_base=base_url or None,
                openai_api_key=SecretStr(api_key or NO_KEY),
                # tiktoken's splitting (and its encoding download) only fits OpenAI's own models.
                check_embedding_ctx_length=kind == OPENAI,
                max_retries=0,
                request_timeout=timeout_s,
                chunk_size=batch_size,
            )
        elif kind == OLLAMA:
            import httpx  # ollama's clients are httpx ones
            from langchain_ollama import OllamaEmbeddings

            embeddings = OllamaEmbeddings(
                model=model,
                base_url=base_url,
                client_kwargs={"timeout": timeout_s, "trust_env": False},
                sync_client_kwargs={"transport": ssrf_safe_transport(httpx, allow=allow)},
            )
        else:
            raise ValueError(f"unknown embedding provider kind {kind!r}")
        from builder.knowledge.index.fusion import english_only_coverage

        return cls(
            embeddings,
            name=f"{kind}/{model}",
            dimension=dimension,
            batch_size=batch_size,
            coverage=english_only_coverage if english_only else None,
            secret=api_key,
        )

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._dimension = len(self._call(lambda: [self.embeddings.embed_query(PROBE_TEXT)])[0])
        return self._dimension

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        texts = check_texts(texts)
        vectors: list[list[float]] = []
        for batch in batches(texts, self.batch_size):
            got = self._call(partial(self.embeddings.embed_documents, list(batch)))
            if len(got) != len(batch):
                raise EmbeddingUnavailable(f"{self.name}: asked for {len(batch)} vectors, got {len(got)}")
            vectors.extend(got)
        return vectors

    def embed_query(self, text: str) -> list[float]:
        if not isinstance(text, str):
            raise ValueError(f"expected a string to embed, got {type(text).__name__}")
        return self._call(lambda: [self.embeddings.embed_query(text)])[0]

    def coverage(self, text: str) -> float:
        return 1.0 if self._coverage is None else self._coverage(text)

    def check_connection(self) -> EmbeddingCheck:
        """A real call (one probe text); never raises for a provider failure."""
        started = time.monotonic()
        try:
            vector = self._call(lambda: [self.embeddings.embed_query(PROBE_TEXT)])[0]
        except EmbeddingError as exc:
            return EmbeddingCheck(False, str(exc), _ms(started), error=exc)
        if self._dimension is None:
            self._dimension = len(vector)
        return EmbeddingCheck(True, "", _ms(started), dimension=len(vector))

    def _call(self, produce: Callable[[], list[list[float]]]) -> list[list[float]]:
        try:
            vectors = produce()
        except EmbeddingError:
            raise
        except Exception as exc:  # every provider failure becomes one typed error
            raise self._classify(exc) from exc
        return [self._checked(vector) for vector in vectors]

    def _checked(self, vector: Any) -> list[float]:
        try:
            values = [float(value) for value in vector]
        except (TypeError, ValueError) as exc:
            raise EmbeddingUnavailable(f"{self.name}: the provider's answer is not a vector") from exc
        if not values or not all(math.isfinite(value) for value in values):
            raise EmbeddingUnavailable(f"{self.name}: the provider returned an empty or non-finite vector")
        if self._dimension is not None and len(values) != self._dimension:
            raise EmbeddingUnavailable(
                f"{self.name}: the provider returned {len(values)} dimensions, expected {self._dimension}"
            )
        return values

    def _classify(self, exc: Exception) -> EmbeddingError:
        status = getattr(exc, "status_code", None)
        names = {klass.__name__ for klass in type(exc).__mro__}
        detail = _scrub(_provider_message(exc), self._secret)
        if status in (401, 403):
            return EmbeddingAuthError(f"{self.name}: the provider refused the API key ({status}): {detail}")
        if status == 404:
            return EmbeddingModelNotFound(f"{self.name}: model or endpoint not found (404): {detail}")
        if isinstance(exc, TimeoutError) or any("Timeout" in name for name in names):
            return EmbeddingTimeout(f"{self.name}: the provider did not answer in time")
        if status is not None:
            return EmbeddingUnavailable(f"{self.name}: the provider answered {status}: {detail}")
        return EmbeddingUnavailable(f"{self.name}: {detail}")


def _provider_message(exc: BaseException) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
    return (str(exc) or type(exc).__name__)[:500]


def _scrub(message: str, secret: str) -> str:
    return message.replace(secret, "***") if secret and len(secret) >= 4 else message


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)
