"""The process's plugin host, for a test, with only the plugins the test names."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from builder.pluginhost.manager import PluginHost, set_host


@contextmanager
def host_with(*plugins: ModuleType) -> Iterator[PluginHost]:
    """``get_host()`` answers with these plugins loaded (as a server that discovered them), then with
    whatever it answered before."""
    host = PluginHost()
    for plugin in plugins:
        assert host.load(plugin) is not None, host.problems
    previous = set_host(host)
    try:
        yield host
    finally:
        set_host(previous)
