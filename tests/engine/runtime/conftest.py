from __future__ import annotations

from collections.abc import Iterator

import pytest

from builder.engine.nodes import registry
from tests.engine.runtime.support import BEHAVIOURS, Behaviour, ProbeNode


@pytest.fixture
def probes(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Behaviour]]:
    """Register the test-only ``probe`` node type for one test; the test fills in behaviours."""
    monkeypatch.setitem(registry._SPECS, ProbeNode.name, {ProbeNode.version: ProbeNode()})
    BEHAVIOURS.clear()
    yield BEHAVIOURS
    BEHAVIOURS.clear()
