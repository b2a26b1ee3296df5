"""Every test of the shared suite runs once per backend: SQLite (a temp file), SQLite answering
from its in-memory copies (built inside each search that finds them stale, whatever the size), and
PostgreSQL.

PostgreSQL is the session's ``pgserver`` (:mod:`tests.support.pgserver`); each test gets its own
schema. When it cannot start, the PostgreSQL third is skipped on a laptop and fails in CI.
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

BACKENDS = ["sqlite", "sqlite-resident", "postgres"]

OpenIndex = Callable[..., KnowledgeIndex]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def open_index(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Iterator[OpenIndex]:
    """Opens an index on this test's own store (again and again: reopening sees the same data)."""
    opened: list[KnowledgeIndex] = []
    schema: str | None = None
    if backend.startswith("sqlite"):
        path = tmp_path / "knowledge.sqlite3"
        options: dict[str, Any] = {"resident_min_chunks": 0, "resident_inline": True} if "resident" in backend else {}

        def open_index(analyzer: Analyzer | None = None) -> KnowledgeIndex:
            opened.append(SqliteKnowledgeIndex(path, analyzer=analyzer, **options))
            return opened[-1]

    else:
        dsn: str = request.getfixturevalue("pgserver_dsn")
        schema = f"test_{uuid.uuid4().hex[:12]}"

        def open_index(analyzer: Analyzer | None = None) -> KnowledgeIndex:
            opened.append(PgKnowledgeIndex(dsn, schema=schema, analyzer=analyzer, pool_size=4))
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
