"""Hybrid fusion: RRF and weighted scores, and a dense side that only counts when it can read the query."""

from __future__ import annotations

import pytest

from builder.knowledge.index import (
    FusionMethod,
    Hit,
    InvalidInput,
    dense_weight_for,
    english_only_coverage,
    fuse,
    reciprocal_rank_fusion,
    weighted_score_fusion,
)


def hits(*ranked: tuple[str, float]) -> list[Hit]:
    return [
        Hit(chunk_id=chunk_id, kb_id="kb", document_id="doc", score=score, text=chunk_id, metadata={})
        for chunk_id, score in ranked
    ]


def ids(ranked: list[Hit]) -> list[str]:
    return [hit.chunk_id for hit in ranked]


BM25 = hits(("gold", 12.0), ("b", 9.0), ("c", 4.0))
# What an embedder that cannot read the query returns: confident-looking noise.
NOISE = hits(("x", 0.61), ("y", 0.60), ("c", 0.59), ("b", 0.58), ("z", 0.57), ("gold", 0.10))


def test_rrf_sums_reciprocal_ranks_with_k_60() -> None:
    fused = reciprocal_rank_fusion([hits(("a", 3.0), ("b", 2.0)), hits(("b", 0.9), ("c", 0.8))])

    assert ids(fused) == ["b", "a", "c"]
    assert [hit.score for hit in fused] == pytest.approx([1 / 62 + 1 / 61, 1 / 61, 1 / 62])
    assert fused[0].text == "b"


def test_rrf_weights_and_limit() -> None:
    fused = reciprocal_rank_fusion([hits(("a", 1.0)), hits(("b", 1.0))], weights=[1.0, 3.0], limit=1)

    assert ids(fused) == ["b"]
    assert fused[0].score == pytest.approx(3 / 61)


def test_weighted_fusion_normalises_each_ranking() -> None:
    bm25 = hits(("a", 30.0), ("b", 20.0), ("c", 10.0))
    dense = hits(("c", 0.9), ("b", 0.8), ("a", 0.4))

    fused = weighted_score_fusion([bm25, dense], weights=[0.5, 0.5])

    # a: 0.5*1 + 0.5*0 ; b: 0.5*0.5 + 0.5*0.8 ; c: 0.5*0 + 0.5*1
    assert {hit.chunk_id: hit.score for hit in fused} == pytest.approx({"a": 0.5, "b": 0.65, "c": 0.5})
    assert ids(fused) == ["b", "a", "c"]


def test_the_dense_weight_follows_the_embedders_coverage() -> None:
    assert dense_weight_for("How long do refunds take?", english_only_coverage) == 0.5
    assert dense_weight_for("退款需要多长时间？", english_only_coverage) == 0.0
    # 6 of 10 letters readable: a quarter of the way from min_coverage 0.5 to full_coverage 0.9.
    assert dense_weight_for("退款政策 refund", english_only_coverage) == pytest.approx(0.5 * 0.25)
    assert dense_weight_for("退款需要多长时间？") == 0.5  # no coverage given: a multilingual embedder
    assert dense_weight_for("anything", lambda _: 0.7, weight=0.8) == pytest.approx(0.4)


def test_hybrid_of_a_query_the_embedder_cannot_read_is_the_bm25_ranking() -> None:
    naive = fuse(BM25, NOISE, dense_weight=0.5)
    assert ids(naive)[0] != "gold"  # why the weight matters: noise outvotes BM25's first hit

    weight = dense_weight_for("这个问题的答案在哪一段？", english_only_coverage)
    for method in FusionMethod:
        assert fuse(BM25, NOISE, dense_weight=weight, method=method, limit=10) == BM25


def test_hybrid_when_one_side_found_nothing() -> None:
    assert ids(fuse([], NOISE[:2], dense_weight=0.5)) == ["x", "y"]
    assert ids(fuse(BM25, [], dense_weight=0.5, method=FusionMethod.WEIGHTED)) == ["gold", "b", "c"]
    assert fuse(BM25, NOISE, dense_weight=1.0) == NOISE


@pytest.mark.parametrize("weight", [-0.1, 1.5, float("nan")])
def test_a_dense_weight_outside_0_1_is_refused(weight: float) -> None:
    with pytest.raises(InvalidInput, match="dense_weight must be between 0 and 1"):
        fuse(BM25, NOISE, dense_weight=weight)


@pytest.mark.parametrize("weight", [-0.1, float("inf"), float("nan")])
def test_negative_or_infinite_ranking_weights_are_refused(weight: float) -> None:
    with pytest.raises(InvalidInput, match="finite and >= 0"):
        reciprocal_rank_fusion([BM25, NOISE], weights=[1.0, weight])
    with pytest.raises(InvalidInput, match="finite and >= 0"):
        weighted_score_fusion([BM25, NOISE], weights=[weight, 1.0])


def test_weights_must_match_rankings() -> None:
    with pytest.raises(InvalidInput, match="2 rankings but 1 weights"):
        reciprocal_rank_fusion([BM25, NOISE], weights=[1.0])
