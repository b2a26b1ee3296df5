"""What only the PostgreSQL backend and its test fixture do: connecting, and gating on pgserver."""

from __future__ import annotations

import pytest

from builder.knowledge.index import KnowledgeIndexError, PgKnowledgeIndex
from tests.support.pgserver import service_unavailable


def test_an_unreachable_server_is_a_clear_error_without_the_password(unused_tcp_port: int) -> None:
    dsn = f"postgresql://agentloom:s3cret@127.0.0.1:{unused_tcp_port}/agentloom"

    with pytest.raises(KnowledgeIndexError, match="cannot connect to PostgreSQL at") as caught:
        PgKnowledgeIndex(dsn, connect_timeout_s=1)

    assert "s3cret" not in str(caught.value)
    assert f"postgresql://agentloom:***@127.0.0.1:{unused_tcp_port}/agentloom" in str(caught.value)


def test_without_pgserver_the_postgres_half_skips_on_a_laptop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)

    with pytest.raises(pytest.skip.Exception, match=r"^pgserver did not start$"):
        service_unavailable("pgserver did not start")


def test_without_pgserver_the_postgres_half_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")

    with pytest.raises(pytest.fail.Exception, match=r"^pgserver did not start \(CI=true: services are required\)$"):
        service_unavailable("pgserver did not start")
