"""The pluggy markers and the names a plugin is found by.

A plugin is a module (or package) with functions decorated ``@hookimpl``, registered under the
entry-point group ``agentloom.plugins``. The hooks it may implement are listed, one line each, in
``builder/pluginhost/hookspecs.py`` and documented in ``docs/plugins.md``.
"""

from __future__ import annotations

from typing import Final

import pluggy

PROJECT_NAME: Final = "agentloom"
ENTRY_POINT_GROUP: Final = "agentloom.plugins"
# The SDK's own version. A manifest's ``sdk_version`` must have the same major and a minor no
# higher than this: a plugin written for 1.0 loads on 1.3, one written for 1.4 or 2.0 does not.
SDK_VERSION: Final = "1.0"

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
