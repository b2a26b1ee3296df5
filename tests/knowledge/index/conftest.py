"""Every test of the shared suite runs once per backend: SQLite (a temp file), PostgreSQL, and
each of them answering from its in-memory copies (built inside each search that finds them stale,
whatever the size).

PostgreSQL is the session's ``pgserver`` (:mod:`tests.support.pgserver`); each test gets its own
schema. When it cannot start, the PostgreSQL half is skipped on a laptop and fails in CI.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from builder.knowledge.index import Analyzer, KnowledgeIndex, PgKnowledgeIndex, SqliteKnowledgeIndex

BACKENDS = ["sqlite", "sqlite-resident", "postgres", "postgres-resident"]
# In-memory copies for every knowledge base, built in the search that needs one.
RESIDENT_INLINE: dict[str, Any] = {"resident_min_chunks": 0, "resident_inline": True}

OpenIndex = Callable[..., KnowledgeIndex]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def open_index(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Iterator[OpenIndex]:
    """Opens an index on this test's own store (again and again: reopening sees the same data);
    keyword arguments go to the index's constructor."""
    opened: list[KnowledgeIndex] = []
    schema: str | None = None
    # Without: the backend's defaults, so the tests' small knowledge bases are ranked in SQL.
    options = RESIDENT_INLINE if backend.endswith("-resident") else {}
    if backend.startswith("sqlite"):
        path = tmp_path / "knowledge.sqlite3"

        def open_index(analyzer: Analyzer | None = None, **overrides: Any) -> KnowledgeIndex:
            opened.append(SqliteKnowledgeIndex(path, analyzer=analyzer, **{**options, **overrides}))
            return opened[-1]

    else:
        dsn: str = request.getfixturevalue("pgserver_dsn")
        schema = f"test_{uuid.uuid4().hex[:12]}"

        def open_index(analyzer: Analyzer | None = None, **overrides: Any) -> KnowledgeIndex:
            opened.append(
                PgKnowledgeIndex(dsn, schema=schema, analyzer=analyzer, pool_size=4, **{**options, **overrides})
            )
            return opened[-1]

    yield open_index
    for index in opened:
        index.close()
    if schema is not None:
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def index(open_index: OpenIndex) -> KnowledgeIndex:
    return open_index()
