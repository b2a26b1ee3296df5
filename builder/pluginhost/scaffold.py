"""``manage.py plugins scaffold <id>``: a new plugin package that installs, loads and passes its test.

The folder it writes is a complete third-party package (the tutorial in docs/plugins.md starts
here)::

    <id>/
      pyproject.toml            entry point  [project.entry-points."agentloom.plugins"] <id> = "agentloom_<id>"
      README.md
      agentloom_<id>/__init__.py    the hooks: one example tool
      agentloom_<id>/manifest.json
      tests/conftest.py         pytest_plugins = ["builder.sdk.testing"]
      tests/test_<id>.py        loads the plugin as the server does and calls its tool
"""

from __future__ import annotations

from pathlib import Path
from string import Template

from builder.pluginhost.manifest import PLUGIN_ID
from builder.sdk.markers import ENTRY_POINT_GROUP, SDK_VERSION

_PYPROJECT = Template("""[build-system]
requires = ["setuptools>=69"]
build-backend = "setuptools.build_meta"

[project]
name = "agentloom-$dist"
version = "0.1.0"
description = "$title: an Agentloom plugin."
requires-python = ">=3.11"
# The plugin runs inside Agentloom, which provides builder.sdk; list your own dependencies here.
dependencies = []

# How Agentloom finds the plugin: the name is the plugin id, the value the module with the hooks
# (its manifest.json sits next to it).
[project.entry-points."$group"]
$id = "$package"

[tool.setuptools.packages.find]
include = ["$package*"]

[tool.setuptools.package-data]
$package = ["manifest.json"]

[tool.pytest.ini_options]
pythonpath = ["."]
testpaths = ["tests"]
asyncio_mode = "auto"
asyncio_default_fixture_loop_scope = "function"
""")

_MANIFEST = Template("""{
  "id": "$id",
  "name": "$title",
  "description": "Says hello. Replace this with what your plugin does.",
  "icon": "🧩",
  "version": "0.1.0",
  "sdk_version": "$sdk_version",
  "categories": ["utilities"],
  "provides": {"tools": ["greet"], "providers": [], "node_types": []},
  "config_schema": {"type": "object", "properties": {}},
  "permissions": {"network": [], "long_running": false, "webhooks": false}
}
""")

_HOOKS = Template('''"""$title: an Agentloom plugin (see docs/plugins.md in Agentloom)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from builder.sdk import PluginContext, ToolSpec, hookimpl


class GreetInput(BaseModel):
    name: str = Field(min_length=1, max_length=100, description="Who to greet.")


class GreetOutput(BaseModel):
    greeting: str = Field(description="The greeting.")


async def greet(data: GreetInput, ctx: PluginContext) -> GreetOutput:
    await ctx.progress(100, "done")
    return GreetOutput(greeting=f"Hello, {data.name}!")


@hookimpl
def register_tools() -> list[ToolSpec[Any, Any]]:
    return [
        ToolSpec(
            name="greet",
            description="Greet someone by name.",
            input_model=GreetInput,
            output_model=GreetOutput,
            invoke=greet,
            timeout_s=10,
        )
    ]
''')

_CONFTEST = """# The SDK's fixtures (plugin_harness, plugin_config) for this package's tests.
pytest_plugins = ["builder.sdk.testing"]
"""

_TEST = Template("""from __future__ import annotations

from collections.abc import Callable

import pytest

from builder.sdk import ToolError
from builder.sdk.testing import PluginHarness, assert_plugin_contract


def test_the_host_accepts_the_plugin() -> None:
    assert_plugin_contract("$package")


async def test_greet_says_hello(plugin_harness: Callable[..., PluginHarness]) -> None:
    harness = plugin_harness("$package")

    result = await harness.invoke("greet", {"name": "Ada"})

    assert result.greeting == "Hello, Ada!"
    assert harness.progress[-1].percent == 100


async def test_greet_needs_a_name(plugin_harness: Callable[..., PluginHarness]) -> None:
    with pytest.raises(ToolError) as caught:
        await plugin_harness("$package").invoke("greet", {})

    assert caught.value.code == "invalid_tool_input" and "name" in caught.value.message
""")

_README = Template("""# $title

An Agentloom plugin.

    pip install -e .                # into Agentloom's environment
    python -m pytest                # this plugin's tests
    python manage.py plugins list   # in Agentloom: the plugin is listed

Then enable it in a workspace (Plugins → $title) and use its tools in a tool or agent node.
""")


class ScaffoldError(ValueError):
    pass


def scaffold_plugin(plugin_id: str, directory: Path) -> Path:
    """Write the package for ``plugin_id`` into ``directory/<plugin_id>``; return that folder."""
    if not PLUGIN_ID.match(plugin_id):
        raise ScaffoldError(
            f"{plugin_id!r} is not a plugin id: 2-64 lowercase letters, digits and underscores, starting with a letter"
        )
    root = directory / plugin_id
    if root.exists():
        raise ScaffoldError(f"{root} exists already")
    package = f"agentloom_{plugin_id}"
    values = {
        "id": plugin_id,
        "dist": plugin_id.replace("_", "-"),
        "package": package,
        "title": plugin_id.replace("_", " ").title(),
        "group": ENTRY_POINT_GROUP,
        "sdk_version": SDK_VERSION,
    }
    files = {
        "pyproject.toml": _PYPROJECT.substitute(values),
        "README.md": _README.substitute(values),
        f"{package}/__init__.py": _HOOKS.substitute(values),
        f"{package}/manifest.json": _MANIFEST.substitute(values),
        "tests/conftest.py": _CONFTEST,
        f"tests/test_{plugin_id}.py": _TEST.substitute(values),
    }
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    return root
