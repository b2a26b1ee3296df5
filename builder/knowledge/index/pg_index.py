"""The production knowledge index: PostgreSQL full text with BM25 scoring, and pgvector (HNSW).

Why BM25 in SQL: ``ts_rank`` is not BM25 (no IDF, no length normalisation), and a retrieval
mode must rank the same on both backends. So the index keeps what BM25 needs and FTS5 keeps for
itself: per chunk its length and term frequencies; per knowledge base its chunk count, total
length and each term's document frequency (``terms``). Formula and constants are FTS5's
(:mod:`~builder.knowledge.index.bm25`), so both backends return the same scores.

Full text: each chunk's tsvector is written from the analyzer's tokens, each token once with
positions 1…n for its n occurrences (the ``simple`` configuration without its parser, which would
re-split tokens such as Chinese words differently, and the term frequency is the number of
positions). Its GIN index finds the chunks that contain a query term; one pass over each such
chunk's tsvector (``setweight`` + ``ts_filter`` + ``unnest``) reads the frequencies of all query
terms at once, and the sum is computed in SQL.

Vectors: one table per knowledge base (``vectors_<space>``, ``vector(dimension)``) with an HNSW
cosine index; pgvector 0.6 cannot build HNSW over 2,000 dimensions, so larger vectors are
searched exactly.

Large knowledge bases (``resident_min_chunks`` chunks or more) are ranked by BM25 in an in-memory
copy of their postings (:mod:`~builder.knowledge.index.resident`): the SQL above took ~300 ms at
100k chunks (it reads the tsvector of every chunk that matches a query term), the copy a few ms,
with the same scores. Every write sets the space's ``version`` from a sequence (never reused,
even by a re-created space); a copy answers a search only when its version is the one the
search's snapshot sees, and a missing or stale one is rebuilt in the background meanwhile SQL
answers (:mod:`~builder.knowledge.index.resident_cache`). Vectors stay in pgvector.

Writers to a knowledge base take its ``spaces`` row lock first, so concurrent batches queue
instead of deadlocking on the shared document-frequency rows, and a space's versions grow in
the order its writes commit.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Collection, Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from functools import partial
from types import TracebackType
from typing import Any, LiteralString, cast
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import numpy.typing as npt
import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolTimeout

from builder.knowledge.index import bm25, resident
from builder.knowledge.index.analysis import Analyzer
from builder.knowledge.index.base import (
    FILTER_OVERFETCH,
    MIN_FILTER_FETCH,
    NO_FILTER,
    Chunk,
    Hit,
    IndexConfigurationError,
    InvalidInput,
    KnowledgeIndexError,
    PreparedChunk,
    SearchFilter,
    UnknownKnowledgeBase,
    best_hits,
    check_dimension,
    check_id,
    check_kb_id,
    check_query_dimension,
    check_search,
    check_space_vectors,
    check_vector,
    filtered_nearest,
    prepare_chunks,
    query_terms,
)
from builder.knowledge.index.resident_cache import RESIDENT_MAX_BYTES, ResidentCache

SCHEMA_VERSION = "2"
DEFAULT_SCHEMA = "knowledge_index"
# pgvector 0.6: "column cannot have more than 2000 dimensions for hnsw index".
MAX_HNSW_DIMENSION = 2000
# PostgreSQL keeps at most 256 positions of a lexeme per tsvector, so a term frequency above 256
# counts as 256 (FTS5 counts on; BM25 has long saturated by then).
MAX_POSITIONS = 256
# pgvector's default hnsw.ef_search; raised to the number of candidates a filtered search wants.
_MIN_EF_SEARCH = 40
# Knowledge bases this large are ranked by BM25 in memory (see the module docstring). Lower than
# SQLite's: PostgreSQL's BM25 in SQL is slower (10k chunks: full-text p95 60 ms), and a copy
# without vectors is small (~1 MB per 1,000 chunks of 120 words).
RESIDENT_MIN_CHUNKS = 5_000
# Rows per message when a copy is read.
_COPY_FETCH = 1_000

Cursor = psycopg.Cursor[tuple[Any, ...]]

_SCHEMA: tuple[LiteralString, ...] = (
    "CREATE SCHEMA IF NOT EXISTS {s}",
    "CREATE TABLE IF NOT EXISTS {s}.meta (key text PRIMARY KEY, value text NOT NULL)",
    "CREATE SEQUENCE IF NOT EXISTS {s}.write_version",
    """CREATE TABLE IF NOT EXISTS {s}.spaces (
        id bigserial PRIMARY KEY,  -- names the space's vector table: vectors_<id>
        kb_id text NOT NULL UNIQUE,
        dimension integer,  -- NULL: economical mode, no vector table
        chunk_count bigint NOT NULL DEFAULT 0,
        total_length bigint NOT NULL DEFAULT 0,  -- tokens in all chunks: BM25's average length
        vector_count bigint NOT NULL DEFAULT 0,
        version bigint NOT NULL DEFAULT 0  -- set from write_version by every write to the space
    )""",
    """CREATE TABLE IF NOT EXISTS {s}.chunks (
        chunk_id text PRIMARY KEY,
        kb_id text NOT NULL REFERENCES {s}.spaces (kb_id),
        document_id text NOT NULL,
        text text NOT NULL,
        metadata jsonb NOT NULL,
        length integer NOT NULL,  -- tokens, duplicates counted
        lexemes tsvector NOT NULL,  -- each token with positions 1..occurrences: its term frequency
        has_vector boolean NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS chunks_lexemes ON {s}.chunks USING gin (lexemes)",
    "CREATE INDEX IF NOT EXISTS chunks_by_document ON {s}.chunks (kb_id, document_id)",
    """CREATE TABLE IF NOT EXISTS {s}.terms (
        kb_id text NOT NULL,
        term text NOT NULL,
        df integer NOT NULL,  -- chunks of the knowledge base that contain the term
        PRIMARY KEY (kb_id, term)
    )""",
    # Finds the terms whose last chunk was just deleted without scanning the knowledge base's terms.
    "CREATE INDEX IF NOT EXISTS terms_unused ON {s}.terms (kb_id) WHERE df <= 0",
)

_HIT_COLUMNS = "c.chunk_id, c.kb_id, c.document_id, c.text, c.metadata"

_SEARCH_TEXT: LiteralString = """
WITH q AS MATERIALIZED (
    SELECT t.kb_id, t.term, p.ord,
           GREATEST(ln((s.chunk_count - t.df + 0.5)::float8 / (t.df + 0.5)), %(min_idf)s) AS idf,
           s.total_length::float8 / s.chunk_count AS avgdl
    FROM unnest(%(pair_kb_ids)s::text[], %(pair_terms)s::text[]) WITH ORDINALITY AS p(kb_id, term, ord)
    JOIN {s}.terms t ON t.kb_id = p.kb_id AND t.term = p.term
    JOIN {s}.spaces s ON s.kb_id = t.kb_id
),
-- The query's terms in each matching chunk with their frequencies: one pass over each chunk's
-- tsvector (MATERIALIZED, so the planner cannot repeat it once per query term).
matches AS MATERIALIZED (
    SELECT c.chunk_id, c.kb_id, c.length, m.lexeme AS term, cardinality(m.positions)::float8 AS tf
    FROM {s}.chunks c
    CROSS JOIN LATERAL unnest(ts_filter(setweight(c.lexemes, 'A', %(terms)s::text[]), '{{a}}')) AS m
    WHERE c.kb_id = ANY(%(kb_ids)s) AND c.lexemes @@ %(tsquery)s::tsquery {filter}
),
-- Computed as FTS5's bm25() and resident.ResidentSpace.text_scores compute it, down to the order
-- of the operations and of the sum (the query's): the same doubles, so ties are ties on every path.
scored AS (
    SELECT x.chunk_id,
           SUM(q.idf * ((x.tf * (%(k1)s + 1)) / (x.tf + %(k1)s * (1 - %(b)s + %(b)s * x.length / q.avgdl)))
               ORDER BY q.ord) AS score
    FROM matches x JOIN q ON q.kb_id = x.kb_id AND q.term = x.term
    GROUP BY x.chunk_id
    -- Ties by chunk id in code point order (COLLATE "C"), as best_hits and the copies break them,
    -- whatever the database's collation.
    ORDER BY score DESC, x.chunk_id COLLATE "C"
    LIMIT %(k)s
)
SELECT {columns}, scored.score
FROM scored JOIN {s}.chunks c ON c.chunk_id = scored.chunk_id
ORDER BY scored.score DESC, c.chunk_id COLLATE "C"
"""

# Each chunk of a space with its distinct terms and their frequencies (positions), for a copy:
# one pass over each tsvector; both arrays aggregate the same rows in the same order.
_COPY_CHUNKS: LiteralString = """
SELECT c.chunk_id, c.document_id, c.length, t.terms, t.tfs
FROM {s}.chunks c
CROSS JOIN LATERAL (
    SELECT array_agg(m.lexeme) AS terms, array_agg(cardinality(m.positions)) AS tfs FROM unnest(c.lexemes) AS m
) t
WHERE c.kb_id = %s
"""


@dataclass(frozen=True, slots=True)
class _Space:
    id: int
    kb_id: str
    dimension: int | None
    chunk_count: int
    total_length: int
    vector_count: int
    version: int


class PgKnowledgeIndex:
    """A :class:`~builder.knowledge.index.base.KnowledgeIndex` in a PostgreSQL schema (needs pgvector).

    ``dsn``: a libpq connection string or URL. ``schema``: where the tables live (created if
    missing), so the index can share the application's database. ``analyzer`` as in
    :class:`~builder.knowledge.index.sqlite_index.SqliteKnowledgeIndex`. Thread-safe through a
    connection pool of at most ``pool_size`` connections.

    ``resident_min_chunks``: knowledge bases with at least this many chunks are ranked by BM25 in
    memory (``None``: never); ``resident_max_bytes`` bounds that memory. ``resident_inline``: build
    a missing or stale copy inside the search that needs it instead of in the background (tests).
    """

    def __init__(
        self,
        dsn: str,
        *,
        schema: str = DEFAULT_SCHEMA,
        analyzer: Analyzer | None = None,
        pool_size: int = 4,
        connect_timeout_s: float = 10.0,
        resident_min_chunks: int | None = RESIDENT_MIN_CHUNKS,
        resident_max_bytes: int = RESIDENT_MAX_BYTES,
        resident_inline: bool = False,
    ):
        if not schema:
            raise InvalidInput("schema must be a non-empty name")
        self.schema = schema
        self._s = sql.Identifier(schema)
        # nextval()'s argument: the sequence's name as text.
        self._write_version = sql.Literal(sql.Identifier(schema, "write_version").as_string())
        self._copies = ResidentCache(
            min_chunks=resident_min_chunks,
            max_bytes=resident_max_bytes,
            inline=resident_inline,
            version_of=self._space_version,
            build_latest=self._build_latest,
        )
        self._pool = ConnectionPool(
            dsn,
            min_size=1,
            max_size=pool_size,
            open=False,
            timeout=connect_timeout_s,
            check=ConnectionPool.check_connection,
            name=f"knowledge-index-{schema}",
        )
        try:
            self._pool.open(wait=True, timeout=connect_timeout_s)
        except PoolTimeout as exc:
            self._pool.close()
            raise KnowledgeIndexError(f"cannot connect to PostgreSQL at {_redact(dsn)}: {exc}") from exc
        try:
            self.analyzer = self._initialise(analyzer)
        except BaseException:
            self._pool.close()
            raise

    # -- spaces ------------------------------------------------------------------------------

    def create_space(self, kb_id: str, *, dimension: int | None) -> None:
        check_kb_id(kb_id)
        check_dimension(dimension)
        with self._transaction(write=True) as cur:
            cur.execute(
                self._sql(
                    "INSERT INTO {s}.spaces (kb_id, dimension, version) VALUES (%s, %s, nextval({v})) "
                    "ON CONFLICT (kb_id) DO NOTHING RETURNING id"
                ),
                (kb_id, dimension),
            )
            inserted = cur.fetchone()
            if inserted is None:
                cur.execute(self._sql("SELECT dimension FROM {s}.spaces WHERE kb_id = %s"), (kb_id,))
                row = cur.fetchone()
                if row is not None and row[0] != dimension:
                    raise InvalidInput(
                        f"knowledge base {kb_id!r} already has an index space with dimension {row[0]}; "
                        f"drop it before re-creating it with dimension {dimension}"
                    )
                return
            if dimension is not None:
                table = self._vector_table(inserted[0])
                cur.execute(
                    sql.SQL("CREATE TABLE {t} (chunk_id text PRIMARY KEY, embedding vector({d}) NOT NULL)").format(
                        t=table, d=sql.Literal(dimension)
                    )
                )
                if dimension <= MAX_HNSW_DIMENSION:
                    cur.execute(sql.SQL("CREATE INDEX ON {t} USING hnsw (embedding vector_cosine_ops)").format(t=table))

    def drop_space(self, kb_id: str) -> None:
        check_kb_id(kb_id)
        with self._transaction(write=True) as cur:
            cur.execute(self._sql("SELECT id FROM {s}.spaces WHERE kb_id = %s FOR UPDATE"), (kb_id,))
            row = cur.fetchone()
            if row is None:
                return
            cur.execute(self._sql("DELETE FROM {s}.chunks WHERE kb_id = %s"), (kb_id,))
            cur.execute(self._sql("DELETE FROM {s}.terms WHERE kb_id = %s"), (kb_id,))
            cur.execute(sql.SQL("DROP TABLE IF EXISTS {t}").format(t=self._vector_table(row[0])))
            cur.execute(self._sql("DELETE FROM {s}.spaces WHERE id = %s"), (row[0],))
        self._copies.forget(kb_id)

    def has_space(self, kb_id: str) -> bool:
        check_kb_id(kb_id)
        with self._transaction(write=False) as cur:
            cur.execute(self._sql("SELECT 1 FROM {s}.spaces WHERE kb_id = %s"), (kb_id,))
            return cur.fetchone() is not None

    # -- writes ------------------------------------------------------------------------------

    def upsert(self, chunks: Sequence[Chunk]) -> None:
        prepared = prepare_chunks(chunks, self.analyzer)
        if not prepared:
            return
        chunk_ids = [item.chunk.id for item in prepared]
        with self._transaction(write=True) as cur:
            # A replaced chunk may live in another knowledge base: lock that one too.
            cur.execute(self._sql("SELECT DISTINCT kb_id FROM {s}.chunks WHERE chunk_id = ANY(%s)"), (chunk_ids,))
            previous_kbs = {row[0] for row in cur.fetchall()}
            spaces = self._spaces(cur, {item.chunk.kb_id for item in prepared} | previous_kbs, lock=True)
            check_space_vectors(prepared, {kb_id: space.dimension for kb_id, space in spaces.items()})
            self._remove(cur, spaces, "c.chunk_id = ANY(%(chunk_ids)s)", {"chunk_ids": chunk_ids})
            self._insert(cur, spaces, prepared)

    def delete_chunks(self, chunk_ids: Collection[str]) -> int:
        if isinstance(chunk_ids, str):
            raise InvalidInput("delete_chunks() takes a collection of chunk ids, not one string")
        if not chunk_ids:
            return 0
        ids = list(chunk_ids)
        with self._transaction(write=True) as cur:
            cur.execute(self._sql("SELECT DISTINCT kb_id FROM {s}.chunks WHERE chunk_id = ANY(%s)"), (ids,))
            spaces = self._spaces(cur, {row[0] for row in cur.fetchall()}, lock=True)
            return self._remove(cur, spaces, "c.chunk_id = ANY(%(chunk_ids)s)", {"chunk_ids": ids})

    def delete_document(self, kb_id: str, document_id: str) -> int:
        check_kb_id(kb_id)
        check_id(document_id, "document id")
        with self._transaction(write=True) as cur:
            try:
                spaces = self._spaces(cur, {kb_id}, lock=True)
            except UnknownKnowledgeBase:
                return 0
            return self._remove(cur, spaces, "c.document_id = %(document_id)s", {"document_id": document_id})

    # -- searches ----------------------------------------------------------------------------

    def search_text(
        self, kb_ids: Collection[str], query: str, *, k: int = 10, filter: SearchFilter | None = None
    ) -> list[Hit]:
        kb_list = check_search(kb_ids, k)
        search_filter = filter or NO_FILTER
        terms = query_terms(query, self.analyzer)
        with self._transaction(write=False) as cur:
            spaces = self._spaces(cur, kb_list)
            if not terms or not spaces or search_filter.matches_nothing:
                return []
            cur.execute(
                self._sql("SELECT kb_id, term, df FROM {s}.terms WHERE kb_id = ANY(%s) AND term = ANY(%s)"),
                (kb_list, terms),
            )
            frequencies: dict[str, dict[str, int]] = defaultdict(dict)
            for kb_id, term, df in cur.fetchall():
                frequencies[kb_id][term] = df
            hits: list[Hit] = []
            pairs: list[tuple[str, str]] = []  # (knowledge base, term) that SQL ranks
            for kb_id, space in spaces.items():
                scored = bm25.scoring_terms(terms, frequencies[kb_id], space.chunk_count)
                if not scored:
                    continue
                copy = self._resident(cur, space)
                if copy is None:
                    pairs += [(kb_id, term) for term in scored]
                    continue
                idfs = [bm25.idf(space.chunk_count, frequencies[kb_id][term]) for term in scored]
                scores = copy.text_scores(scored, idfs)
                eligible = copy.text_candidates(scores, search_filter.document_ids)
                hits += self._resident_hits(cur, copy, scores, eligible, k, search_filter)
            if pairs:
                hits += self._ranked_in_sql(cur, pairs, k, search_filter)
            return best_hits(hits, k)

    def search_vector(
        self, kb_ids: Collection[str], vector: Sequence[float], *, k: int = 10, filter: SearchFilter | None = None
    ) -> list[Hit]:
        kb_list = check_search(kb_ids, k)
        search_filter = filter or NO_FILTER
        values = check_vector(vector, None, what="query vector")
        with self._transaction(write=False) as cur:
            spaces = self._spaces(cur, kb_list)
            for space in spaces.values():
                check_query_dimension(space.kb_id, space.dimension, len(values))
            if search_filter.matches_nothing:
                return []
            literal = _vector_literal(values)
            hits: list[Hit] = []
            for space in spaces.values():
                hits += filtered_nearest(
                    k=k,
                    vector_count=space.vector_count,
                    search_filter=search_filter,
                    nearest=partial(self._nearest, cur, space, literal, search_filter),
                    exhaustive=partial(self._exhaustive, cur, space, literal, search_filter, k),
                )
            return best_hits(hits, k)

    # -- lifecycle ---------------------------------------------------------------------------

    def warm(self, kb_ids: Collection[str]) -> None:
        """Build the in-memory copies of these knowledge bases now (those large enough to have one),
        rather than in the background after their first search: for start-up and benchmarks."""
        kb_list = check_search(kb_ids, 1)
        with self._transaction(write=False) as cur:
            for space in self._spaces(cur, kb_list).values():
                if self._copies.wants(space) and self._copies.fresh(space) is None:
                    self._copies.store(space.kb_id, self._build_resident(cur, space))

    def close(self) -> None:
        self._copies.close()  # first: a build in progress holds a pooled connection
        self._pool.close()

    def __enter__(self) -> PgKnowledgeIndex:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------------

    def _sql(self, template: LiteralString, **parts: sql.Composable) -> sql.Composed:
        """``template`` with ``{s}`` the schema and ``{v}`` the name of its version sequence."""
        return sql.SQL(template).format(s=self._s, v=self._write_version, **parts)

    def _vector_table(self, space_id: int) -> sql.Identifier:
        return sql.Identifier(self.schema, f"vectors_{space_id}")

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[Cursor]:
        """One transaction, committed on success. Reads see one snapshot (REPEATABLE READ), so a
        search over several statements never sees half of a batch."""
        with self._pool.connection() as connection, connection.transaction(), connection.cursor() as cur:
            if not write:
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield cur

    def _initialise(self, analyzer: Analyzer | None) -> Analyzer:
        with self._transaction(write=True) as cur:
            # Two processes starting at once must not both run CREATE … IF NOT EXISTS (it races).
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"agentloom.knowledge_index.{self.schema}",))
            cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'")
            if cur.fetchone() is None:
                try:
                    with cur.connection.transaction():
                        cur.execute("CREATE EXTENSION IF NOT EXISTS vector")
                except psycopg.Error as exc:
                    raise IndexConfigurationError(
                        "the PostgreSQL knowledge index needs the pgvector extension "
                        f"(CREATE EXTENSION vector) and could not create it: {exc}"
                    ) from exc
            for statement in _SCHEMA:
                cur.execute(self._sql(statement))
            cur.execute(self._sql("SELECT value FROM {s}.meta WHERE key = 'schema_version'"))
            if cur.fetchone() == ("1",):
                # Version 2 added spaces.version (what an in-memory copy checks); nothing else changed.
                cur.execute(
                    self._sql("ALTER TABLE {s}.spaces ADD COLUMN IF NOT EXISTS version bigint NOT NULL DEFAULT 0")
                )
                cur.execute(self._sql("UPDATE {s}.spaces SET version = nextval({v})"))
                cur.execute(self._sql("UPDATE {s}.meta SET value = %s WHERE key = 'schema_version'"), (SCHEMA_VERSION,))
            # Keep the tsvector in the row (compressed if need be) and move the text out first:
            # scoring reads the tsvector of every candidate, and a TOAST fetch each time tripled
            # the cost. (ALTER only once: it locks the table.)
            cur.execute(
                "SELECT attstorage FROM pg_attribute WHERE attrelid = %s::regclass AND attname = 'lexemes'",
                (f"{sql.Identifier(self.schema).as_string(cur)}.chunks",),
            )
            row = cur.fetchone()
            if row is not None and row[0] != "m":
                cur.execute(self._sql("ALTER TABLE {s}.chunks ALTER COLUMN lexemes SET STORAGE MAIN"))
            cur.execute(self._sql("SELECT key, value FROM {s}.meta"))
            meta = dict(cur.fetchall())
            if not meta:
                chosen = analyzer or Analyzer.JIEBA
                cur.executemany(
                    self._sql("INSERT INTO {s}.meta (key, value) VALUES (%s, %s)"),
                    [("schema_version", SCHEMA_VERSION), ("analyzer", chosen.value)],
                )
                return chosen
        if meta.get("schema_version") != SCHEMA_VERSION:
            raise IndexConfigurationError(
                f"schema {self.schema!r}: index schema version {meta.get('schema_version')!r}, "
                f"this code reads {SCHEMA_VERSION}"
            )
        stored = Analyzer(meta["analyzer"])
        if analyzer is not None and analyzer is not stored:
            raise IndexConfigurationError(
                f"schema {self.schema!r} was indexed with the {stored.value!r} analyzer, not {analyzer.value!r}: "
                "open it with the same analyzer or rebuild it"
            )
        return stored

    def _spaces(self, cur: Cursor, kb_ids: Collection[str], *, lock: bool = False) -> dict[str, _Space]:
        # Locking in kb_id order: two writers that need the same knowledge bases cannot deadlock.
        query = (
            "SELECT id, kb_id, dimension, chunk_count, total_length, vector_count, version FROM {s}.spaces "
            "WHERE kb_id = ANY(%s) ORDER BY kb_id"
        )
        cur.execute(self._sql(query + " FOR UPDATE" if lock else query), (sorted(kb_ids),))
        spaces = {row[1]: _Space(*row) for row in cur.fetchall()}
        missing = set(kb_ids) - spaces.keys()
        if missing:
            raise UnknownKnowledgeBase(missing)
        return spaces

    def _insert(self, cur: Cursor, spaces: Mapping[str, _Space], prepared: Sequence[PreparedChunk]) -> None:
        cur.executemany(
            self._sql(
                "INSERT INTO {s}.chunks (chunk_id, kb_id, document_id, text, metadata, length, lexemes, has_vector) "
                "VALUES (%s, %s, %s, %s, %s::jsonb, %s, %s::tsvector, %s)"
            ),
            [
                (
                    item.chunk.id,
                    item.chunk.kb_id,
                    item.chunk.document_id,
                    item.chunk.text,
                    item.metadata_json,
                    len(item.tokens),
                    _tsvector_literal(item.term_freqs),
                    item.vector is not None,
                )
                for item in prepared
            ],
        )
        document_frequency: Counter[tuple[str, str]] = Counter()
        stats: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        vectors: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for item in prepared:
            kb_id = item.chunk.kb_id
            document_frequency.update((kb_id, term) for term in item.term_freqs)
            stats[kb_id][0] += 1
            stats[kb_id][1] += len(item.tokens)
            if item.vector is not None:
                stats[kb_id][2] += 1
                vectors[kb_id].append((item.chunk.id, _vector_literal(item.vector)))
        for kb_id, rows in vectors.items():
            cur.executemany(
                sql.SQL("INSERT INTO {t} (chunk_id, embedding) VALUES (%s, %s::vector)").format(
                    t=self._vector_table(spaces[kb_id].id)
                ),
                rows,
            )
        keys = sorted(document_frequency)
        cur.execute(
            self._sql(
                "INSERT INTO {s}.terms (kb_id, term, df) SELECT * FROM unnest(%s::text[], %s::text[], %s::int[]) "
                "ON CONFLICT (kb_id, term) DO UPDATE SET df = {s}.terms.df + EXCLUDED.df"
            ),
            ([kb for kb, _ in keys], [term for _, term in keys], [document_frequency[key] for key in keys]),
        )
        cur.executemany(
            self._sql(
                "UPDATE {s}.spaces SET chunk_count = chunk_count + %s, total_length = total_length + %s, "
                "vector_count = vector_count + %s, version = nextval({v}) WHERE kb_id = %s"
            ),
            [(*counts, kb_id) for kb_id, counts in sorted(stats.items())],
        )

    def _remove(self, cur: Cursor, spaces: Mapping[str, _Space], where: LiteralString, params: dict[str, Any]) -> int:
        """Delete the chunks ``where`` selects (over ``chunks c``) within the locked ``spaces``,
        with their vectors and their share of the BM25 statistics; returns how many."""
        if not spaces:
            return 0
        params = {**params, "kb_ids": sorted(spaces)}
        condition = self._sql("c.kb_id = ANY(%(kb_ids)s) AND " + where)
        cur.execute(
            sql.SQL(
                "SELECT c.kb_id, count(*), COALESCE(sum(c.length), 0), count(*) FILTER (WHERE c.has_vector) "
                "FROM {s}.chunks c WHERE {condition} GROUP BY c.kb_id"
            ).format(s=self._s, condition=condition),
            params,
        )
        removed = cur.fetchall()
        if not removed:
            return 0
        cur.execute(
            sql.SQL(
                "UPDATE {s}.terms t SET df = t.df - g.n FROM ("
                "SELECT c.kb_id, k.term, count(*) AS n FROM {s}.chunks c "
                "CROSS JOIN LATERAL unnest(tsvector_to_array(c.lexemes)) AS k(term) WHERE {condition} GROUP BY 1, 2"
                ") g WHERE t.kb_id = g.kb_id AND t.term = g.term"
            ).format(s=self._s, condition=condition),
            params,
        )
        cur.execute(self._sql("DELETE FROM {s}.terms WHERE kb_id = ANY(%(kb_ids)s) AND df <= 0"), params)
        for kb_id, _, _, vector_count in removed:
            if vector_count:
                cur.execute(
                    sql.SQL(
                        "DELETE FROM {t} v USING {s}.chunks c WHERE v.chunk_id = c.chunk_id AND {condition}"
                    ).format(t=self._vector_table(spaces[kb_id].id), s=self._s, condition=condition),
                    params,
                )
        cur.execute(
            sql.SQL("DELETE FROM {s}.chunks c WHERE {condition}").format(s=self._s, condition=condition), params
        )
        cur.executemany(
            self._sql(
                "UPDATE {s}.spaces SET chunk_count = chunk_count - %s, total_length = total_length - %s, "
                "vector_count = vector_count - %s, version = nextval({v}) WHERE kb_id = %s"
            ),
            [(count, length, vector_count, kb_id) for kb_id, count, length, vector_count in removed],
        )
        return sum(row[1] for row in removed)

    def _ranked_in_sql(
        self, cur: Cursor, pairs: Sequence[tuple[str, str]], k: int, search_filter: SearchFilter
    ) -> list[Hit]:
        """The ``k`` best chunks by BM25 computed in SQL, over each knowledge base's scoring terms."""
        scored = list(dict.fromkeys(term for _, term in pairs))
        condition, params = _filter_sql(search_filter)
        cur.execute(
            self._sql(_SEARCH_TEXT, columns=sql.SQL(_HIT_COLUMNS), filter=condition),
            {
                **params,
                "kb_ids": sorted({kb_id for kb_id, _ in pairs}),
                "pair_kb_ids": [kb_id for kb_id, _ in pairs],
                "pair_terms": [term for _, term in pairs],
                "terms": scored,
                "tsquery": " | ".join(_tsquery_lexeme(term) for term in scored),
                "min_idf": bm25.MIN_IDF,
                "k1": bm25.K1,
                "b": bm25.B,
                "k": k,
            },
        )
        return [_hit(row) for row in cur.fetchall()]

    def _resident(self, cur: Cursor, space: _Space) -> resident.ResidentSpace | None:
        """The in-memory copy that can answer for ``space`` as this transaction sees it, if any."""
        return self._copies.lookup(space, partial(self._build_resident, cur, space))

    def _build_resident(self, cur: Cursor, space: _Space) -> resident.ResidentSpace:
        """A copy of ``space`` as the caller's (read) transaction sees it; BM25's average length as
        the SQL ranking computes it, from ``spaces``."""
        # Streamed, not fetched: not 100k chunks' terms in memory at once, and PostgreSQL reads the
        # next rows while these are indexed (a server-side cursor waits for each batch: 1.6x slower).
        size = _COPY_FETCH if psycopg.capabilities.has_stream_chunked() else 1
        rows = cast(
            Generator[tuple[Any, ...]], cur.stream(self._sql(_COPY_CHUNKS), (space.kb_id,), binary=True, size=size)
        )
        with closing(rows):  # a build that stops early cancels the query, which else keeps the connection busy
            return resident.build(
                _chunk_terms(rows),
                version=space.version,
                average_length=space.total_length / space.chunk_count if space.chunk_count else None,
                cancelled=self._copies.cancelled,
            )

    def _build_latest(self, kb_id: str) -> resident.ResidentSpace | None:
        with self._transaction(write=False) as cur:
            space = self._spaces(cur, [kb_id])[kb_id]
            if not self._copies.wants(space):
                return None
            return self._build_resident(cur, space)

    def _space_version(self, kb_id: str) -> int | None:
        with self._transaction(write=False) as cur:
            cur.execute(self._sql("SELECT version FROM {s}.spaces WHERE kb_id = %s"), (kb_id,))
            row = cur.fetchone()
        return None if row is None else int(row[0])

    def _resident_hits(
        self,
        cur: Cursor,
        copy: resident.ResidentSpace,
        scores: npt.NDArray[np.float64],
        eligible: npt.NDArray[np.bool_],
        k: int,
        search_filter: SearchFilter,
    ) -> list[Hit]:
        """The hits of the ``k`` best eligible rows of ``copy`` by ``scores``; a metadata filter,
        which the copy does not hold, is checked in SQL on the best candidates."""
        metadata_condition, metadata_params = _filter_sql(SearchFilter(metadata=search_filter.metadata))

        def passing(order: npt.NDArray[np.intp]) -> set[int]:
            wanted = dict(zip(copy.keys[order].tolist(), order.tolist(), strict=True))
            cur.execute(
                self._sql(
                    "SELECT c.chunk_id FROM {s}.chunks c WHERE c.chunk_id = ANY(%(ids)s) {filter}",
                    filter=metadata_condition,
                ),
                {**metadata_params, "ids": list(wanted)},
            )
            return {wanted[row[0]] for row in cur.fetchall()}

        best = resident.ranked_rows(
            scores,
            eligible,
            k,
            first_fetch=max(k * FILTER_OVERFETCH, MIN_FILTER_FETCH),
            passing=passing if search_filter.metadata else None,
        )
        # Keys are chunk ids: ties at the k-th are broken here, as best_hits breaks them.
        ranked = sorted(zip(scores[best].tolist(), copy.keys[best].tolist(), strict=True), key=lambda p: (-p[0], p[1]))
        scored = {chunk_id: score for score, chunk_id in ranked[:k]}
        if not scored:
            return []
        cur.execute(
            self._sql("SELECT {columns} FROM {s}.chunks c WHERE c.chunk_id = ANY(%s)", columns=sql.SQL(_HIT_COLUMNS)),
            (list(scored),),
        )
        return best_hits((_hit((*row, scored[row[0]])) for row in cur.fetchall()), k)

    def _nearest(self, cur: Cursor, space: _Space, vector: str, search_filter: SearchFilter, fetch: int) -> list[Hit]:
        condition, params = _filter_sql(search_filter)
        # HNSW returns at most ef_search rows: ask for as many candidates as the filter needs.
        cur.execute("SELECT set_config('hnsw.ef_search', %s, true)", (str(max(fetch, _MIN_EF_SEARCH)),))
        cur.execute(
            sql.SQL(
                "WITH knn AS MATERIALIZED (SELECT chunk_id, embedding <=> %(vector)s::vector AS distance FROM {t} "
                "ORDER BY embedding <=> %(vector)s::vector LIMIT %(fetch)s) "
                "SELECT {columns}, 1 - knn.distance AS score FROM knn JOIN {s}.chunks c ON c.chunk_id = knn.chunk_id "
                "WHERE TRUE {filter} ORDER BY score DESC, c.chunk_id"
            ).format(t=self._vector_table(space.id), s=self._s, columns=sql.SQL(_HIT_COLUMNS), filter=condition),
            {**params, "vector": vector, "fetch": fetch},
        )
        return [_hit(row) for row in cur.fetchall()]

    def _exhaustive(self, cur: Cursor, space: _Space, vector: str, search_filter: SearchFilter, k: int) -> list[Hit]:
        condition, params = _filter_sql(search_filter)
        # Ordered by similarity, not by the ``<=>`` distance the HNSW index serves: an exact scan
        # of the rows the filter lets through.
        cur.execute(
            sql.SQL(
                "SELECT {columns}, 1 - (v.embedding <=> %(vector)s::vector) AS score "
                "FROM {t} v JOIN {s}.chunks c ON c.chunk_id = v.chunk_id "
                "WHERE TRUE {filter} ORDER BY score DESC, c.chunk_id LIMIT %(k)s"
            ).format(t=self._vector_table(space.id), s=self._s, columns=sql.SQL(_HIT_COLUMNS), filter=condition),
            {**params, "vector": vector, "k": k},
        )
        return [_hit(row) for row in cur.fetchall()]


def _filter_sql(search_filter: SearchFilter) -> tuple[sql.SQL, dict[str, Any]]:
    """``AND …`` conditions on ``chunks c`` and their named parameters."""
    conditions: list[LiteralString] = []
    params: dict[str, Any] = {}
    if search_filter.document_ids is not None:
        # Not ``= ANY(%s)``: psycopg prepares a statement after five runs, PostgreSQL may then use
        # one generic plan for any parameters, and there the array is not hashed: each row is
        # compared with every allowed id (5,000 ready documents: 4.4 s a search instead of 0.1 s).
        # A subquery's set is hashed in either plan.
        conditions.append("AND c.document_id IN (SELECT unnest(%(document_ids)s::text[]))")
        params["document_ids"] = sorted(search_filter.document_ids)
    if search_filter.metadata:
        # jsonb containment of scalars is JSON equality: 1 = 1.0, true <> 1, "1" <> 1.
        conditions.append("AND c.metadata @> %(metadata)s::jsonb")
        params["metadata"] = json.dumps(dict(search_filter.metadata), ensure_ascii=False)
    return sql.SQL(" ".join(conditions)), params


def _chunk_terms(rows: Iterable[tuple[Any, ...]]) -> Iterator[resident.ChunkTerms]:
    """Rows of ``_COPY_CHUNKS`` for :func:`resident.build` (a chunk without tokens has no arrays)."""
    for chunk_id, document_id, length, terms, tfs in rows:
        yield chunk_id, document_id, length, terms or (), tfs or ()


def _tsvector_literal(term_freqs: Mapping[str, int]) -> str:
    """Each term once, with positions 1…n for n occurrences: the tsvector stores what BM25 needs
    (a term's frequency is its number of positions) and is taken as written, with no parser."""
    return " ".join(
        f"{_quoted(term)}:{','.join(map(str, range(1, min(count, MAX_POSITIONS) + 1)))}"
        for term, count in term_freqs.items()
    )


def _tsquery_lexeme(term: str) -> str:
    """A term as a quoted tsquery lexeme, taken as-is (no parser, no normalisation)."""
    return _quoted(term)


def _quoted(term: str) -> str:
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


def _vector_literal(values: Sequence[float]) -> str:
    return "[" + ",".join(repr(value) for value in values) + "]"


def _hit(row: Sequence[Any]) -> Hit:
    chunk_id, kb_id, document_id, text, metadata, score = row
    return Hit(
        chunk_id=chunk_id, kb_id=kb_id, document_id=document_id, score=float(score), text=text, metadata=metadata
    )


def _redact(dsn: str) -> str:
    parts = urlsplit(dsn)
    if not parts.scheme or parts.password is None:
        return dsn if "password" not in dsn else "(connection string with a password)"
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)))
