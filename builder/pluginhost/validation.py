"""``manage.py plugins validate [path]``: load plugins exactly as the server would, and say what is wrong.

``path`` may be a plugin's package folder (the one with ``manifest.json``), or a project folder
whose ``pyproject.toml`` declares ``agentloom.plugins`` entry points; without it, every installed
plugin is checked.
"""

from __future__ import annotations

import importlib
import sys
import tomllib
from pathlib import Path
from types import ModuleType

from builder.pluginhost.manager import PluginHost
from builder.pluginhost.manifest import MANIFEST_FILE
from builder.sdk.markers import ENTRY_POINT_GROUP


class NotAPlugin(ValueError):
    pass


def _import_from(root: Path, module_name: str) -> ModuleType:
    """Import ``module_name`` with ``root`` first on the path (the package is not installed yet)."""
    sys.path.insert(0, str(root))
    try:
        importlib.invalidate_caches()
        return importlib.import_module(module_name)
    finally:
        sys.path.remove(str(root))


def _module_for_package(folder: Path) -> ModuleType:
    """The package in ``folder``, under its dotted name when a ``sys.path`` entry contains it
    (``plugins.web_search`` for a built-in), else as a top-level package from its parent."""
    folder = folder.resolve()
    for entry in sys.path:
        base = Path(entry or ".").resolve()
        if base in folder.parents:
            dotted = ".".join(folder.relative_to(base).parts)
            try:
                module = importlib.import_module(dotted)
            except ImportError:
                continue
            if Path(getattr(module, "__file__", "") or "").resolve().parent == folder:
                return module
    return _import_from(folder.parent, folder.name)


def validate_path(path: Path | None, host: PluginHost | None = None) -> PluginHost:
    """A fresh host with the plugins at ``path`` (or every installed one) loaded: see
    ``host.plugins`` and ``host.problems``. Raises ``NotAPlugin`` when ``path`` is neither kind."""
    host = host or PluginHost()
    if path is None:
        host.discover()
        return host
    path = path.resolve()
    if (path / MANIFEST_FILE).is_file():
        host.load(_module_for_package(path), source=str(path))
        return host
    pyproject = path / "pyproject.toml"
    if not pyproject.is_file():
        raise NotAPlugin(f"{path} has neither {MANIFEST_FILE} nor pyproject.toml")
    project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
    declared = project.get("entry-points", {}).get(ENTRY_POINT_GROUP, {})
    if not declared:
        raise NotAPlugin(f'{pyproject} declares no [project.entry-points."{ENTRY_POINT_GROUP}"]')
    for plugin_id, target in sorted(declared.items()):
        module_name = target.split(":", 1)[0].strip()
        try:
            module = _import_from(path, module_name)
        except Exception as error:
            host.refuse(plugin_id, str(pyproject), f"cannot import {module_name}: {type(error).__name__}: {error}")
            continue
        host.load(module, plugin_id=plugin_id, source=f"{pyproject}: {plugin_id} = {target}")
    return host
