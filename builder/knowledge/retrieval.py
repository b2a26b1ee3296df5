"""The one retrieval function: what the knowledge services, the knowledge_retrieval node, the
agent's knowledge tool and the benchmarks all call.

Three modes over a :class:`~builder.knowledge.index.KnowledgeIndex`:

- ``full_text`` — BM25. A hit's ``score`` is its BM25 score (>= 0, unbounded).
- ``semantic`` — cosine similarity of the query's vector with the chunks'; ``score`` is the
  cosine similarity (-1…1). When the embedder reads too little of the query (MiniLM and a Chinese
  question) its vector is noise, so by default the search falls back to the BM25 ranking,
  scored like a hybrid hit (0…1, see below).
- ``hybrid`` — both rankings, each over-fetched, fused by reciprocal rank (``rrf``) or by
  min-max normalised scores (``weighted``). ``score`` is the fused score on a 0…1 scale: for RRF
  1.0 means first in every ranking that counts, for weighted fusion it is the weighted sum of the
  normalised scores. The dense side counts ``dense_weight`` scaled by the embedder's coverage of
  the query (:func:`~builder.knowledge.index.fusion.dense_weight_for`); with no coverage it
  counts nothing, is not even computed, and the result is the full-text ranking: hybrid is never
  worse than its better half because of a query the embedder cannot read.

A reranker, when given, reorders the candidates and its score replaces theirs. ``score_threshold``
drops hits whose final ``score`` (as above, in the mode's scale) is below it; it is applied
before the cut to ``top_k``.
"""

from __future__ import annotations

import dataclasses
import enum
import threading
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor

from builder.knowledge.embeddings.base import Embedder, Reranker
from builder.knowledge.index.base import MAX_K, Hit, KnowledgeIndex, SearchFilter
from builder.knowledge.index.fusion import RRF_K, dense_weight_for, reciprocal_rank_fusion, weighted_score_fusion


class RetrievalMode(enum.StrEnum):
    SEMANTIC = "semantic"
    FULL_TEXT = "full_text"
    HYBRID = "hybrid"


class Fusion(enum.StrEnum):
    RRF = "rrf"
    WEIGHTED = "weighted"


MAX_TOP_K = 100
# Each side of a hybrid search (and the reranker's input) takes this many times top_k
# candidates, at least MIN_CANDIDATES: a chunk ranked 12th by BM25 and 3rd by cosine must be in
# both lists to be fused fairly.
CANDIDATE_FACTOR = 4
MIN_CANDIDATES = 50
DEFAULT_DENSE_WEIGHT = {Fusion.RRF: 0.4, Fusion.WEIGHTED: 0.5}
"""The dense side's weight at full coverage when the caller gives none. RRF 0.4: SciFact test nDCG@10
0.712 against 0.699 at 0.5 (benchmarks/knowledge_retrieval.py --sweep; tuned on that one set)."""
# Hybrid searches run their BM25 half in these threads (shared by the process).
TEXT_SEARCH_THREADS = 4
# Below this coverage of the query a semantic search falls back to full text (dense_weight_for's
# default: at or under it the dense side of a hybrid search counts nothing either).
MIN_SEMANTIC_COVERAGE = 0.5


def retrieve(
    index: KnowledgeIndex,
    query: str,
    *,
    kb_ids: Collection[str],
    mode: RetrievalMode | str = RetrievalMode.HYBRID,
    embedder: Embedder | None = None,
    top_k: int = 5,
    score_threshold: float | None = None,
    filter: SearchFilter | None = None,
    fusion: Fusion | str = Fusion.RRF,
    dense_weight: float | None = None,
    rrf_k: int = RRF_K,
    reranker: Reranker | None = None,
    low_coverage_fallback: bool = True,
) -> list[Hit]:
    """The ``top_k`` best chunks of the knowledge bases ``kb_ids`` for ``query``, best first.

    ``dense_weight`` (hybrid): the dense ranking's share (0…1) for a query the embedder fully
    reads, scaled down with its coverage; ``None`` takes :data:`DEFAULT_DENSE_WEIGHT`.
    ``low_coverage_fallback`` (semantic): answer from full text when the embedder cannot read the
    query. Raises ``ValueError`` for arguments that cannot work, and the index's errors
    (``UnknownKnowledgeBase``, ``VectorDimensionError``…) for knowledge bases that do not fit.
    """
    mode, fusion = _check(query, kb_ids, mode, embedder, top_k, score_threshold, fusion, dense_weight, rrf_k)
    if not query.strip():
        return []
    kb_ids = list(kb_ids)
    fetch = _candidates(top_k) if reranker is not None else top_k

    if mode is RetrievalMode.FULL_TEXT:
        hits = index.search_text(kb_ids, query, k=fetch, filter=filter)
    elif mode is RetrievalMode.SEMANTIC:
        assert embedder is not None
        if low_coverage_fallback and embedder.coverage(query) <= MIN_SEMANTIC_COVERAGE:
            hits = _hybrid(index, query, kb_ids, embedder, 0.0, fusion, rrf_k, fetch, filter)
        else:
            hits = index.search_vector(kb_ids, embedder.embed_query(query), k=fetch, filter=filter)
    else:
        assert embedder is not None
        full_weight = DEFAULT_DENSE_WEIGHT[fusion] if dense_weight is None else dense_weight
        weight = dense_weight_for(query, embedder.coverage, weight=full_weight)
        hits = _hybrid(index, query, kb_ids, embedder, weight, fusion, rrf_k, _candidates(top_k), filter)[:fetch]

    if reranker is not None:
        hits = reranker.rerank(query, hits)
    if score_threshold is not None:
        hits = [hit for hit in hits if hit.score >= score_threshold]
    return hits[:top_k]


def _hybrid(
    index: KnowledgeIndex,
    query: str,
    kb_ids: list[str],
    embedder: Embedder,
    weight: float,
    fusion: Fusion,
    rrf_k: int,
    fetch: int,
    search_filter: SearchFilter | None,
) -> list[Hit]:
    if 0.0 < weight < 1.0:
        # BM25 in another thread while this one embeds the query and searches the vectors: the model
        # and both databases release the GIL, so a hybrid search costs the slower half, not the sum.
        pending = _text_searches().submit(index.search_text, kb_ids, query, k=fetch, filter=search_filter)
        try:
            vector_hits = index.search_vector(kb_ids, embedder.embed_query(query), k=fetch, filter=search_filter)
        finally:
            text_hits = pending.result()
    else:
        text_hits = index.search_text(kb_ids, query, k=fetch, filter=search_filter) if weight < 1.0 else []
        vector_hits = (
            index.search_vector(kb_ids, embedder.embed_query(query), k=fetch, filter=search_filter)
            if weight > 0.0
            else []
        )
    weights = (1.0 - weight, weight)
    if fusion is Fusion.WEIGHTED:
        return weighted_score_fusion([text_hits, vector_hits], weights=weights)
    fused = reciprocal_rank_fusion([text_hits, vector_hits], weights=weights, k=rrf_k)
    # Scaled so that first place in every ranking that counts scores 1.0.
    return [dataclasses.replace(hit, score=min(hit.score * (rrf_k + 1), 1.0)) for hit in fused]


_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _text_searches() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=TEXT_SEARCH_THREADS, thread_name_prefix="knowledge-bm25")
        return _executor


def _candidates(top_k: int) -> int:
    return min(max(top_k * CANDIDATE_FACTOR, MIN_CANDIDATES), MAX_K)


def _check(
    query: str,
    kb_ids: Collection[str],
    mode: RetrievalMode | str,
    embedder: Embedder | None,
    top_k: int,
    score_threshold: float | None,
    fusion: Fusion | str,
    dense_weight: float | None,
    rrf_k: int,
) -> tuple[RetrievalMode, Fusion]:
    if not isinstance(query, str):
        raise ValueError("query must be a string")
    if isinstance(kb_ids, str) or not isinstance(kb_ids, Collection):
        raise ValueError("kb_ids must be a collection of knowledge base ids, not one string")
    if not kb_ids:
        raise ValueError("retrieve() needs at least one knowledge base id")
    try:
        mode = RetrievalMode(mode)
    except ValueError:
        raise ValueError(f"mode must be one of {', '.join(m.value for m in RetrievalMode)}, got {mode!r}") from None
    try:
        fusion = Fusion(fusion)
    except ValueError:
        raise ValueError(f"fusion must be one of {', '.join(f.value for f in Fusion)}, got {fusion!r}") from None
    if mode is not RetrievalMode.FULL_TEXT and embedder is None:
        raise ValueError(f"{mode.value} retrieval needs an embedder (use full_text for an economical knowledge base)")
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
        raise ValueError(f"top_k must be an integer from 1 to {MAX_TOP_K}, got {top_k!r}")
    if score_threshold is not None and (
        isinstance(score_threshold, bool)
        or not isinstance(score_threshold, int | float)
        or score_threshold != score_threshold
    ):
        raise ValueError(f"score_threshold must be a number or None, got {score_threshold!r}")
    if dense_weight is not None and (
        isinstance(dense_weight, bool) or not isinstance(dense_weight, int | float) or not 0.0 <= dense_weight <= 1.0
    ):
        raise ValueError(f"dense_weight must be between 0 and 1 or None, got {dense_weight!r}")
    if isinstance(rrf_k, bool) or not isinstance(rrf_k, int) or rrf_k < 1:
        raise ValueError(f"rrf_k must be a positive integer, got {rrf_k!r}")
    return mode, fusion


__all__ = ["Fusion", "RetrievalMode", "retrieve"]
