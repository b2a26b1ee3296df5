"""An in-memory copy of one large knowledge base's search data, for the embedded (SQLite) index.

Why: at 100k chunks the SQLite index missed its latency target (hybrid p95 171 ms against 50).
Profiled with py-spy, FTS5 ranks by calling ``bm25()`` once per matching row, ~0.6 µs each, and
38% of that is looking the row's length up in its docsize table; an English question matches
most of 100k chunks through its mid-frequency words, so ~70 ms. sqlite-vec compares every
vector (no ANN) and its wheel is built without SIMD: ~46 ms for 100k × 384 floats. Pruning
FTS5's work (MaxScore over "essential" terms) did not pay: on real and synthetic text the bound
rarely held. The same arithmetic in numpy, over arrays held in memory, takes ~1 ms (BM25) and
~8 ms (cosine, BLAS).

A :class:`ResidentSpace` holds, for every chunk of one knowledge base: its rowid, document and
length; the postings (row, term frequency) of every term; the chunk vectors, normalised. It is
built from one read transaction and stamped with the space's ``version`` (every write to the
space changes it), and answers only a search whose snapshot has that same version, so it never
shows a half-written batch. BM25 is computed exactly as FTS5's ``bm25()`` computes it (same
formula, same double-precision operations in the same order), so the scores do not depend on
which path answered. The SQLite tables stay the source of truth; this is a cache.
"""

from __future__ import annotations

import array
import itertools
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from builder.knowledge.index import bm25

Floats = npt.NDArray[np.float64]
Positions = npt.NDArray[np.intp]


class BuildCancelled(Exception):
    """The index was closed while a copy was being built."""


@dataclass(frozen=True, eq=False, slots=True)
class ResidentSpace:
    version: int
    rowids: npt.NDArray[np.int64]
    """Every chunk of the space, ascending; a chunk's position here is its row."""
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
    """Unit-length chunk vectors (``None`` in economical mode)."""

    @property
    def nbytes(self) -> int:
        arrays = (self.rowids, self.document_codes, self.norms, self.posting_rows, self.posting_tfs, self.vector_rows)
        # ~100 bytes per dict entry (key, tuple, slot): what the term and document maps cost.
        size = sum(item.nbytes for item in arrays) + 100 * (len(self.term_rows) + len(self.documents))
        return size + (0 if self.vectors is None else self.vectors.nbytes)

    def text_scores(self, terms: Sequence[str], idfs: Sequence[float]) -> Floats:
        """Each row's BM25 score for ``terms`` (0 where none occurs), as FTS5's ``bm25()`` sums it:
        term by term in query order, ``idf · ((tf · (k1 + 1)) / (tf + norm))``."""
        scores = np.zeros(len(self.rowids))
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

    def document_rows(self, document_ids: Collection[str] | None) -> npt.NDArray[np.bool_] | None:
        """Which rows belong to the allowed documents (``None``: every row)."""
        if document_ids is None:
            return None
        allowed = np.zeros(len(self.documents) + 1, dtype=np.bool_)
        codes = [self.documents[document_id] for document_id in document_ids if document_id in self.documents]
        allowed[codes] = True
        return allowed[self.document_codes]


def best_rows(scores: Floats, eligible: npt.NDArray[np.bool_], n: int) -> Positions:
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
    eligible: npt.NDArray[np.bool_],
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
        allowed = passing(order)
        kept = order[np.isin(order, np.fromiter(allowed, dtype=np.intp, count=len(allowed)))]
        if len(kept) >= k:
            # Everything left out of ``order`` scores below all of it, so below the k-th kept.
            best: Positions = kept[scores[kept] >= scores[kept[k - 1]]]
            return best
        if len(order) >= total:
            return kept
        fetch *= 4


def build(
    db: sqlite3.Connection,
    *,
    space_id: int,
    version: int,
    dimension: int | None,
    cancelled: Callable[[], bool] = lambda: False,
) -> ResidentSpace:
    """Read one space's chunks, tokens and vectors (in the caller's read transaction) into memory."""
    rowid_list: list[int] = []
    document_codes = array.array("i")
    lengths = array.array("d")
    documents: dict[str, int] = {}
    # A new word gets the next id (counted in C, not with len() per word: 12M words at 100k chunks).
    vocabulary: defaultdict[str, int] = defaultdict(itertools.count().__next__)
    posting_terms, posting_rows, posting_tfs = array.array("i"), array.array("i"), array.array("f")
    rows = db.execute(
        f"SELECT f.rowid, c.document_id, f.tokens FROM fts_{space_id} f JOIN chunks c ON c.id = f.rowid "
        "ORDER BY f.rowid"
    )
    for row, (rowid, document_id, tokens) in enumerate(rows):
        if row % 4096 == 0 and cancelled():
            raise BuildCancelled()
        rowid_list.append(rowid)
        document_codes.append(documents.setdefault(document_id, len(documents)))
        # Tokens are stored space-separated and hold no spaces: the split is FTS5's own.
        words = tokens.split()
        lengths.append(len(words))
        counts = Counter(words)
        posting_terms.extend(map(vocabulary.__getitem__, counts))
        posting_rows.extend(itertools.repeat(row, len(counts)))
        posting_tfs.extend(counts.values())
    rowids = np.array(rowid_list, dtype=np.int64)
    length = np.frombuffer(lengths, dtype=np.float64) if lengths else np.zeros(0)
    # FTS5: average length = total tokens / rows, both as doubles.
    average = float(length.sum()) / len(length) if len(length) else 1.0
    norms = bm25.K1 * (1 - bm25.B + bm25.B * length / average)

    terms = np.frombuffer(posting_terms, dtype=np.int32) if posting_terms else np.zeros(0, dtype=np.int32)
    order = np.argsort(terms, kind="stable")
    starts = np.zeros(len(vocabulary) + 1, dtype=np.int64)
    np.cumsum(np.bincount(terms, minlength=len(vocabulary)), out=starts[1:])
    bounds = starts.tolist()
    term_rows = {word: (bounds[index], bounds[index + 1]) for word, index in vocabulary.items()}

    vector_rows: Positions = np.zeros(0, dtype=np.intp)
    vectors = None
    if dimension is not None:
        if cancelled():
            raise BuildCancelled()
        stored = db.execute(f"SELECT rowid, embedding FROM vec_{space_id}").fetchall()
        stored.sort()
        vector_rowids = np.array([rowid for rowid, _ in stored], dtype=np.int64)
        vector_rows = np.searchsorted(rowids, vector_rowids).astype(np.intp)
        vectors = np.frombuffer(b"".join(blob for _, blob in stored), dtype=np.float32).reshape(len(stored), dimension)
        vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True) if len(stored) else vectors.copy()

    return ResidentSpace(
        version=version,
        rowids=rowids,
        document_codes=np.frombuffer(document_codes, dtype=np.int32).copy()
        if document_codes
        else np.zeros(0, dtype=np.int32),
        documents=documents,
        norms=norms,
        term_rows=term_rows,
        posting_rows=(np.frombuffer(posting_rows, dtype=np.int32)[order] if posting_rows else np.zeros(0, np.int32)),
        posting_tfs=(np.frombuffer(posting_tfs, dtype=np.float32)[order] if posting_tfs else np.zeros(0, np.float32)),
        vector_rows=vector_rows,
        vectors=vectors,
    )
