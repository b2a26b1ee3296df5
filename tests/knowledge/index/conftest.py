"""Every test of the shared suite runs once per backend: SQLite (a temp file) and PostgreSQL.

PostgreSQL comes from the ``pgserver`` package, which ships PostgreSQL 16 with pgvector (the
machine's own PostgreSQL has no pgvector): started once per session in a temp dir, each test gets
its own schema. When it cannot start, the PostgreSQL half is skipped on a laptop and fails in CI
(``CI=true``), like :func:`tests.support.services.require_service`.
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from builder.knowledge.index import Analyzer, KnowledgeIndex, PgKnowledgeIndex, SqliteKnowledgeIndex
from tests.support.services import in_ci

BACKENDS = ["sqlite", "postgres"]

OpenIndex = Callable[..., KnowledgeIndex]


def service_unavailable(message: str) -> None:
    """Skip the calling test (or fixture) because ``message``; fail it instead when ``CI=true``."""
    if in_ci():
        pytest.fail(f"{message} (CI=true: services are required)", pytrace=False)
    pytest.skip(message)


def start_pgserver(data_dir: Path) -> Any:
    """A running pgserver whose PostgreSQL answers and has pgvector; raises with the reason if not."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); pgserver copes.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
        import pgserver

        # "delete": the temp dir goes too, and pgserver drops its own atexit hook (which would
        # otherwise log to pytest's closed capture stream at exit).
        server = pgserver.get_server(data_dir, cleanup_mode="delete")
    with psycopg.connect(server.get_uri(), connect_timeout=10) as connection:
        connection.execute("CREATE EXTENSION IF NOT EXISTS vector")
    return server


@pytest.fixture(scope="session")
def pgserver_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    try:
        server = start_pgserver(tmp_path_factory.mktemp("pgserver"))
    except Exception as exc:
        service_unavailable(f"PostgreSQL with pgvector (pgserver) did not start: {type(exc).__name__}: {exc}")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def open_index(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Iterator[OpenIndex]:
    """Opens an index on this test's own store (again and again: reopening sees the same data)."""
    opened: list[KnowledgeIndex] = []
    schema: str | None = None
    if backend == "sqlite":
        path = tmp_path / "knowledge.sqlite3"

        def open_index(analyzer: Analyzer | None = None) -> KnowledgeIndex:
            opened.append(SqliteKnowledgeIndex(path, analyzer=analyzer))
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
