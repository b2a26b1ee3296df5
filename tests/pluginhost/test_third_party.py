"""A third-party plugin package, pip-installed, is found by the host through its entry point.

It is installed with ``pip install --target`` into the test's tmp_path rather than into the shared
virtualenv (other test runs use it at the same time); the folder is then put on ``sys.path``, where
``importlib.metadata`` finds its ``*.dist-info`` and the entry point in it, as for any install.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from builder.pluginhost.manager import PluginHost
from builder.sdk.markers import ENTRY_POINT_GROUP
from builder.sdk.testing import PluginHarness
from tests.pluginhost.commands import developer_env, manage, pip_install
from tests.pluginhost.support import write_package

PACKAGE = "agentloom_pinger_thirdparty"


def write_project(root: Path) -> Path:
    write_package(root, PACKAGE, "pinger", version="2.1.0")
    (root / "pyproject.toml").write_text(
        f"""[build-system]
requires = ["setuptools>=69"]
build-backend = "setuptools.build_meta"

[project]
name = "agentloom-pinger"
version = "2.1.0"

[project.entry-points."agentloom.plugins"]
pinger = "{PACKAGE}"

[tool.setuptools.packages.find]
include = ["{PACKAGE}*"]

[tool.setuptools.package-data]
{PACKAGE} = ["manifest.json"]
""",
        encoding="utf-8",
    )
    return root


@pytest.fixture
def installed(tmp_path: Path) -> Iterator[Path]:
    """The package pip-installed into ``tmp_path/site``, on ``sys.path`` for the test only."""
    site = tmp_path / "site"
    pip_install(write_project(tmp_path / "src"), site)
    sys.path.insert(0, str(site))
    importlib.invalidate_caches()
    try:
        yield site
    finally:
        sys.path.remove(str(site))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]
        importlib.invalidate_caches()


def test_the_host_discovers_an_installed_package_through_its_entry_point(installed: Path) -> None:
    assert PACKAGE not in sys.modules
    [entry_point] = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == "pinger"]
    assert entry_point.dist is not None and entry_point.dist.name == "agentloom-pinger"

    host = PluginHost()
    host.discover()

    plugin = host.plugins["pinger"]
    assert plugin.source == f"entry point pinger = {PACKAGE} (agentloom-pinger 2.1.0)"
    assert plugin.manifest.version == "2.1.0" and list(plugin.tools) == ["ping"]
    assert plugin.directory == installed / PACKAGE  # the installed copy, manifest.json included


async def test_the_installed_tool_runs(installed: Path) -> None:
    harness = PluginHarness(PACKAGE)

    assert await harness.invoke_json("ping") == {"pong": True}


def test_a_fresh_process_lists_it(installed: Path) -> None:
    output = manage("plugins", "list", env=developer_env(PYTHONPATH=str(installed)))

    assert "ok  pinger 2.1.0" in output
    assert f"from entry point pinger = {PACKAGE} (agentloom-pinger 2.1.0)" in output
