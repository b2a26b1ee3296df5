"""PostgreSQL with pgvector for the tests, from the ``pgserver`` package.

The machine's own PostgreSQL has no pgvector; ``pgserver`` ships PostgreSQL 16 with it and starts
it from Python in a temp dir (~0.5 s). One server per session (the ``pgserver_dsn`` fixture) serves
both the knowledge index contract tests and, in the production pass, the deployment's knowledge
index. When it cannot start, the tests that need it skip on a laptop and fail in CI (``CI=true``),
like :func:`tests.support.services.require_service`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import psycopg
import pytest

from tests.support.services import in_ci


def service_unavailable(message: str) -> NoReturn:
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
    """The connection URI of this session's pgserver."""
    try:
        server = start_pgserver(tmp_path_factory.mktemp("pgserver"))
    except Exception as exc:
        service_unavailable(f"PostgreSQL with pgvector (pgserver) did not start: {type(exc).__name__}: {exc}")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
