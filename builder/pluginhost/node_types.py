"""Plugins' node types, registered into the engine before a graph that may use them is judged.

The process's plugin host adds every plugin's node types to the engine's registry as it loads
(``manager.get_host``), and it loads on first use. A graph using a plugin's node type would be
refused as "unknown node type" by whatever parsed it before that, so the places that validate or
run graphs load the host first: the ASGI app and each Celery worker process as they start
(``builder/config``), and the bot services before they parse a draft, a publish or an import.
Management commands in general still load no plugin (``apps.py``): a migration runs no plugin code.
"""

from __future__ import annotations

from builder.pluginhost.manager import get_host


def ensure_loaded() -> None:
    """Load this process's plugins (once), so their node types are registered."""
    get_host()
