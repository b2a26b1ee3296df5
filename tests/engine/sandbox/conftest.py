from __future__ import annotations

from collections.abc import Iterator

import pytest

from builder.engine.sandbox import SandboxCodeRunner


@pytest.fixture(scope="session")
def runner() -> Iterator[SandboxCodeRunner]:
    """One runner for the session, as the server has one: its warm pool serves every test."""
    sandbox = SandboxCodeRunner()
    yield sandbox
    sandbox.close()
