"""The knowledge index contract: every test runs on SQLite and on PostgreSQL (see conftest)."""

from __future__ import annotations

import math
import pickle
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest

from builder.knowledge.index import (
    Analyzer,
    Chunk,
    Hit,
    IndexConfigurationError,
    InvalidInput,
    KnowledgeIndex,
    SearchFilter,
    UnknownKnowledgeBase,
    VectorDimensionError,
    analyze,
)
from tests.knowledge.index.conftest import OpenIndex
from tests.knowledge.index.races import race


def chunk(
    chunk_id: str,
    text: str,
    *,
    kb: str = "kb",
    doc: str = "doc",
    metadata: dict[str, Any] | None = None,
    vector: Sequence[float] | None = None,
) -> Chunk:
    return Chunk(id=chunk_id, kb_id=kb, document_id=doc, text=text, metadata=metadata or {}, vector=vector)


def ids(hits: Sequence[Hit]) -> list[str]:
    return [hit.chunk_id for hit in hits]


ENGLISH = [
    chunk("refund", "Refunds are paid within 14 days of receiving the returned parcel.", doc="policy"),
    chunk("shipping", "Standard shipping takes three to five working days; express shipping takes one day."),
    chunk("password", "To reset your password, open Settings, choose Security and click Reset password."),
    chunk("warranty", "Every laptop carries a two-year warranty covering battery and screen defects."),
]

CHINESE = [
    chunk("beijing", "北京是中华人民共和国的首都，也是全国的政治和文化中心。"),
    chunk("panda", "大熊猫主要生活在四川、陕西和甘肃的山区，以竹子为食。"),
    chunk("tea", "龙井茶产于浙江杭州西湖一带，是中国著名的绿茶。"),
    chunk("river", "长江是中国第一长河，全长约六千三百公里，流经十一个省级行政区。"),
]

MIXED = [
    chunk("iphone", "iPhone 15 Pro 的电池容量为 3274 mAh，支持 USB-C 快充。"),
    chunk("pixel", "Google Pixel 8 的电池容量为 4575 mAh，支持无线充电。"),
    chunk("kindle", "Kindle Paperwhite 的屏幕为 6.8 英寸，续航可达十周。"),
]


def test_english_queries_find_their_chunk(index: KnowledgeIndex) -> None:
    index.create_space("kb", dimension=None)
    index.upsert(ENGLISH)

    assert ids(index.search_text(["kb"], "How long until my refund is paid?"))[0] == "refund"
    assert ids(index.search_text(["kb"], "RESET PASSWORD"))[0] == "password"
    assert ids(index.search_text(["kb"], "battery warranty"))[0] == "warranty"
    top = index.search_text(["kb"], "express shipping", k=1)[0]
    assert (top.chunk_id, top.kb_id, top.document_id, top.text) == ("shipping", "kb", "doc", ENGLISH[1].text)
    assert top.score > 0


@pytest.mark.parametrize("analyzer", list(Analyzer))
def test_chinese_queries_find_their_chunk(open_index: OpenIndex, analyzer: Analyzer) -> None:
    index = open_index(analyzer)
    index.create_space("kb", dimension=None)
    index.upsert(CHINESE)

    assert ids(index.search_text(["kb"], "中国的首都是哪里？"))[0] == "beijing"
    assert ids(index.search_text(["kb"], "熊猫吃什么"))[0] == "panda"
    assert ids(index.search_text(["kb"], "西湖龙井是什么茶"))[0] == "tea"
    assert ids(index.search_text(["kb"], "长江有多长"))[0] == "river"


@pytest.mark.parametrize("analyzer", list(Analyzer))
def test_mixed_chinese_english_and_numbers(open_index: OpenIndex, analyzer: Analyzer) -> None:
    index = open_index(analyzer)
    index.create_space("kb", dimension=None)
    index.upsert(MIXED)

    assert ids(index.search_text(["kb"], "iPhone 15 电池多大"))[0] == "iphone"
    assert ids(index.search_text(["kb"], "pixel 无线充电"))[0] == "pixel"
    assert ids(index.search_text(["kb"], "4575"))[0] == "pixel"
    assert ids(index.search_text(["kb"], "Kindle 屏幕尺寸"))[0] == "kindle"


def test_a_rare_term_outranks_a_common_one(index: KnowledgeIndex) -> None:
    index.create_space("kb", dimension=None)
    reports = [chunk(f"report-{n}", f"Quarterly report number {n} about sales.") for n in range(2)]
    minutes = [chunk(f"minutes-{n}", f"Minutes of board meeting {n}.") for n in range(5)]
    index.upsert(
        [*reports, *minutes, chunk("zebra", "The zebra report."), chunk("report-again", "Report, report, report.")]
    )

    hits = index.search_text(["kb"], "report zebra")

    # Term frequency counts, but saturates: the chunk saying "report" three times comes next.
    assert ids(hits) == ["zebra", "report-again", "report-0", "report-1"]
    assert hits[0].score > hits[1].score > hits[2].score == hits[3].score


def test_words_in_half_the_chunks_only_rank_when_nothing_else_matches(index: KnowledgeIndex) -> None:
    index.create_space("kb", dimension=None)
    index.upsert(
        [
            chunk("zebra", "the zebra"),
            chunk("the-twice", "the the end"),
            chunk("the-once", "the long and winding end"),
            chunk("other", "nothing here"),
        ]
    )

    # BM25 gives "the" (in 3 of 4 chunks) no weight: only the chunk with "zebra" answers.
    assert ids(index.search_text(["kb"], "the zebra")) == ["zebra"]
    # A query of common words only still ranks by them (frequency, then length).
    assert ids(index.search_text(["kb"], "the")) == ["the-twice", "zebra", "the-once"]


def bm25_reference(corpus: Sequence[Chunk], query: str, analyzer: Analyzer) -> dict[str, float]:
    """Okapi BM25 as SQLite FTS5's bm25() computes it (k1 = 1.2, b = 0.75, IDF floored at 1e-6),
    over the query terms in fewer than half of the chunks (all of them if there are none)."""
    documents = {c.id: analyze(c.text, analyzer) for c in corpus}
    average = sum(map(len, documents.values())) / len(documents)
    frequency = Counter(term for tokens in documents.values() for term in set(tokens))
    terms = [term for term in dict.fromkeys(analyze(query, analyzer)) if frequency[term]]
    terms = [term for term in terms if 2 * frequency[term] < len(documents)] or terms
    scores: dict[str, float] = {}
    for term in terms:
        containing = frequency[term]
        idf = max(math.log((len(documents) - containing + 0.5) / (containing + 0.5)), 1e-6)
        for chunk_id, tokens in documents.items():
            tf = tokens.count(term)
            if tf:
                norm = 1.2 * (1 - 0.75 + 0.75 * len(tokens) / average)
                scores[chunk_id] = scores.get(chunk_id, 0.0) + idf * tf * 2.2 / (tf + norm)
    return scores


@pytest.mark.parametrize(
    "query", ["shipping takes days", "password reset", "北京 中国", "电池容量 mAh 支持", "the 中国 of"]
)
def test_scores_are_okapi_bm25_on_both_backends(index: KnowledgeIndex, query: str) -> None:
    corpus = [*ENGLISH, *CHINESE, *MIXED]
    index.create_space("kb", dimension=None)
    index.upsert(corpus[:5])
    index.upsert(corpus[5:])
    index.upsert([chunk("gone", "shipping password 北京 电池 the of")])
    index.delete_chunks(["gone"])  # statistics must forget deleted chunks too

    hits = index.search_text(["kb"], query, k=50)

    expected = bm25_reference(corpus, query, index.analyzer)
    assert {hit.chunk_id: hit.score for hit in hits} == pytest.approx(expected, rel=1e-9)
    assert [hit.score for hit in hits] == pytest.approx(sorted(expected.values(), reverse=True), rel=1e-9)


def test_bm25_statistics_are_per_knowledge_base(index: KnowledgeIndex) -> None:
    index.create_space("a", dimension=None)
    index.create_space("b", dimension=None)
    a = [chunk("a1", "alpha beta", kb="a"), chunk("a2", "alpha gamma", kb="a"), chunk("a3", "delta", kb="a")]
    b = [chunk("b1", "alpha beta", kb="b"), chunk("b2", "epsilon", kb="b")]
    index.upsert(a + b)

    scores = {hit.chunk_id: hit.score for hit in index.search_text(["a", "b"], "alpha beta")}

    assert scores["a1"] == pytest.approx(bm25_reference(a, "alpha beta", index.analyzer)["a1"], rel=1e-9)
    assert scores["b1"] == pytest.approx(bm25_reference(b, "alpha beta", index.analyzer)["b1"], rel=1e-9)


def unit(*values: float) -> list[float]:
    norm = math.sqrt(sum(v * v for v in values))
    return [v / norm for v in values]


def test_vector_search_ranks_by_cosine_similarity(index: KnowledgeIndex) -> None:
    index.create_space("kb", dimension=3)
    index.upsert(
        [
            chunk("x", "along x", vector=[1.0, 0.0, 0.0]),
            chunk("xy", "between x and y", vector=[1.0, 1.0, 0.0]),
            chunk("y", "along y", vector=[0.0, 2.0, 0.0]),
            chunk("minus-x", "opposite x", vector=[-1.0, 0.0, 0.0]),
            chunk("no-vector", "text only"),
        ]
    )

    hits = index.search_vector(["kb"], [2.0, 0.5, 0.0], k=10)

    query = unit(2.0, 0.5, 0.0)
    expected = {
        "x": query[0],
        "xy": (query[0] + query[1]) / math.sqrt(2),
        "y": query[1],
        "minus-x": -query[0],
    }
    assert ids(hits) == ["x", "xy", "y", "minus-x"]
    assert {hit.chunk_id: hit.score for hit in hits} == pytest.approx(expected, abs=1e-5)
    assert ids(index.search_vector(["kb"], [0.0, 1.0, 0.0], k=1)) == ["y"]


def test_filters_by_document_allow_list(index: KnowledgeIndex) -> None:
    index.create_space("kb", dimension=2)
    index.upsert(
        [
            chunk("ready", "solar panel installation guide", doc="ready-doc", vector=[1.0, 0.0]),
            chunk("disabled", "solar panel installation guide", doc="disabled-doc", vector=[1.0, 0.0]),
            chunk("other", "wind turbine maintenance", doc="other-doc", vector=[0.0, 1.0]),
        ]
    )
    allowed = SearchFilter(document_ids=["ready-doc", "other-doc"])

    assert ids(index.search_text(["kb"], "solar panel", filter=allowed)) == ["ready"]
    assert ids(index.search_vector(["kb"], [1.0, 0.1], k=3, filter=allowed)) == ["ready", "other"]
    assert index.search_text(["kb"], "solar panel", filter=SearchFilter(document_ids=[])) == []
    assert index.search_vector(["kb"], [1.0, 0.0], filter=SearchFilter(document_ids=[])) == []


def test_filters_by_metadata_equality(index: KnowledgeIndex) -> None:
    index.create_space("kb", dimension=2)
    rows: dict[str, dict[str, Any]] = {
        "en-2024": {"lang": "en", "year": 2024, "public": True},
        "en-2023": {"lang": "en", "year": 2023, "public": False},
        "zh-2024": {"lang": "zh", "year": 2024.0, "public": 1, "tags": ["a", "b"]},
        "untagged": {"note": None},
    }
    index.upsert([chunk(key, "annual budget report", metadata=value, vector=[1.0, 0.5]) for key, value in rows.items()])

    def found(**metadata: Any) -> set[str]:
        search_filter = SearchFilter(metadata=metadata)
        by_text = set(ids(index.search_text(["kb"], "budget report", filter=search_filter)))
        by_vector = set(ids(index.search_vector(["kb"], [1.0, 0.5], filter=search_filter)))
        assert by_text == by_vector
        return by_text

    assert found(lang="en") == {"en-2024", "en-2023"}
    assert found(lang="en", year=2024) == {"en-2024"}
    assert found(year=2024) == {"en-2024", "zh-2024"}  # 2024 == 2024.0 in JSON
    assert found(public=True) == {"en-2024"}  # true is not 1
    assert found(public=1) == {"zh-2024"}
    assert found(note=None) == {"untagged"}
    assert found(lang="fr") == set()
    assert found(year="2024") == set()


def test_filtered_vector_search_is_exact_when_the_filter_rejects_most_candidates(index: KnowledgeIndex) -> None:
    index.create_space("kb", dimension=2)
    near = [chunk(f"near-{n:03}", "near", doc="crowd", vector=[1.0, n / 1000]) for n in range(300)]
    far = [chunk(f"far-{n}", "far", doc="wanted", vector=[n - 1.0, 1.0]) for n in range(3)]
    index.upsert(near + far)

    hits = index.search_vector(["kb"], [1.0, 0.0], k=5, filter=SearchFilter(document_ids=["wanted"]))

    assert ids(hits) == ["far-2", "far-1", "far-0"]


def test_several_knowledge_bases_in_one_query(index: KnowledgeIndex) -> None:
    index.create_space("faq", dimension=2)
    index.create_space("manual", dimension=2)
    index.create_space("unrelated", dimension=2)
    index.upsert(
        [
            chunk("faq-1", "How do I pair the headphones with my phone?", kb="faq", vector=[1.0, 0.0]),
            chunk(
                "manual-1", "Pairing: hold the power button until the headphones blink.", kb="manual", vector=[0.9, 0.1]
            ),
            chunk("unrelated-1", "headphones pair phone", kb="unrelated", vector=[1.0, 0.0]),
        ]
    )

    text_hits = index.search_text(["faq", "manual"], "pair headphones")
    vector_hits = index.search_vector(["faq", "manual"], [1.0, 0.0])

    assert set(ids(text_hits)) == {"faq-1", "manual-1"}
    assert ids(vector_hits) == ["faq-1", "manual-1"]
    assert {hit.kb_id for hit in text_hits} == {"faq", "manual"}
    assert ids(index.search_text(["faq", "manual"], "pair headphones", k=1)) == [text_hits[0].chunk_id]


def test_upserting_an_existing_chunk_replaces_it(index: KnowledgeIndex) -> None:
    index.create_space("kb", dimension=2)
    index.create_space("other", dimension=2)
    index.upsert([chunk("c1", "the old wording about ferries", vector=[1.0, 0.0], metadata={"v": 1})])
    index.upsert([chunk("c1", "the new wording about trains", vector=[0.0, 1.0], metadata={"v": 2})])

    assert index.search_text(["kb"], "ferries") == []
    [hit] = index.search_text(["kb"], "trains")
    assert (hit.chunk_id, hit.text, hit.metadata) == ("c1", "the new wording about trains", {"v": 2})
    assert [(h.chunk_id, round(h.score, 4)) for h in index.search_vector(["kb"], [0.0, 1.0])] == [("c1", 1.0)]

    index.upsert([chunk("c1", "moved to another knowledge base", kb="other", vector=[1.0, 0.0])])
    assert index.search_text(["kb"], "trains") == []
    assert index.search_vector(["kb"], [0.0, 1.0]) == []
    assert ids(index.search_text(["other"], "moved")) == ["c1"]


def test_deletes_remove_text_and_vectors(index: KnowledgeIndex) -> None:
    index.create_space("kb", dimension=2)
    index.upsert(
        [
            chunk("a1", "apples and pears", doc="a", vector=[1.0, 0.0]),
            chunk("a2", "apples and plums", doc="a", vector=[0.9, 0.1]),
            chunk("b1", "apples and cherries", doc="b", vector=[0.8, 0.2]),
            chunk("b2", "apples and grapes", doc="b", vector=[0.7, 0.3]),
        ]
    )

    assert index.delete_chunks(["a1", "not-there"]) == 1
    assert set(ids(index.search_text(["kb"], "apples"))) == {"a2", "b1", "b2"}
    assert set(ids(index.search_vector(["kb"], [1.0, 0.0]))) == {"a2", "b1", "b2"}

    assert index.delete_document("kb", "b") == 2
    assert ids(index.search_text(["kb"], "apples")) == ["a2"]
    assert ids(index.search_vector(["kb"], [1.0, 0.0])) == ["a2"]
    assert index.delete_document("kb", "b") == 0
    assert index.delete_document("never-created", "b") == 0

    index.drop_space("kb")
    assert not index.has_space("kb")
    with pytest.raises(UnknownKnowledgeBase):
        index.search_text(["kb"], "apples")
    index.drop_space("kb")  # idempotent
    index.create_space("kb", dimension=2)
    assert index.search_text(["kb"], "apples") == []
    assert index.search_vector(["kb"], [1.0, 0.0]) == []


def test_bad_input_gets_a_clear_error(index: KnowledgeIndex) -> None:
    index.create_space("kb", dimension=3)
    index.create_space("economical", dimension=None)
    index.upsert([chunk("c1", "hello world", vector=[1.0, 0.0, 0.0])])

    assert index.search_text(["kb"], "") == []
    assert index.search_text(["kb"], "  ?!… ") == []
    assert index.search_text([], "hello") == []
    with pytest.raises(VectorDimensionError, match="query vector has 2 dimensions, knowledge base 'kb' has 3"):
        index.search_vector(["kb"], [1.0, 0.0])
    with pytest.raises(ValueError, match=r"chunk 'c2': vector has 4 dimensions, the knowledge base has 3"):
        index.upsert([chunk("c2", "text", vector=[1.0, 0.0, 0.0, 0.0])])
    with pytest.raises(InvalidInput, match="stores no vectors"):
        index.upsert([chunk("c3", "text", kb="economical", vector=[1.0, 0.0, 0.0])])
    with pytest.raises(InvalidInput, match="stores no vectors"):
        index.search_vector(["economical"], [1.0, 0.0, 0.0])
    with pytest.raises(InvalidInput, match="NaN"):
        index.search_vector(["kb"], [math.nan, 0.0, 1.0])
    with pytest.raises(InvalidInput, match="zero vector"):
        index.search_vector(["kb"], [0.0, 0.0, 0.0])
    with pytest.raises(UnknownKnowledgeBase, match="'missing'"):
        index.search_text(["kb", "missing"], "hello")
    with pytest.raises(UnknownKnowledgeBase):
        index.upsert([chunk("c4", "text", kb="missing")])
    with pytest.raises(InvalidInput, match="k must be"):
        index.search_text(["kb"], "hello", k=0)
    with pytest.raises(InvalidInput, match="not one string"):
        index.search_text("kb", "hello")
    with pytest.raises(InvalidInput, match="appears twice"):
        index.upsert([chunk("c5", "one"), chunk("c5", "two")])
    with pytest.raises(InvalidInput, match="NUL"):
        index.upsert([chunk("c6", "bad\x00text")])
    with pytest.raises(InvalidInput, match="JSON"):
        index.upsert([chunk("c7", "text", metadata={"when": {1, 2}})])
    with pytest.raises(InvalidInput, match="already has an index space with dimension 3"):
        index.create_space("kb", dimension=384)
    with pytest.raises(InvalidInput, match="dimension must be"):
        index.create_space("new", dimension=0)
    index.create_space("kb", dimension=3)  # the same again: nothing to do

    assert ids(index.search_text(["kb"], "hello")) == ["c1"]  # nothing above changed the index


def test_a_failing_batch_changes_nothing(index: KnowledgeIndex) -> None:
    index.create_space("kb", dimension=None)
    index.upsert([chunk("keep", "original text about owls")])

    with pytest.raises(UnknownKnowledgeBase):
        index.upsert([chunk("keep", "rewritten text about larks"), chunk("new", "larks", kb="missing")])

    assert ids(index.search_text(["kb"], "owls")) == ["keep"]
    assert index.search_text(["kb"], "larks") == []


def test_reopening_keeps_the_chunks_and_the_analyzer(open_index: OpenIndex) -> None:
    first = open_index(Analyzer.BIGRAM)
    first.create_space("kb", dimension=None)
    first.upsert(CHINESE)

    again = open_index()

    assert again.analyzer is Analyzer.BIGRAM
    assert ids(again.search_text(["kb"], "熊猫吃竹子"))[0] == "panda"
    with pytest.raises(IndexConfigurationError, match="indexed with the 'bigram' analyzer, not 'jieba'"):
        open_index(Analyzer.JIEBA)


def test_searches_from_other_threads_never_see_half_a_batch(index: KnowledgeIndex) -> None:
    index.create_space("kb", dimension=2)
    batches, batch_size = 15, 20

    def write() -> None:
        for batch in range(batches):
            index.upsert(
                [
                    chunk(f"b{batch}-{n}", f"marker batch{batch}", doc=f"batch{batch}", vector=[1.0, n / batch_size])
                    for n in range(batch_size)
                ]
            )

    def searches() -> list[list[Hit]]:
        return [index.search_text(["kb"], "marker", k=1000), index.search_vector(["kb"], [1.0, 0.0], k=1000)]

    seen = race(write, searches, readers=3, timeout_s=60)
    assert all(count == batch_size for counts in seen for count in counts.values())
    assert len(index.search_text(["kb"], "marker", k=1000)) == batches * batch_size


def test_vectors_larger_than_an_hnsw_index_allows_are_searched_exactly(index: KnowledgeIndex) -> None:
    dimension = 3072  # OpenAI text-embedding-3-large; pgvector 0.6 builds HNSW up to 2,000
    index.create_space("kb", dimension=dimension)
    index.upsert(
        [chunk(f"c{n}", f"chunk {n}", vector=[1.0 if i == n else 0.01 for i in range(dimension)]) for n in range(5)]
    )

    query = [0.0] * dimension
    query[3] = 1.0
    assert ids(index.search_vector(["kb"], query, k=2))[0] == "c3"


def test_an_unknown_knowledge_base_error_survives_pickling() -> None:
    error = pickle.loads(pickle.dumps(UnknownKnowledgeBase(["b", "a"])))

    assert isinstance(error, UnknownKnowledgeBase)
    assert error.kb_ids == ["a", "b"]
    assert str(error) == "no index space for knowledge base(s) 'a', 'b'"
