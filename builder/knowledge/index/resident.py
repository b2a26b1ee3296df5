"""An in-memory copy of one large knowledge base's search data, for both index backends.

Why: at 100k chunks the SQLite index missed its latency target (hybrid p95 171 ms against 50).
Profiled with py-spy, FTS5 ranks by calling ``bm25()`` once per matching row, ~0.6 µs each, and
38% of that is looking the row's length up in its docsize table; an English question matches
most of 100k chunks through its mid-frequency words, so ~70 ms. sqlite-vec compares every
vector (no ANN) and its wheel is built without SIMD: ~46 ms for 100k × 384 floats. Pruning
FTS5's work (MaxScore over "essential" terms) did not pay: on real and synthetic text the bound
rarely held. The same arithmetic in numpy, over arrays held in memory, takes ~1 ms (BM25) and
~8 ms (cosine, BLAS). PostgreSQL's BM25 in SQL has the same shape, slower (~300 ms at 100k: it
reads each matching chunk's tsvector); its vectors stay in pgvector's HNSW index, which is fast.

A :class:`ResidentSpace` holds, for every chunk of one knowledge base: its key (what the backend
finds the chunk by: SQLite's rowid, PostgreSQL's chunk id), document and length; the postings
(row, term frequency) of every term; on SQLite, the chunk vectors, normalised. :func:`build`
takes these from rows the backend reads in one read transaction, and the copy is stamped with
the space's ``version`` (every write to the space changes it): it answers only a search whose
snapshot has that same version, so it never shows a half-written batch. BM25 is computed as
FTS5's ``bm25()`` computes it (same formula, same double-precision operations in the same
order), so the scores do not depend on which path answered. The tables stay the source of
truth; this is a cache (:mod:`~builder.knowledge.index.resident_cache` keeps and rebuilds it).
"""

from __future__ import annotations

import array
import itertools
import sys
from collections import defaultdict
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from builder.knowledge.index import bm25

Floats = npt.NDArray[np.float64]
Positions = npt.NDArray[np.intp]
Mask = npt.NDArray[np.bool_]

ChunkTerms = tuple[Hashable, str, int, Iterable[str], Iterable[int]]
"""What :func:`build` reads per chunk: its key, document id, length in tokens (duplicates
counted), and its distinct terms and their frequencies (two iterables in the same order)."""


class BuildCancelled(Exception):
    """The index was closed while a copy was being built."""


@dataclass(frozen=True, eq=False, slots=True)
class ResidentSpace:
    version: int
    keys: npt.NDArray[Any]
    """Every chunk of the space (its rowid or chunk id, as the backend finds it); a chunk's
    position here is its row. Integer keys are held as int64, others as objects."""
    key_bytes: int
    """What the key objects themselves take (``keys`` holds references to them)."""
    document_codes: npt.NDArray[np.int32]
    documents: Mapping[str, int]
    norms: Floats
    """Per row, BM25's length normalisation ``k1 · (1 − b + b · length / average length)``."""
    term_rows: Mapping[str, tuple[int, int]]
    """A term's postings: ``posting_rows[start:end]`` and ``posting_tfs[start:end]``."""
    posting_rows: npt.NDArray[np.int32]
    posting_tfs: npt.NDArray[np.float32]
    vector_rows: Positions
    """The rows that have a vector, in the order of ``vectors``."""
    vectors: npt.NDArray[np.float32] | None
    """Unit-length chunk vectors (``None``: economical mode, or a backend that searches its own)."""

    @property
    def nbytes(self) -> int:
        arrays = (self.keys, self.document_codes, self.norms, self.posting_rows, self.posting_tfs, self.vector_rows)
        # ~100 bytes per dict entry (key, tuple, slot): what the term and document maps cost.
        size = sum(item.nbytes for item in arrays) + 100 * (len(self.term_rows) + len(self.documents))
        return size + self.key_bytes + (0 if self.vectors is None else self.vectors.nbytes)

    def text_scores(self, terms: Sequence[str], idfs: Sequence[float]) -> Floats:
        """Each row's BM25 score for ``terms`` (0 where none occurs), as FTS5's ``bm25()`` sums it:
        term by term in query order, ``idf · ((tf · (k1 + 1)) / (tf + norm))``."""
        scores = np.zeros(len(self.keys))
        for term, idf in zip(terms, idfs, strict=True):
            span = self.term_rows.get(term)
            if span is None:
                continue
            rows = self.posting_rows[span[0] : span[1]]
            tf = self.posting_tfs[span[0] : span[1]].astype(np.float64)
            scores[rows] += idf * ((tf * (bm25.K1 + 1.0)) / (tf + self.norms[rows]))
        return scores

    def vector_scores(self, query: Sequence[float]) -> Floats:
        """Cosine similarity of each vector row with ``query`` (in ``vector_rows`` order)."""
        assert self.vectors is not None
        unit = np.asarray(query, dtype=np.float32)
        unit /= np.linalg.norm(unit)
        # einsum, not ``@``: a matrix-vector product is memory-bound, and OpenBLAS splitting it over
        # threads made it 2-3x slower on 2 busy cores (16 against 6 ms for 100k × 384).
        scores: Floats = np.einsum("ij,j->i", self.vectors, unit).astype(np.float64)
        return scores

    def document_rows(self, document_ids: Collection[str] | None) -> Mask | None:
        """Which rows belong to the allowed documents (``None``: every row)."""
        if document_ids is None:
            return None
        allowed = np.zeros(len(self.documents) + 1, dtype=np.bool_)
        codes = [self.documents[document_id] for document_id in document_ids if document_id in self.documents]
        allowed[codes] = True
        return allowed[self.document_codes]

    def text_candidates(self, scores: Floats, document_ids: Collection[str] | None) -> Mask:
        """The rows a text search may return: those that match, in the allowed documents."""
        return allowed(scores > 0, self.document_rows(document_ids))


def allowed(eligible: Mask, document_rows: Mask | None) -> Mask:
    return eligible if document_rows is None else eligible & document_rows


def best_rows(scores: Floats, eligible: Mask, n: int) -> Positions:
    """Indices of the ``n`` best eligible scores, best first, plus any tied with the ``n``-th: every
    index left out scores strictly less than every index returned."""
    candidates = np.flatnonzero(eligible)
    if len(candidates) > n:
        values = scores[candidates]
        cut = np.partition(values, len(values) - n)[len(values) - n]
        candidates = candidates[values >= cut]
    return candidates[np.argsort(-scores[candidates], kind="stable")]


def ranked_rows(
    scores: Floats,
    eligible: Mask,
    k: int,
    *,
    first_fetch: int,
    passing: Callable[[Positions], Collection[int]] | None = None,
) -> Positions:
    """The ``k`` best eligible indices (with ties at the ``k``-th), best first.

    ``passing`` checks a further condition the arrays cannot (a metadata filter, in SQL): it gets
    a batch of indices and returns those that pass. The batch grows fourfold from ``first_fetch``
    until ``k`` pass or every eligible index was tried, so the answer is exact.
    """
    if passing is None:
        return best_rows(scores, eligible, k)
    total = int(np.count_nonzero(eligible))
    fetch = max(k, first_fetch)
    while True:
        order = best_rows(scores, eligible, fetch)
        passed = passing(order)
        kept = order[np.isin(order, np.fromiter(passed, dtype=np.intp, count=len(passed)))]
        if len(kept) >= k:
            # Everything left out of ``order`` scores below all of it, so below the k-th kept.
            best: Positions = kept[scores[kept] >= scores[kept[k - 1]]]
            return best
        if len(order) >= total:
            return kept
        fetch *= 4


def build(
    chunks: Iterable[ChunkTerms],
    *,
    version: int,
    average_length: float | None = None,
    vectors: Iterable[tuple[Hashable, bytes]] | None = None,
    dimension: int | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> ResidentSpace:
    """A copy of one space from its ``chunks`` (in any order), as one read transaction saw them.

    ``average_length``: BM25's average chunk length as the backend's own ranking computes it
    (default: over ``chunks``, FTS5's way: total tokens / chunks, as doubles). ``vectors``: each
    chunk's key and float32 vector of ``dimension`` (``None``: the copy holds no vectors).
    """
    key_list: list[Hashable] = []
    document_codes = array.array("i")
    lengths = array.array("d")
    documents: dict[str, int] = {}
    # A new word gets the next id (counted in C, not with len() per word: 12M words at 100k chunks).
    vocabulary: defaultdict[str, int] = defaultdict(itertools.count().__next__)
    posting_terms, posting_rows, posting_tfs = array.array("i"), array.array("i"), array.array("f")
    for row, (key, document_id, length, terms, frequencies) in enumerate(chunks):
        if row % 4096 == 0 and cancelled():
            raise BuildCancelled()
        key_list.append(key)
        document_codes.append(documents.setdefault(document_id, len(documents)))
        lengths.append(length)
        before = len(posting_terms)
        posting_terms.extend(map(vocabulary.__getitem__, terms))
        posting_rows.extend(itertools.repeat(row, len(posting_terms) - before))
        posting_tfs.extend(frequencies)
        if len(posting_tfs) != len(posting_terms):
            raise ValueError(f"chunk {key!r}: as many term frequencies as terms are needed")
    row_lengths = np.frombuffer(lengths, dtype=np.float64) if lengths else np.zeros(0)
    if average_length is None:
        average_length = float(row_lengths.sum()) / len(row_lengths) if len(row_lengths) else 1.0
    norms = bm25.K1 * (1 - bm25.B + bm25.B * row_lengths / average_length)

    term_ids = np.frombuffer(posting_terms, dtype=np.int32) if posting_terms else np.zeros(0, dtype=np.int32)
    order = np.argsort(term_ids, kind="stable")
    starts = np.zeros(len(vocabulary) + 1, dtype=np.int64)
    np.cumsum(np.bincount(term_ids, minlength=len(vocabulary)), out=starts[1:])
    bounds = starts.tolist()
    term_rows = {word: (bounds[index], bounds[index + 1]) for word, index in vocabulary.items()}

    keys, key_bytes = _keys(key_list)
    vector_rows, unit_vectors = _vectors(key_list, vectors, dimension, cancelled)
    return ResidentSpace(
        version=version,
        keys=keys,
        key_bytes=key_bytes,
        document_codes=np.frombuffer(document_codes, dtype=np.int32).copy()
        if document_codes
        else np.zeros(0, dtype=np.int32),
        documents=documents,
        norms=norms,
        term_rows=term_rows,
        posting_rows=(np.frombuffer(posting_rows, dtype=np.int32)[order] if posting_rows else np.zeros(0, np.int32)),
        posting_tfs=(np.frombuffer(posting_tfs, dtype=np.float32)[order] if posting_tfs else np.zeros(0, np.float32)),
        vector_rows=vector_rows,
        vectors=unit_vectors,
    )


def _keys(key_list: list[Hashable]) -> tuple[npt.NDArray[Any], int]:
    """The keys as an array (of int64 when they are integers: 20x faster to index than objects)
    and what the key objects it refers to take."""
    if key_list and isinstance(key_list[0], int):
        return np.fromiter(key_list, dtype=np.int64, count=len(key_list)), 0
    keys = np.empty(len(key_list), dtype=object)
    keys[:] = key_list
    return keys, sum(map(sys.getsizeof, key_list))


def _vectors(
    keys: Sequence[Hashable],
    vectors: Iterable[tuple[Hashable, bytes]] | None,
    dimension: int | None,
    cancelled: Callable[[], bool],
) -> tuple[Positions, npt.NDArray[np.float32] | None]:
    """The rows that have a vector (ascending) and their vectors, normalised."""
    if vectors is None or dimension is None:
        return np.zeros(0, dtype=np.intp), None
    if cancelled():
        raise BuildCancelled()
    row_of = {key: row for row, key in enumerate(keys)}
    stored = sorted((row_of[key], blob) for key, blob in vectors)
    rows = np.array([row for row, _ in stored], dtype=np.intp)
    matrix = np.frombuffer(b"".join(blob for _, blob in stored), dtype=np.float32).reshape(len(stored), dimension)
    unit = matrix / np.linalg.norm(matrix, axis=1, keepdims=True) if len(stored) else matrix.copy()
    return rows, unit
