"""The bundled all-MiniLM-L6-v2: offline vectors, and how much of a text it reads."""

from __future__ import annotations

import math
import threading

import pytest

from builder.knowledge.embeddings import Embedder, LocalMiniLM
from builder.knowledge.embeddings.local import load_model


@pytest.fixture(scope="module")
def minilm() -> LocalMiniLM:
    return LocalMiniLM(batch_size=2)


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_vectors_are_384_dimensional_and_unit_length(minilm: LocalMiniLM) -> None:
    texts = ["Aspirin lowers the risk of heart attack.", "The cat sat on the mat.", "Tea", ""]

    vectors = minilm.embed_documents(texts)

    assert isinstance(minilm, Embedder)
    assert minilm.dimension == 384
    assert len(vectors) == 4
    for vector in vectors:
        assert len(vector) == 384
        assert math.isclose(math.sqrt(sum(v * v for v in vector)), 1.0, rel_tol=1e-4)


def test_query_and_document_vectors_agree(minilm: LocalMiniLM) -> None:
    text = "Vitamin D deficiency is common in winter."
    assert cosine(minilm.embed_query(text), minilm.embed_documents([text])[0]) == pytest.approx(1.0, abs=1e-4)


def test_a_related_sentence_ranks_above_an_unrelated_one(minilm: LocalMiniLM) -> None:
    query = minilm.embed_query("How do vaccines protect against infection?")
    related, unrelated = minilm.embed_documents(
        [
            "Immunisation trains the immune system to recognise a virus before exposure.",
            "The quarterly earnings of the steel company rose by four percent.",
        ]
    )

    assert cosine(query, related) > cosine(query, unrelated) + 0.2


def test_coverage_is_full_for_english_and_near_zero_for_chinese(minilm: LocalMiniLM) -> None:
    assert minilm.coverage("What does the immune system do against viruses?") == 1.0
    assert minilm.coverage("《战国无双3》是由哪家公司开发的动作游戏?") < 0.2
    # Characters that do have a vocabulary entry (北, 京) are still not read.
    assert minilm.coverage("北京") == 0.0
    assert minilm.coverage("北京 2008 Olympics") == pytest.approx(0.5)
    assert minilm.coverage("") == 1.0


def test_the_model_is_loaded_once_per_process() -> None:
    models: list[object] = []
    threads = [threading.Thread(target=lambda: models.append(load_model())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len({id(model) for model in models}) == 1


def test_bad_arguments_are_refused(minilm: LocalMiniLM) -> None:
    with pytest.raises(ValueError, match="not one string"):
        minilm.embed_documents("one text")
    with pytest.raises(ValueError, match="batch_size"):
        LocalMiniLM(batch_size=0)
    assert minilm.embed_documents([]) == []
