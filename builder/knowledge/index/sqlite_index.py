"""The embedded knowledge index: one SQLite file with FTS5 (BM25) and sqlite-vec (cosine KNN).

Layout: ``chunks`` holds every chunk's ids and metadata, ``chunk_texts`` its text (apart, so
that ``chunks`` stays narrow: ranking joins it once per matching chunk, and at 100k chunks the
text inline doubled the cost of that join); each knowledge base ("space") gets its own FTS5
table ``fts_<space>`` and, in high-quality mode, its own ``vec0`` table ``vec_<space>``, all
keyed by the chunk's integer rowid. Per-space tables give each knowledge base its own BM25
statistics (document frequency and average length are those of the knowledge base, as in the
PostgreSQL backend) and its own vector dimension. ``terms`` and ``spaces.chunk_count`` keep the
document frequencies :func:`~builder.knowledge.index.bm25.scoring_terms` needs at query time.

Large knowledge bases (``resident_min_chunks`` chunks or more) are searched in an in-memory copy
(:mod:`~builder.knowledge.index.resident`): FTS5 and sqlite-vec took ~70 and ~46 ms at 100k
chunks, the copy ~1 and ~8 ms, with the same scores. Every write sets the space's ``version``
(from a counter in ``meta``, so a version is never reused, even by a re-created space); a copy
answers a search only when its version is the one the search's snapshot sees. A stale or missing
copy is rebuilt in a background thread (:mod:`~builder.knowledge.index.resident_cache`), and
meanwhile FTS5 and sqlite-vec answer: the copy changes how fast, never what.

Threads: one connection per thread. WAL lets readers run while a batch is written, which a
single shared connection behind a lock would serialise; writers queue on SQLite's own lock
(``BEGIN IMMEDIATE`` + a busy timeout).
"""

from __future__ import annotations

import json
import os
import sqlite3
import struct
import threading
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from types import ModuleType, TracebackType
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import sqlite_vec  # type: ignore[import-untyped]

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
from builder.knowledge.index.bm25 import scoring_terms
from builder.knowledge.index.resident_cache import RESIDENT_MAX_BYTES, ResidentCache

SCHEMA_VERSION = "2"
# Knowledge bases this large are searched in memory (see the module docstring); below it FTS5 and
# sqlite-vec answer in a few ms (10k chunks: hybrid p95 18 ms).
RESIDENT_MIN_CHUNKS = 20_000

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS spaces (
        id INTEGER PRIMARY KEY,  -- names the space's tables: fts_<id>, vec_<id>
        kb_id TEXT NOT NULL UNIQUE,
        dimension INTEGER,  -- NULL: economical mode, no vector table
        chunk_count INTEGER NOT NULL DEFAULT 0,
        vector_count INTEGER NOT NULL DEFAULT 0,
        version INTEGER NOT NULL DEFAULT 0  -- set from meta.write_version by every write
    )""",
    """CREATE TABLE IF NOT EXISTS chunks (
        id INTEGER PRIMARY KEY,  -- the rowid of the chunk in chunk_texts, fts_<space> and vec_<space>
        chunk_id TEXT NOT NULL UNIQUE,
        kb_id TEXT NOT NULL,
        document_id TEXT NOT NULL,
        metadata TEXT NOT NULL,  -- a JSON object
        has_vector INTEGER NOT NULL
    )""",
    "CREATE TABLE IF NOT EXISTS chunk_texts (id INTEGER PRIMARY KEY, text TEXT NOT NULL)",
    # Chunks of the space that contain the term (see bm25.scoring_terms). FTS5 can count them
    # (fts5vocab) but walks the term's whole doclist to do it: 10+ ms a query at 100k chunks.
    """CREATE TABLE IF NOT EXISTS terms (
        space_id INTEGER NOT NULL,
        term TEXT NOT NULL,
        df INTEGER NOT NULL,
        PRIMARY KEY (space_id, term)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS chunks_by_document ON chunks (kb_id, document_id)",
)
# Tokens come pre-analysed and space-joined. unicode61 splits them only at spaces (they hold
# letters and digits only); remove_diacritics 0 because the analyzer already normalised them.
_FTS_TOKENIZER = "unicode61 remove_diacritics 0"
_HIT_COLUMNS = "c.chunk_id, c.kb_id, c.document_id, t.text, c.metadata"
_TEXT_JOIN = "JOIN chunk_texts t ON t.id = c.id"


def sqlite_driver() -> ModuleType:
    """The DB-API module: the standard ``sqlite3`` when it can load extensions, else ``sqlean``.

    sqlite-vec is a loadable extension, and Pythons built without
    ``--enable-loadable-sqlite-extensions`` (pyenv's and macOS's defaults) cannot load it.
    ``sqlean.py`` is the same ``sqlite3`` module compiled with a recent SQLite that can.
    """
    if hasattr(sqlite3.Connection, "enable_load_extension"):
        return sqlite3
    import sqlean  # type: ignore[import-untyped]

    return cast(ModuleType, sqlean)


@dataclass(frozen=True, slots=True)
class _Space:
    id: int
    kb_id: str
    dimension: int | None
    chunk_count: int
    vector_count: int
    version: int


class SqliteKnowledgeIndex:
    """A :class:`~builder.knowledge.index.base.KnowledgeIndex` in one SQLite file (WAL mode).

    ``analyzer``: how Chinese is tokenised; ``None`` takes the one the file was built with
    (:attr:`Analyzer.JIEBA` for a new file). A different one is refused, because stored tokens
    and query tokens must come from the same analyzer.

    ``resident_min_chunks``: knowledge bases with at least this many chunks are searched in memory
    (``None``: never); ``resident_max_bytes`` bounds that memory. ``resident_inline``: build a
    missing or stale copy inside the search that needs it instead of in the background (tests).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        analyzer: Analyzer | None = None,
        timeout_s: float = 30.0,
        resident_min_chunks: int | None = RESIDENT_MIN_CHUNKS,
        resident_max_bytes: int = RESIDENT_MAX_BYTES,
        resident_inline: bool = False,
    ):
        self.path = os.fspath(path)
        self._driver = sqlite_driver()
        self._timeout_s = timeout_s
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._closed = False
        self._copies = ResidentCache(
            min_chunks=resident_min_chunks,
            max_bytes=resident_max_bytes,
            inline=resident_inline,
            version_of=self._space_version,
            build_latest=self._build_latest,
        )
        self.analyzer = self._initialise(analyzer)

    # -- spaces ------------------------------------------------------------------------------

    def create_space(self, kb_id: str, *, dimension: int | None) -> None:
        check_kb_id(kb_id)
        check_dimension(dimension)
        with self._transaction(write=True) as db:
            row = db.execute("SELECT dimension FROM spaces WHERE kb_id = ?", (kb_id,)).fetchone()
            if row is not None:
                if row[0] != dimension:
                    raise InvalidInput(
                        f"knowledge base {kb_id!r} already has an index space with dimension {row[0]}; "
                        f"drop it before re-creating it with dimension {dimension}"
                    )
                return
            space_id = db.execute("INSERT INTO spaces (kb_id, dimension) VALUES (?, ?)", (kb_id, dimension)).lastrowid
            assert space_id is not None
            self._touch(db, [space_id])
            db.execute(f"CREATE VIRTUAL TABLE fts_{space_id} USING fts5(tokens, tokenize = '{_FTS_TOKENIZER}')")
            if dimension is not None:
                db.execute(
                    f"CREATE VIRTUAL TABLE vec_{space_id} "
                    f"USING vec0(embedding float[{dimension}] distance_metric=cosine)"
                )

    def drop_space(self, kb_id: str) -> None:
        check_kb_id(kb_id)
        with self._transaction(write=True) as db:
            row = db.execute("SELECT id FROM spaces WHERE kb_id = ?", (kb_id,)).fetchone()
            if row is None:
                return
            db.execute("DELETE FROM chunk_texts WHERE id IN (SELECT id FROM chunks WHERE kb_id = ?)", (kb_id,))
            db.execute("DELETE FROM chunks WHERE kb_id = ?", (kb_id,))
            db.execute("DELETE FROM terms WHERE space_id = ?", (row[0],))
            db.execute(f"DROP TABLE fts_{row[0]}")
            db.execute(f"DROP TABLE IF EXISTS vec_{row[0]}")
            db.execute("DELETE FROM spaces WHERE id = ?", (row[0],))
        self._copies.forget(kb_id)

    def has_space(self, kb_id: str) -> bool:
        check_kb_id(kb_id)
        with self._transaction(write=False) as db:
            return db.execute("SELECT 1 FROM spaces WHERE kb_id = ?", (kb_id,)).fetchone() is not None

    # -- writes ------------------------------------------------------------------------------

    def upsert(self, chunks: Sequence[Chunk]) -> None:
        prepared = prepare_chunks(chunks, self.analyzer)
        if not prepared:
            return
        with self._transaction(write=True) as db:
            spaces = self._spaces(db, {item.chunk.kb_id for item in prepared})
            check_space_vectors(prepared, {kb_id: space.dimension for kb_id, space in spaces.items()})
            chunk_ids = json.dumps([item.chunk.id for item in prepared])
            self._remove(db, "c.chunk_id IN (SELECT value FROM json_each(?))", (chunk_ids,))
            # Rowids assigned here (under the write lock) so each table takes one executemany.
            first_id = db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM chunks").fetchone()[0]
            rows = list(enumerate(prepared, start=first_id))
            db.executemany(
                "INSERT INTO chunks (id, chunk_id, kb_id, document_id, metadata, has_vector) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        rowid,
                        item.chunk.id,
                        item.chunk.kb_id,
                        item.chunk.document_id,
                        item.metadata_json,
                        item.vector is not None,
                    )
                    for rowid, item in rows
                ],
            )
            db.executemany(
                "INSERT INTO chunk_texts (id, text) VALUES (?, ?)", [(rowid, item.chunk.text) for rowid, item in rows]
            )
            by_space = defaultdict(list)
            for rowid, item in rows:
                by_space[spaces[item.chunk.kb_id].id].append((rowid, item))
            for space_id, space_rows in by_space.items():
                db.executemany(
                    f"INSERT INTO fts_{space_id} (rowid, tokens) VALUES (?, ?)",
                    [(rowid, " ".join(item.tokens)) for rowid, item in space_rows],
                )
                vectors = [(rowid, _float32(item.vector)) for rowid, item in space_rows if item.vector is not None]
                if vectors:
                    db.executemany(f"INSERT INTO vec_{space_id} (rowid, embedding) VALUES (?, ?)", vectors)
                db.execute(
                    "UPDATE spaces SET chunk_count = chunk_count + ?, vector_count = vector_count + ? WHERE id = ?",
                    (len(space_rows), len(vectors), space_id),
                )
                frequencies = Counter(term for _, item in space_rows for term in item.term_freqs)
                db.executemany(
                    "INSERT INTO terms (space_id, term, df) VALUES (?, ?, ?) "
                    "ON CONFLICT (space_id, term) DO UPDATE SET df = df + excluded.df",
                    [(space_id, term, count) for term, count in frequencies.items()],
                )
            self._touch(db, by_space)

    def delete_chunks(self, chunk_ids: Collection[str]) -> int:
        if isinstance(chunk_ids, str):
            raise InvalidInput("delete_chunks() takes a collection of chunk ids, not one string")
        if not chunk_ids:
            return 0
        with self._transaction(write=True) as db:
            return self._remove(db, "c.chunk_id IN (SELECT value FROM json_each(?))", (json.dumps(list(chunk_ids)),))

    def delete_document(self, kb_id: str, document_id: str) -> int:
        check_kb_id(kb_id)
        check_id(document_id, "document id")
        with self._transaction(write=True) as db:
            return self._remove(db, "c.kb_id = ? AND c.document_id = ?", (kb_id, document_id))

    # -- searches ----------------------------------------------------------------------------

    def search_text(
        self, kb_ids: Collection[str], query: str, *, k: int = 10, filter: SearchFilter | None = None
    ) -> list[Hit]:
        kb_list = check_search(kb_ids, k)
        search_filter = filter or NO_FILTER
        terms = query_terms(query, self.analyzer)
        with self._transaction(write=False) as db:
            spaces = self._spaces(db, kb_list)
            if not terms or not spaces or search_filter.matches_nothing:
                return []
            selects = []
            params: dict[str, Any] = {}
            hits: list[Hit] = []
            for space in spaces.values():
                frequencies = self._document_frequency(db, space, terms)
                scored = scoring_terms(terms, frequencies, space.chunk_count)
                if not scored:
                    continue
                copy = self._resident(db, space)
                if copy is not None:
                    idfs = [bm25.idf(space.chunk_count, frequencies[term]) for term in scored]
                    scores = copy.text_scores(scored, idfs)
                    eligible = copy.text_candidates(scores, search_filter.document_ids)
                    hits += self._resident_hits(db, copy.keys, scores, eligible, k, search_filter)
                    continue
                # FTS5's bm25() is negative, lower is better; negated so every score grows with relevance.
                selects.append(
                    f"SELECT c.id, c.chunk_id, -bm25(fts_{space.id}) AS score "
                    f"FROM fts_{space.id} JOIN chunks c ON c.id = fts_{space.id}.rowid "
                    f"WHERE fts_{space.id} MATCH :match{space.id}{{where}}"
                )
                params[f"match{space.id}"] = " OR ".join(_fts_phrase(term) for term in scored)
            if selects:
                where, filter_params = _filter_sql(search_filter)
                selects = [select.format(where=where) for select in selects]
                params.update(filter_params, k=k)
                # Rank first, then read the text of the k best only.
                rows = db.execute(
                    f"WITH ranked AS ({' UNION ALL '.join(selects)} ORDER BY score DESC, chunk_id LIMIT :k) "
                    f"SELECT {_HIT_COLUMNS}, ranked.score FROM ranked JOIN chunks c ON c.id = ranked.id {_TEXT_JOIN} "
                    "ORDER BY ranked.score DESC, c.chunk_id",
                    params,
                )
                hits += [_hit(row) for row in rows]
            return best_hits(hits, k)

    def search_vector(
        self, kb_ids: Collection[str], vector: Sequence[float], *, k: int = 10, filter: SearchFilter | None = None
    ) -> list[Hit]:
        kb_list = check_search(kb_ids, k)
        search_filter = filter or NO_FILTER
        values = check_vector(vector, None, what="query vector")
        with self._transaction(write=False) as db:
            spaces = self._spaces(db, kb_list)
            for space in spaces.values():
                check_query_dimension(space.kb_id, space.dimension, len(values))
            if search_filter.matches_nothing:
                return []
            blob = _float32(values)
            hits: list[Hit] = []
            for space in spaces.values():
                copy = self._resident(db, space)
                if copy is not None and copy.vectors is not None:
                    scores = copy.vector_scores(values)
                    document_rows = copy.document_rows(search_filter.document_ids)
                    eligible = resident.allowed(
                        np.ones(len(scores), dtype=np.bool_),
                        None if document_rows is None else document_rows[copy.vector_rows],
                    )
                    keys = copy.keys[copy.vector_rows]
                    hits += self._resident_hits(db, keys, scores, eligible, k, search_filter)
                    continue
                hits += filtered_nearest(
                    k=k,
                    vector_count=space.vector_count,
                    search_filter=search_filter,
                    nearest=partial(self._nearest, db, space, blob, search_filter),
                    exhaustive=partial(self._exhaustive, db, space, blob, search_filter, k),
                )
            return best_hits(hits, k)

    # -- lifecycle ---------------------------------------------------------------------------

    def warm(self, kb_ids: Collection[str]) -> None:
        """Build the in-memory copies of these knowledge bases now (those large enough to have one),
        rather than in the background after their first search: for start-up and benchmarks."""
        kb_list = check_search(kb_ids, 1)
        with self._transaction(write=False) as db:
            for space in self._spaces(db, kb_list).values():
                if self._copies.wants(space) and self._copies.fresh(space) is None:
                    self._copies.store(space.kb_id, self._build_resident(db, space))

    def close(self) -> None:
        """Close every thread's connection; the index cannot be used afterwards."""
        self._copies.close()
        with self._connections_lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()

    def __enter__(self) -> SqliteKnowledgeIndex:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------------

    def _initialise(self, analyzer: Analyzer | None) -> Analyzer:
        with self._transaction(write=True) as db:
            for statement in _SCHEMA:
                db.execute(statement)
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
            if not meta:
                chosen = analyzer or Analyzer.JIEBA
                db.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [("schema_version", SCHEMA_VERSION), ("analyzer", chosen.value), ("write_version", "0")],
                )
                return chosen
            if meta.get("schema_version") == "1":
                # Version 2 added spaces.version (what an in-memory copy checks); nothing else changed.
                db.execute("ALTER TABLE spaces ADD COLUMN version INTEGER NOT NULL DEFAULT 0")
                db.execute("INSERT INTO meta (key, value) VALUES ('write_version', '0')")
                db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (SCHEMA_VERSION,))
                meta["schema_version"] = SCHEMA_VERSION
        if meta.get("schema_version") != SCHEMA_VERSION:
            raise IndexConfigurationError(
                f"{self.path}: index schema version {meta.get('schema_version')!r}, this code reads {SCHEMA_VERSION}"
            )
        stored = Analyzer(meta["analyzer"])
        if analyzer is not None and analyzer is not stored:
            raise IndexConfigurationError(
                f"{self.path} was indexed with the {stored.value!r} analyzer, not {analyzer.value!r}: "
                "open it with the same analyzer or rebuild it"
            )
        return stored

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: transactions are explicit (BEGIN … COMMIT in _transaction).
        # check_same_thread=False only so close() may close it from another thread.
        connection = cast(
            sqlite3.Connection,
            self._driver.connect(self.path, timeout=self._timeout_s, isolation_level=None, check_same_thread=False),
        )
        try:
            connection.enable_load_extension(True)
            sqlite_vec.load(connection)
            connection.enable_load_extension(False)
            connection.execute("PRAGMA journal_mode = WAL")
            # 64 MB of page cache (default 2 MB): ranking visits FTS doclists and the chunks table
            # all over; at 100k chunks a small cache made every visit a read() from the OS.
            connection.execute("PRAGMA cache_size = -65536")
        except self._driver.Error as exc:
            connection.close()
            raise IndexConfigurationError(f"cannot open {self.path} with sqlite-vec: {exc}") from exc
        return connection

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if self._closed:
            raise KnowledgeIndexError(f"the knowledge index {self.path} is closed")
        if connection is None:
            connection = self._connect()
            with self._connections_lock:
                self._connections.append(connection)
            self._local.connection = connection
        return connection

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        """One transaction: readers see one snapshot; a writer holds the write lock from the start
        (IMMEDIATE), so two writers queue instead of failing to upgrade a read lock."""
        connection = self._connection()
        connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield connection
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise

    def _spaces(self, db: sqlite3.Connection, kb_ids: Collection[str]) -> dict[str, _Space]:
        rows = db.execute(
            "SELECT id, kb_id, dimension, chunk_count, vector_count, version FROM spaces "
            "WHERE kb_id IN (SELECT value FROM json_each(?)) ORDER BY kb_id",
            (json.dumps(list(kb_ids)),),
        ).fetchall()
        spaces = {row[1]: _Space(*row) for row in rows}
        missing = set(kb_ids) - spaces.keys()
        if missing:
            raise UnknownKnowledgeBase(missing)
        return spaces

    def _document_frequency(self, db: sqlite3.Connection, space: _Space, terms: Sequence[str]) -> dict[str, int]:
        rows = db.execute(
            "SELECT term, df FROM terms WHERE space_id = ? AND term IN (SELECT value FROM json_each(?))",
            (space.id, json.dumps(list(terms))),
        )
        return dict(rows.fetchall())

    def _remove(self, db: sqlite3.Connection, where: str, params: Sequence[Any]) -> int:
        """Delete the chunks ``where`` selects (over ``chunks c``) from every table; returns the count."""
        rows = db.execute(
            f"SELECT c.id, s.id, c.has_vector FROM chunks c JOIN spaces s ON s.kb_id = c.kb_id WHERE {where}", params
        ).fetchall()
        by_space: dict[int, list[tuple[int, bool]]] = defaultdict(list)
        for rowid, space_id, has_vector in rows:
            by_space[space_id].append((rowid, bool(has_vector)))
        for space_id, space_rows in by_space.items():
            self._forget_terms(db, space_id, [rowid for rowid, _ in space_rows])
            # Point deletes: a virtual table does not use an index for ``rowid IN (…)``.
            db.executemany(f"DELETE FROM fts_{space_id} WHERE rowid = ?", [(rowid,) for rowid, _ in space_rows])
            with_vector = [(rowid,) for rowid, has_vector in space_rows if has_vector]
            if with_vector:
                db.executemany(f"DELETE FROM vec_{space_id} WHERE rowid = ?", with_vector)
            db.execute(
                "UPDATE spaces SET chunk_count = chunk_count - ?, vector_count = vector_count - ? WHERE id = ?",
                (len(space_rows), len(with_vector), space_id),
            )
        self._touch(db, by_space)
        db.executemany("DELETE FROM chunk_texts WHERE id = ?", [(row[0],) for row in rows])
        db.executemany("DELETE FROM chunks WHERE id = ?", [(row[0],) for row in rows])
        return len(rows)

    def _forget_terms(self, db: sqlite3.Connection, space_id: int, rowids: Sequence[int]) -> None:
        """Take the chunks' terms out of the space's document frequencies (before they leave FTS)."""
        frequencies: Counter[str] = Counter()
        for rowid in rowids:  # point lookups, as in _remove
            row = db.execute(f"SELECT tokens FROM fts_{space_id} WHERE rowid = ?", (rowid,)).fetchone()
            frequencies.update(set(row[0].split()))
        rows = [(count, space_id, term) for term, count in frequencies.items()]
        db.executemany("UPDATE terms SET df = df - ? WHERE space_id = ? AND term = ?", rows)
        db.executemany("DELETE FROM terms WHERE space_id = ? AND term = ? AND df <= 0", [row[1:] for row in rows])

    def _touch(self, db: sqlite3.Connection, space_ids: Iterable[int]) -> None:
        """Give the spaces a write just changed a new version (in the writer's transaction)."""
        ids = list(space_ids)
        if not ids:
            return
        db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'write_version'")
        version = int(db.execute("SELECT value FROM meta WHERE key = 'write_version'").fetchone()[0])
        db.execute(
            "UPDATE spaces SET version = ? WHERE id IN (SELECT value FROM json_each(?))", (version, json.dumps(ids))
        )

    # -- in-memory copies --------------------------------------------------------------------

    def _resident(self, db: sqlite3.Connection, space: _Space) -> resident.ResidentSpace | None:
        """The in-memory copy that can answer for ``space`` as this transaction sees it, if any."""
        return self._copies.lookup(space, partial(self._build_resident, db, space))

    def _build_resident(self, db: sqlite3.Connection, space: _Space) -> resident.ResidentSpace:
        return resident.build(
            _chunk_terms(db, space.id),
            version=space.version,
            vectors=None if space.dimension is None else _vectors(db, space.id),
            dimension=space.dimension,
            cancelled=self._copies.cancelled,
        )

    def _build_latest(self, kb_id: str) -> resident.ResidentSpace | None:
        with self._transaction(write=False) as db:
            space = self._spaces(db, [kb_id])[kb_id]
            if not self._copies.wants(space):
                return None
            return self._build_resident(db, space)

    def _space_version(self, kb_id: str) -> int | None:
        with self._transaction(write=False) as db:
            row = db.execute("SELECT version FROM spaces WHERE kb_id = ?", (kb_id,)).fetchone()
        return None if row is None else int(row[0])

    def _resident_hits(
        self,
        db: sqlite3.Connection,
        rowids: npt.NDArray[Any],
        scores: npt.NDArray[np.float64],
        eligible: npt.NDArray[np.bool_],
        k: int,
        search_filter: SearchFilter,
    ) -> list[Hit]:
        """The hits of the ``k`` best eligible ``scores`` (one per entry of ``rowids``); a metadata
        filter, which the arrays do not hold, is checked in SQL on the best candidates."""

        def passing(order: npt.NDArray[np.intp]) -> set[int]:
            where, params = _filter_sql(search_filter)
            wanted = {int(rowid): int(index) for rowid, index in zip(rowids[order], order, strict=True)}
            found = db.execute(
                f"SELECT c.id FROM chunks c WHERE c.id IN (SELECT value FROM json_each(:ids)){where}",
                {**params, "ids": json.dumps(list(wanted))},
            )
            return {wanted[row[0]] for row in found}

        best = resident.ranked_rows(
            scores,
            eligible,
            k,
            first_fetch=max(k * FILTER_OVERFETCH, MIN_FILTER_FETCH),
            passing=passing if search_filter.metadata else None,
        )
        scored = {int(rowid): float(score) for rowid, score in zip(rowids[best], scores[best], strict=True)}
        if not scored:
            return []
        found = db.execute(
            f"SELECT {_HIT_COLUMNS}, c.id FROM chunks c {_TEXT_JOIN} WHERE c.id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(scored)),),
        )
        return best_hits((_hit((*row[:5], scored[row[5]])) for row in found), k)

    def _nearest(
        self, db: sqlite3.Connection, space: _Space, blob: bytes, search_filter: SearchFilter, fetch: int
    ) -> list[Hit]:
        where, params = _filter_sql(search_filter)
        # MATERIALIZED keeps the KNN query whole: vec0 needs its MATCH and k in one scan.
        rows = db.execute(
            f"WITH knn AS MATERIALIZED (SELECT rowid, distance FROM vec_{space.id} WHERE embedding MATCH :vector "
            f"AND k = :fetch) SELECT {_HIT_COLUMNS}, 1 - knn.distance AS score "
            f"FROM knn JOIN chunks c ON c.id = knn.rowid {_TEXT_JOIN} WHERE 1{where} ORDER BY score DESC, c.chunk_id",
            {**params, "vector": blob, "fetch": min(fetch, max(space.vector_count, 1))},
        )
        return [_hit(row) for row in rows]

    def _exhaustive(
        self, db: sqlite3.Connection, space: _Space, blob: bytes, search_filter: SearchFilter, k: int
    ) -> list[Hit]:
        where, params = _filter_sql(search_filter)
        rows = db.execute(
            f"SELECT {_HIT_COLUMNS}, 1 - vec_distance_cosine(v.embedding, :vector) AS score "
            f"FROM chunks c JOIN vec_{space.id} v ON v.rowid = c.id {_TEXT_JOIN} "
            f"WHERE c.kb_id = :kb_id AND c.has_vector{where} ORDER BY score DESC, c.chunk_id LIMIT :k",
            {**params, "vector": blob, "kb_id": space.kb_id, "k": k},
        )
        return [_hit(row) for row in rows]


def _filter_sql(search_filter: SearchFilter) -> tuple[str, dict[str, Any]]:
    """``" AND …"`` conditions on ``chunks c`` and their named parameters."""
    conditions: list[str] = []
    params: dict[str, Any] = {}
    if search_filter.document_ids is not None:
        conditions.append("c.document_id IN (SELECT value FROM json_each(:document_ids))")
        params["document_ids"] = json.dumps(sorted(search_filter.document_ids))
    for index, (key, value) in enumerate(sorted(search_filter.metadata.items())):
        params[f"key{index}"] = key
        # json_each gives each value's JSON type: compare it too, so True never equals 1.
        if value is None:
            test = "m.type = 'null'"
        elif isinstance(value, bool):
            test = f"m.type = '{'true' if value else 'false'}'"
        elif isinstance(value, int | float):
            test = f"m.type IN ('integer', 'real') AND m.atom = :value{index}"
            params[f"value{index}"] = value
        else:
            test = f"m.type = 'text' AND m.atom = :value{index}"
            params[f"value{index}"] = value
        conditions.append(f"EXISTS (SELECT 1 FROM json_each(c.metadata) m WHERE m.key = :key{index} AND {test})")
    return "".join(f" AND {condition}" for condition in conditions), params


def _chunk_terms(db: sqlite3.Connection, space_id: int) -> Iterator[resident.ChunkTerms]:
    """Each chunk of the space with its terms, for :func:`resident.build`."""
    rows = db.execute(
        f"SELECT f.rowid, c.document_id, f.tokens FROM fts_{space_id} f JOIN chunks c ON c.id = f.rowid "
        "ORDER BY f.rowid"
    )
    for rowid, document_id, tokens in rows:
        # Tokens are stored space-separated and hold no spaces: the split is FTS5's own.
        words = tokens.split()
        counts = Counter(words)
        yield rowid, document_id, len(words), counts.keys(), counts.values()


def _vectors(db: sqlite3.Connection, space_id: int) -> Iterator[tuple[int, bytes]]:
    yield from db.execute(f"SELECT rowid, embedding FROM vec_{space_id}")


def _fts_phrase(term: str) -> str:
    """A term as an FTS5 string (so ``or``, ``not`` or ``near`` are words, not operators)."""
    return '"' + term.replace('"', '""') + '"'


def _float32(vector: Sequence[float]) -> bytes:
    return struct.pack(f"<{len(vector)}f", *vector)


def _hit(row: Sequence[Any]) -> Hit:
    chunk_id, kb_id, document_id, text, metadata, score = row
    return Hit(
        chunk_id=chunk_id,
        kb_id=kb_id,
        document_id=document_id,
        score=float(score),
        text=text,
        metadata=json.loads(metadata),
    )
