"""Throwaway plugins written into a test's tmp_path: a package with hooks and a manifest.

Each gets a unique module name, so tests never see one another's modules in ``sys.modules``.
"""

from __future__ import annotations

import importlib
import json
import sys
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

PING_HOOKS = """
from pydantic import BaseModel

from builder.sdk import PluginContext, ToolSpec, hookimpl


class Empty(BaseModel):
    pass


class Pong(BaseModel):
    pong: bool = True


async def ping(data: Empty, ctx: PluginContext) -> Pong:
    return Pong()


@hookimpl
def register_tools():
    return [ToolSpec(name="ping", description="Answers pong.", input_model=Empty, output_model=Pong, invoke=ping)]
"""


def manifest(plugin_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": plugin_id,
        "name": plugin_id.title(),
        "description": "A test plugin.",
        "version": "1.0.0",
        "sdk_version": "1.0",
        "provides": {"tools": ["ping"]},
        **fields,
    }


def write_package(root: Path, package: str, plugin_id: str, *, hooks: str = PING_HOOKS, **fields: Any) -> Path:
    folder = root / package
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text(hooks, encoding="utf-8")
    (folder / "manifest.json").write_text(json.dumps(manifest(plugin_id, **fields)), encoding="utf-8")
    return folder


def write_plugin(root: Path, plugin_id: str, *, hooks: str = PING_HOOKS, **fields: Any) -> ModuleType:
    """Write the plugin package under ``root`` and import it."""
    package = f"{plugin_id}_{uuid.uuid4().hex[:10]}"
    write_package(root, package, plugin_id, hooks=hooks, **fields)
    sys.path.insert(0, str(root))
    try:
        importlib.invalidate_caches()
        return importlib.import_module(package)
    finally:
        sys.path.remove(str(root))
