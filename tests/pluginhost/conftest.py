"""The process's plugin host replaced, per test, by one holding the example plugin (and one refused)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.pluginhost.manager import PluginHost, set_host
from tests.pluginhost import example_plugin
from tests.pluginhost.jobs_support import async_orm_closed, jobs_host, jobs_mode, jobs_worker, render_api  # noqa: F401
from tests.pluginhost.support import write_plugin


@pytest.fixture
def example_host(tmp_path: Path) -> Iterator[PluginHost]:
    """``get_host()`` answers with: ``example`` loaded, ``broken`` refused (its provides lie)."""
    host = PluginHost()
    host.load(example_plugin)
    host.load(write_plugin(tmp_path, "broken", provides={"tools": ["ping", "pong"]}))
    assert sorted(host.plugins) == ["example"] and list(host.problems) == ["broken"]
    previous = set_host(host)
    yield host
    set_host(previous)
