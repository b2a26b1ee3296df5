"""Search indexes for knowledge bases: BM25 full text and cosine vectors, on two backends.

No Django here: the index takes plain connection parameters and plain ids, so the knowledge
services, Celery tasks and benchmarks use the same code.

- :class:`SqliteKnowledgeIndex` — the embedded default: one SQLite file, FTS5 + sqlite-vec; large
  knowledge bases are searched in an in-memory copy of it (:mod:`~builder.knowledge.index.resident`).
- :class:`PgKnowledgeIndex` — production: PostgreSQL full text with BM25 in SQL, pgvector HNSW;
  large knowledge bases are ranked by BM25 in an in-memory copy of their postings.

Both satisfy :class:`KnowledgeIndex` and rank alike (same analyzer, same BM25).
:mod:`~builder.knowledge.index.fusion` fuses their rankings for hybrid retrieval.
"""

from builder.knowledge.index.analysis import Analyzer, analyze, cjk_ratio
from builder.knowledge.index.base import (
    Chunk,
    Hit,
    IndexConfigurationError,
    InvalidInput,
    KnowledgeIndex,
    KnowledgeIndexError,
    SearchFilter,
    UnknownKnowledgeBase,
    VectorDimensionError,
)
from builder.knowledge.index.fusion import (
    Coverage,
    FusionMethod,
    dense_weight_for,
    english_only_coverage,
    fuse,
    reciprocal_rank_fusion,
    weighted_score_fusion,
)
from builder.knowledge.index.pg_index import PgKnowledgeIndex
from builder.knowledge.index.sqlite_index import SqliteKnowledgeIndex

__all__ = [
    "Analyzer",
    "Chunk",
    "Coverage",
    "FusionMethod",
    "Hit",
    "IndexConfigurationError",
    "InvalidInput",
    "KnowledgeIndex",
    "KnowledgeIndexError",
    "PgKnowledgeIndex",
    "SearchFilter",
    "SqliteKnowledgeIndex",
    "UnknownKnowledgeBase",
    "VectorDimensionError",
    "analyze",
    "cjk_ratio",
    "dense_weight_for",
    "english_only_coverage",
    "fuse",
    "reciprocal_rank_fusion",
    "weighted_score_fusion",
]
