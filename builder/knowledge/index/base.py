"""What every knowledge index backend accepts and returns, and the checks they share.

A backend stores chunks of one or more knowledge bases ("spaces") and answers two searches:
BM25 over :func:`~builder.knowledge.index.analysis.analyze` tokens, and cosine nearest neighbours
over the chunk vectors. Callers (the knowledge services) own documents and their status; the
index only knows ids, so the caller's allow-list of document ids is what keeps a half-indexed or
disabled document from answering.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

from builder.knowledge.index.analysis import Analyzer, analyze

MetadataValue = str | int | float | bool | None
"""What a metadata filter compares with: a JSON scalar (lists and objects are stored, never compared)."""

MAX_K = 1000
# pgvector's limit for a vector column; an HNSW index stops at 2,000 (see pg_index).
MAX_DIMENSION = 16000
# With a filter, nearest-neighbour search first takes this many times k candidates and filters
# them; only when too few survive does it scan every vector that passes the filter.
FILTER_OVERFETCH = 4
MIN_FILTER_FETCH = 64
# Candidates per KNN query: pgvector's hnsw.ef_search stops at 1,000 (sqlite-vec's k at 4,096).
MAX_FETCH = 1000


class KnowledgeIndexError(Exception):
    """Base of every error the index raises on purpose."""


class InvalidInput(KnowledgeIndexError, ValueError):
    """The caller passed something the index cannot store or search for."""


class VectorDimensionError(InvalidInput):
    """A vector's length is not the dimension its knowledge base was created with."""


class UnknownKnowledgeBase(KnowledgeIndexError, LookupError):
    """No space was created for this knowledge base id (or it was dropped)."""

    def __init__(self, kb_ids: Iterable[str]) -> None:
        self.kb_ids = sorted(kb_ids)
        super().__init__(f"no index space for knowledge base(s) {', '.join(map(repr, self.kb_ids))}")

    def __reduce__(self) -> tuple[type[UnknownKnowledgeBase], tuple[list[str]]]:
        # Rebuilt from the ids, not the message, when pickled (Celery sends errors across processes).
        return type(self), (self.kb_ids,)


class IndexConfigurationError(KnowledgeIndexError):
    """The store cannot be used as configured (missing extension, different analyzer…)."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """One piece of a document as the index stores it. ``id`` is unique across all knowledge bases."""

    id: str
    kb_id: str
    document_id: str
    text: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    vector: Sequence[float] | None = None
    """The chunk's embedding in a high-quality knowledge base; ``None`` in economical mode."""


@dataclass(frozen=True, slots=True)
class Hit:
    """A search result: higher ``score`` is better (BM25, cosine similarity or a fused score)."""

    chunk_id: str
    kb_id: str
    document_id: str
    score: float
    text: str
    metadata: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class SearchFilter:
    """Which chunks a search may return.

    ``document_ids``: an allow-list (``None``: every document); the caller passes the ready and
    enabled documents, so an empty list finds nothing. ``metadata``: every key must be present
    in the chunk's metadata with an equal JSON value (``1 == 1.0``, ``True != 1``).
    """

    document_ids: Collection[str] | None = None
    metadata: Mapping[str, MetadataValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.document_ids is not None:
            # A lone string is a Collection too; iterating it would allow-list its characters.
            if isinstance(self.document_ids, str) or not all(isinstance(d, str) for d in self.document_ids):
                raise InvalidInput("SearchFilter.document_ids must be a collection of document id strings")
            object.__setattr__(self, "document_ids", frozenset(self.document_ids))
        for key, value in self.metadata.items():
            if not isinstance(key, str):
                raise InvalidInput(f"metadata filter keys must be strings, got {key!r}")
            if value is not None and not isinstance(value, str | int | float | bool):
                raise InvalidInput(f"metadata filter {key!r}: only JSON scalars can be compared, got {value!r}")
            if isinstance(value, float) and not math.isfinite(value):
                raise InvalidInput(f"metadata filter {key!r}: {value!r} is not a JSON number")
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    @property
    def matches_nothing(self) -> bool:
        return self.document_ids is not None and not self.document_ids

    @property
    def is_empty(self) -> bool:
        return self.document_ids is None and not self.metadata


NO_FILTER = SearchFilter()


class KnowledgeIndex(Protocol):
    """The contract of both backends (``SqliteKnowledgeIndex``, ``PgKnowledgeIndex``).

    Every write is one transaction: a search sees all of a batch or none of it. All methods are
    safe to call from several threads.
    """

    analyzer: Analyzer

    def create_space(self, kb_id: str, *, dimension: int | None) -> None:
        """Make room for a knowledge base; ``dimension=None`` for economical mode (no vectors).

        Idempotent; creating it again with another dimension is an :class:`InvalidInput`
        (drop it first: vectors of another embedder cannot be mixed in).
        """
        ...

    def drop_space(self, kb_id: str) -> None:
        """Forget a knowledge base: its chunks, vectors and statistics. Idempotent."""
        ...

    def has_space(self, kb_id: str) -> bool: ...

    def upsert(self, chunks: Sequence[Chunk]) -> None:
        """Store a batch of chunks, replacing any stored chunk with the same id, atomically."""
        ...

    def delete_chunks(self, chunk_ids: Collection[str]) -> int:
        """Remove chunks by id (unknown ids are ignored); returns how many were removed."""
        ...

    def delete_document(self, kb_id: str, document_id: str) -> int:
        """Remove every chunk of a document; returns how many were removed."""
        ...

    def search_text(
        self, kb_ids: Collection[str], query: str, *, k: int = 10, filter: SearchFilter | None = None
    ) -> list[Hit]:
        """The ``k`` best chunks by BM25 (:mod:`~builder.knowledge.index.bm25`): a chunk matches if it
        contains any query token, except tokens in half the chunks or more when the query has others."""
        ...

    def search_vector(
        self, kb_ids: Collection[str], vector: Sequence[float], *, k: int = 10, filter: SearchFilter | None = None
    ) -> list[Hit]:
        """The ``k`` chunks nearest to ``vector`` by cosine similarity."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class PreparedChunk:
    """A validated chunk with what both backends store besides it."""

    chunk: Chunk
    tokens: list[str]
    term_freqs: dict[str, int]
    metadata_json: str
    vector: tuple[float, ...] | None


def prepare_chunks(chunks: Sequence[Chunk], analyzer: Analyzer) -> list[PreparedChunk]:
    """Check a batch before anything is written, and tokenise it."""
    if isinstance(chunks, Chunk):
        raise InvalidInput("upsert() takes a sequence of chunks, not one Chunk")
    seen: set[str] = set()
    prepared = []
    for chunk in chunks:
        if not isinstance(chunk, Chunk):
            raise InvalidInput(f"expected a Chunk, got {type(chunk).__name__}")
        for name in ("id", "kb_id", "document_id"):
            check_id(getattr(chunk, name), f"chunk {name}")
        if chunk.id in seen:
            raise InvalidInput(f"chunk id {chunk.id!r} appears twice in one batch")
        seen.add(chunk.id)
        if not isinstance(chunk.text, str):
            raise InvalidInput(f"chunk {chunk.id!r}: text must be a string")
        if "\x00" in chunk.text:
            # PostgreSQL cannot store it; refuse it on both backends so they behave alike.
            raise InvalidInput(f"chunk {chunk.id!r}: text contains a NUL character")
        tokens = analyze(chunk.text, analyzer)
        prepared.append(
            PreparedChunk(
                chunk=chunk,
                tokens=tokens,
                term_freqs=dict(Counter(tokens)),
                metadata_json=_metadata_json(chunk),
                vector=None if chunk.vector is None else check_vector(chunk.vector, None, what=f"chunk {chunk.id!r}"),
            )
        )
    return prepared


def check_space_vectors(prepared: Sequence[PreparedChunk], dimensions: Mapping[str, int | None]) -> None:
    """Each chunk's vector fits its knowledge base: right length, and none in economical mode."""
    for item in prepared:
        if item.vector is None:
            continue
        dimension = dimensions[item.chunk.kb_id]
        if dimension is None:
            raise InvalidInput(
                f"chunk {item.chunk.id!r}: knowledge base {item.chunk.kb_id!r} stores no vectors (economical mode)"
            )
        if len(item.vector) != dimension:  # its values were checked by prepare_chunks
            raise VectorDimensionError(
                f"chunk {item.chunk.id!r}: vector has {len(item.vector)} dimensions, the knowledge base has {dimension}"
            )


def check_vector(vector: Sequence[float], dimension: int | None, *, what: str = "vector") -> tuple[float, ...]:
    """``vector`` as floats, or an :class:`InvalidInput` that says what is wrong with it."""
    if isinstance(vector, str | bytes):
        raise InvalidInput(f"{what}: a vector must be a sequence of numbers")
    try:
        values = tuple(map(float, vector))  # map, not a generator: ~3x faster on 384 values
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{what}: a vector must be a sequence of numbers") from exc
    if dimension is not None and len(values) != dimension:
        raise VectorDimensionError(f"{what}: vector has {len(values)} dimensions, the knowledge base has {dimension}")
    if not values:
        raise InvalidInput(f"{what}: empty vector")
    if not all(map(math.isfinite, values)):
        raise InvalidInput(f"{what}: vector contains NaN or infinity")
    if not any(values):
        raise InvalidInput(f"{what}: zero vector (cosine similarity is undefined)")
    return values


def check_query_dimension(kb_id: str, dimension: int | None, length: int) -> None:
    """A query vector fits a knowledge base: it has vectors, of the query's length."""
    if dimension is None:
        raise InvalidInput(f"knowledge base {kb_id!r} stores no vectors (economical mode): search its text instead")
    if dimension != length:
        raise VectorDimensionError(f"query vector has {length} dimensions, knowledge base {kb_id!r} has {dimension}")


def check_dimension(dimension: int | None) -> None:
    if dimension is None:
        return
    if isinstance(dimension, bool) or not isinstance(dimension, int) or not 1 <= dimension <= MAX_DIMENSION:
        raise InvalidInput(f"dimension must be an integer from 1 to {MAX_DIMENSION} or None, got {dimension!r}")


def check_kb_id(kb_id: str) -> None:
    check_id(kb_id, "knowledge base id")


def check_search(kb_ids: Collection[str], k: int) -> list[str]:
    """The distinct knowledge base ids of a search, sorted; checks ``k``."""
    if isinstance(kb_ids, str):
        raise InvalidInput("kb_ids must be a collection of knowledge base ids, not one string")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise InvalidInput(f"k must be an integer from 1 to {MAX_K}, got {k!r}")
    for kb_id in kb_ids:
        check_kb_id(kb_id)
    return sorted(set(kb_ids))


def query_terms(query: str, analyzer: Analyzer) -> list[str]:
    """The distinct tokens of a query, in order: a repeated word does not count twice."""
    if not isinstance(query, str):
        raise InvalidInput("query must be a string")
    return list(dict.fromkeys(analyze(query, analyzer)))


def filtered_nearest(
    *,
    k: int,
    vector_count: int,
    search_filter: SearchFilter,
    nearest: Callable[[int], list[Hit]],
    exhaustive: Callable[[], list[Hit]],
) -> list[Hit]:
    """Nearest neighbours under a filter, exact even when the filter rejects most candidates.

    ``nearest(n)`` returns those of the ``n`` nearest vectors that pass the filter;
    ``exhaustive()`` scans every vector that passes it. Over-fetching answers the usual case (the
    filter allows most documents) at the speed of a plain KNN query; the scan covers the rest.
    """
    if search_filter.is_empty:
        return nearest(k)
    fetch = min(max(k * FILTER_OVERFETCH, MIN_FILTER_FETCH), MAX_FETCH)
    hits = nearest(fetch)
    if len(hits) >= k or fetch >= vector_count:
        return hits[:k]
    return exhaustive()


def best_hits(hits: Iterable[Hit], k: int) -> list[Hit]:
    """The ``k`` best hits, ties broken by chunk id so results are reproducible."""
    return sorted(hits, key=lambda hit: (-hit.score, hit.chunk_id))[:k]


def check_id(value: object, what: str) -> None:
    if not isinstance(value, str) or not value or "\x00" in value:
        raise InvalidInput(f"{what} must be a non-empty string, got {value!r}")


def _metadata_json(chunk: Chunk) -> str:
    if not isinstance(chunk.metadata, Mapping) or not all(isinstance(key, str) for key in chunk.metadata):
        raise InvalidInput(f"chunk {chunk.id!r}: metadata must be a dict with string keys")
    try:
        encoded = json.dumps(dict(chunk.metadata), ensure_ascii=False, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"chunk {chunk.id!r}: metadata is not JSON-serialisable: {exc}") from exc
    if "\\u0000" in encoded:
        raise InvalidInput(f"chunk {chunk.id!r}: metadata contains a NUL character")
    return encoded
