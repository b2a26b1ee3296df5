"""retrieve() over a real SqliteKnowledgeIndex with the real MiniLM embedder."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from builder.knowledge.embeddings import LocalMiniLM
from builder.knowledge.index import Chunk, Hit, SearchFilter, SqliteKnowledgeIndex
from builder.knowledge.retrieval import retrieve

ENGLISH = {
    "vaccine": "Vaccination trains the immune system to recognise a virus before an infection.",
    "heart": "Daily aspirin lowers the risk of a heart attack in some older adults.",
    "steel": "The steel company reported quarterly earnings four percent higher than last year.",
    "sleep": "Adults who sleep less than six hours a night have a higher blood pressure.",
    "coffee": "Coffee consumption was not linked to heart disease in the cohort study.",
    "football": "The football club signed a new striker before the transfer window closed.",
}
CHINESE = {
    "beijing": "北京是中华人民共和国的首都,也是全国的政治和文化中心。",
    "game": "《战国无双3》是由光荣和ω-force开发的战国无双系列的正统第三续作。",
    "panda": "大熊猫主要生活在四川、陕西和甘肃的山区,以竹子为食。",
    "tea": "龙井茶是中国著名的绿茶,产于浙江省杭州市西湖一带。",
}


class CountingMiniLM(LocalMiniLM):
    """MiniLM that counts the queries it embeds (to see when the dense side is skipped)."""

    def __init__(self) -> None:
        super().__init__()
        self.queries = 0

    def embed_query(self, text: str) -> list[float]:
        self.queries += 1
        return super().embed_query(text)


@pytest.fixture(scope="module")
def minilm() -> LocalMiniLM:
    return LocalMiniLM()


@pytest.fixture
def index(tmp_path: Path, minilm: LocalMiniLM) -> Iterator[SqliteKnowledgeIndex]:
    with SqliteKnowledgeIndex(tmp_path / "kb.sqlite3") as index:
        for kb_id, texts in (("en", ENGLISH), ("zh", CHINESE)):
            index.create_space(kb_id, dimension=minilm.dimension)
            vectors = minilm.embed_documents(list(texts.values()))
            index.upsert(
                [
                    Chunk(
                        id=f"{kb_id}-{name}",
                        kb_id=kb_id,
                        document_id=name,
                        text=text,
                        metadata={"lang": kb_id, "health": name in {"heart", "sleep", "coffee", "vaccine"}},
                        vector=vector,
                    )
                    for (name, text), vector in zip(texts.items(), vectors, strict=True)
                ]
            )
        yield index


def documents(hits: Sequence[Hit]) -> list[str]:
    return [hit.document_id for hit in hits]


def test_full_text_ranks_by_bm25(index: SqliteKnowledgeIndex) -> None:
    hits = retrieve(index, "heart attack risk", kb_ids=["en"], mode="full_text", top_k=3)

    assert documents(hits)[:2] == ["heart", "coffee"]
    assert hits[0].score > hits[1].score > 0


def test_semantic_finds_a_paraphrase_that_shares_no_word(index: SqliteKnowledgeIndex, minilm: LocalMiniLM) -> None:
    query = "How do jabs protect people from getting sick?"

    assert documents(retrieve(index, query, kb_ids=["en"], mode="full_text")) == []
    hits = retrieve(index, query, kb_ids=["en"], mode="semantic", embedder=minilm, top_k=2)
    assert documents(hits)[0] == "vaccine"
    assert -1.0 <= hits[1].score < hits[0].score <= 1.0


def test_hybrid_fuses_both_rankings_on_a_zero_to_one_scale(index: SqliteKnowledgeIndex, minilm: LocalMiniLM) -> None:
    for fusion in ("rrf", "weighted"):
        hits = retrieve(index, "heart attack risk", kb_ids=["en"], mode="hybrid", embedder=minilm, fusion=fusion)

        assert documents(hits)[0] == "heart"
        assert hits[0].score == pytest.approx(1.0)
        assert all(0.0 < hit.score <= 1.0 for hit in hits)
        assert len(hits) == 5


def test_the_threshold_applies_to_the_returned_score(index: SqliteKnowledgeIndex, minilm: LocalMiniLM) -> None:
    everything = retrieve(index, "heart health", kb_ids=["en"], mode="semantic", embedder=minilm, top_k=10)
    assert len(everything) == len(ENGLISH)
    cut = (everything[1].score + everything[2].score) / 2

    kept = retrieve(index, "heart health", kb_ids=["en"], mode="semantic", embedder=minilm, score_threshold=cut)

    assert kept == everything[:2]
    assert retrieve(index, "heart health", kb_ids=["en"], mode="hybrid", embedder=minilm, score_threshold=1.01) == []


def test_filters_restrict_every_mode(index: SqliteKnowledgeIndex, minilm: LocalMiniLM) -> None:
    only = SearchFilter(document_ids=["coffee", "steel"])
    health = SearchFilter(metadata={"health": True})
    for mode in ("full_text", "semantic", "hybrid"):
        assert set(documents(retrieve(index, "heart", kb_ids=["en"], mode=mode, embedder=minilm, filter=only))) <= {
            "coffee",
            "steel",
        }
        found = retrieve(
            index, "heart company earnings", kb_ids=["en"], mode=mode, embedder=minilm, filter=health, top_k=10
        )
        assert "steel" not in documents(found)
        assert found


def test_several_knowledge_bases_at_once(index: SqliteKnowledgeIndex, minilm: LocalMiniLM) -> None:
    hits = retrieve(index, "北京 heart", kb_ids=["en", "zh"], mode="full_text", top_k=10)

    assert {"en", "zh"} <= {hit.kb_id for hit in hits}
    assert {"beijing", "heart"} <= set(documents(hits))


def test_a_chinese_query_against_minilm_gets_the_full_text_ranking(index: SqliteKnowledgeIndex) -> None:
    minilm = CountingMiniLM()
    query = "北京是哪个国家的首都?"
    full_text = retrieve(index, query, kb_ids=["zh"], mode="full_text", top_k=4)
    assert documents(full_text)[0] == "beijing"

    for fusion in ("rrf", "weighted"):
        hybrid = retrieve(index, query, kb_ids=["zh"], mode="hybrid", embedder=minilm, top_k=4, fusion=fusion)
        assert documents(hybrid) == documents(full_text)
    semantic = retrieve(index, query, kb_ids=["zh"], mode="semantic", embedder=minilm, top_k=4)
    assert documents(semantic) == documents(full_text)
    # Even an explicit dense weight is scaled by coverage: nothing here.
    explicit = retrieve(index, query, kb_ids=["zh"], mode="hybrid", embedder=minilm, top_k=4, dense_weight=0.9)
    assert documents(explicit) == documents(full_text)
    assert minilm.queries == 0  # the dense side was skipped, not computed and ignored

    retrieve(index, query, kb_ids=["zh"], mode="semantic", embedder=minilm, low_coverage_fallback=False)
    assert minilm.queries == 1


class ReversingReranker:
    """A stand-in rerank model: reverses what it is given, scoring by new position."""

    def __init__(self) -> None:
        self.seen = 0

    def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]:
        self.seen = len(hits)
        reordered = list(reversed(hits))
        return [dataclasses.replace(hit, score=1.0 - rank / 10) for rank, hit in enumerate(reordered)]


def test_a_reranker_sees_the_over_fetched_candidates(index: SqliteKnowledgeIndex, minilm: LocalMiniLM) -> None:
    reranker = ReversingReranker()
    plain = retrieve(index, "heart", kb_ids=["en"], mode="semantic", embedder=minilm, top_k=10)

    hits = retrieve(
        index,
        "heart",
        kb_ids=["en"],
        mode="semantic",
        embedder=minilm,
        top_k=2,
        reranker=reranker,
        score_threshold=0.95,
    )

    assert reranker.seen == len(ENGLISH)  # all candidates, not just top_k
    assert documents(hits) == [plain[-1].document_id]  # 1.0 kept, 0.9 under the threshold


def test_bad_arguments_are_value_errors(index: SqliteKnowledgeIndex, minilm: LocalMiniLM) -> None:
    cases: list[tuple[dict, str]] = [
        ({"mode": "semantic"}, "needs an embedder"),
        ({"mode": "hybrid"}, "needs an embedder"),
        ({"mode": "fuzzy"}, "mode must be one of"),
        ({"mode": "full_text", "top_k": 0}, "top_k"),
        ({"mode": "full_text", "top_k": 101}, "top_k"),
        ({"mode": "hybrid", "embedder": minilm, "dense_weight": 1.5}, "dense_weight"),
        ({"mode": "hybrid", "embedder": minilm, "fusion": "max"}, "fusion must be"),
        ({"mode": "full_text", "score_threshold": "high"}, "score_threshold"),
        ({"mode": "full_text", "rrf_k": 0}, "rrf_k"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            retrieve(index, "heart", kb_ids=["en"], **kwargs)
    with pytest.raises(ValueError, match="not one string"):
        retrieve(index, "heart", kb_ids="en", mode="full_text")
    with pytest.raises(ValueError, match="at least one"):
        retrieve(index, "heart", kb_ids=[], mode="full_text")


def test_a_blank_query_finds_nothing(index: SqliteKnowledgeIndex, minilm: LocalMiniLM) -> None:
    assert retrieve(index, "   ", kb_ids=["en"], mode="hybrid", embedder=minilm) == []
