"""LangChainEmbedder against the fake OpenAI-compatible server (a real HTTP server on 127.0.0.1)."""

from __future__ import annotations

import math

import pytest

from builder.knowledge.embeddings import (
    Embedder,
    EmbeddingAuthError,
    EmbeddingModelNotFound,
    EmbeddingTimeout,
    EmbeddingUnavailable,
    LangChainEmbedder,
)
from builder.knowledge.index import english_only_coverage
from tests.support.fake_openai import Error, FakeOpenAI, Hang


def embedder(server: FakeOpenAI, **kwargs: object) -> LangChainEmbedder:
    options: dict = {"batch_size": 3, **kwargs}
    options.setdefault("allow", ("127.0.0.1",))  # the fake server's address, private like a local vLLM
    return LangChainEmbedder.from_settings("openai_compatible", server.base_url, "sk-test", "embed-small", **options)


def test_documents_are_sent_in_batches_in_order(fake_openai: FakeOpenAI) -> None:
    model = embedder(fake_openai, dimension=64)
    texts = [f"text number {i}" for i in range(7)]

    vectors = model.embed_documents(texts)

    assert isinstance(model, Embedder)
    assert [len(request.body["input"]) for request in fake_openai.requests] == [3, 3, 1]
    assert fake_openai.requests[0].body["model"] == "embed-small"
    assert len(vectors) == 7
    assert all(len(vector) == 64 for vector in vectors)
    assert vectors[0] == model.embed_query("text number 0")
    assert math.isclose(sum(v * v for v in vectors[0]), 1.0, rel_tol=1e-5)


def test_the_dimension_is_discovered_with_a_probe(fake_openai: FakeOpenAI) -> None:
    fake_openai.embedding_dimension = 48
    model = embedder(fake_openai)

    assert fake_openai.request_count == 0  # nothing is sent before it is needed
    assert model.dimension == 48
    assert model.dimension == 48
    assert fake_openai.request_count == 1
    assert model.name == "openai_compatible/embed-small"


def test_a_vector_of_another_length_than_declared_is_an_error(fake_openai: FakeOpenAI) -> None:
    model = embedder(fake_openai, dimension=32)

    with pytest.raises(EmbeddingUnavailable, match="64 dimensions, expected 32"):
        model.embed_documents(["hello"])


def test_coverage_is_full_unless_the_model_is_english_only(fake_openai: FakeOpenAI) -> None:
    assert embedder(fake_openai).coverage("北京是中国的首都") == 1.0
    english = embedder(fake_openai, english_only=True)
    assert english.coverage("北京是中国的首都") == 0.0
    assert english.coverage("the capital") == english_only_coverage("the capital") == 1.0


def test_check_connection_reports_the_dimension(fake_openai: FakeOpenAI) -> None:
    check = embedder(fake_openai).check_connection()

    assert check.ok
    assert check.dimension == 64
    assert check.error is None


def test_a_refused_key_is_an_auth_error(fake_openai: FakeOpenAI) -> None:
    fake_openai.api_key = "sk-right"

    check = embedder(fake_openai).check_connection()

    assert not check.ok
    assert isinstance(check.error, EmbeddingAuthError)
    assert "401" in check.message
    assert "sk-test" not in check.message
    with pytest.raises(EmbeddingAuthError):
        embedder(fake_openai).embed_documents(["hello"])


def test_an_unknown_model_or_wrong_url_is_not_found(fake_openai: FakeOpenAI) -> None:
    fake_openai.script([Error(404, "The model `embed-small` does not exist.")])
    check = embedder(fake_openai).check_connection()
    assert isinstance(check.error, EmbeddingModelNotFound)
    assert "does not exist" in check.message

    wrong_url = LangChainEmbedder.from_settings(
        "openai_compatible", fake_openai.base_url.removesuffix("/v1"), "", "embed-small", allow=("127.0.0.1",)
    )
    assert isinstance(wrong_url.check_connection().error, EmbeddingModelNotFound)


def test_a_silent_server_is_a_timeout(fake_openai: FakeOpenAI) -> None:
    fake_openai.script([Hang()])
    model = LangChainEmbedder.from_settings(
        "openai_compatible", fake_openai.base_url, "sk-test", "embed-small", timeout_s=0.5, allow=("127.0.0.1",)
    )

    check = model.check_connection()

    assert isinstance(check.error, EmbeddingTimeout)
    assert check.latency_ms < 5000


def test_server_errors_are_typed_and_not_retried(fake_openai: FakeOpenAI) -> None:
    fake_openai.script([Error(500)])

    with pytest.raises(EmbeddingUnavailable, match="500"):
        embedder(fake_openai).embed_query("hello")
    assert fake_openai.request_count == 1


def test_unknown_kinds_and_missing_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown embedding provider"):
        LangChainEmbedder.from_settings("anthropic", "", "key", "model")
    with pytest.raises(ValueError, match="base URL"):
        LangChainEmbedder.from_settings("openai_compatible", "", "key", "model")
    with pytest.raises(ValueError, match="model name"):
        LangChainEmbedder.from_settings("openai", "", "key", "")
