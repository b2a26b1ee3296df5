"""The suite's own gating: a missing service skips on a laptop and fails in CI."""

from __future__ import annotations

import re
import socket

import pytest

from tests.support.services import redact, require_service


def test_unreachable_service_skips_outside_ci(monkeypatch: pytest.MonkeyPatch, unused_tcp_port: int) -> None:
    monkeypatch.delenv("CI", raising=False)
    url = f"redis://127.0.0.1:{unused_tcp_port}/0"

    with pytest.raises(pytest.skip.Exception, match=rf"^Redis not reachable at {re.escape(url)}: .*refused"):
        require_service("Redis", url)


def test_unreachable_service_fails_in_ci(monkeypatch: pytest.MonkeyPatch, unused_tcp_port: int) -> None:
    monkeypatch.setenv("CI", "true")

    expected = r"^PostgreSQL not reachable at .*\(CI=true: services are required\)$"
    with pytest.raises(pytest.fail.Exception, match=expected):
        require_service("PostgreSQL", f"postgres://postgres@127.0.0.1:{unused_tcp_port}/agentloom")


def test_listening_service_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with socket.create_server(("127.0.0.1", 0)) as server:
        require_service("a TCP server", f"tcp://127.0.0.1:{server.getsockname()[1]}")


def test_messages_never_show_passwords() -> None:
    assert redact("postgres://app:s3cret@db:5432/agentloom") == "postgres://app:***@db:5432/agentloom"
    assert redact("redis://127.0.0.1:6379/15") == "redis://127.0.0.1:6379/15"
