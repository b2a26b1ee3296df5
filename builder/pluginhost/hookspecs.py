"""Every hook a plugin may implement, in one place. Each is documented in docs/plugins.md."""

# Specs have no bodies: pluggy calls the plugins' implementations, never these.
# mypy: disable-error-code="empty-body"

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from typing import Any

from builder.sdk.context import CredentialCheck, PluginContext
from builder.sdk.markers import hookspec
from builder.sdk.providers import ModelProviderSpec
from builder.sdk.routes import WebhookRoute
from builder.sdk.tools import ToolSpec
from builder.sdk.toolsets import ToolSet


@hookspec
def register_tools() -> Sequence[ToolSpec[Any, Any]]:
    """Return the plugin's tools; their names must match the manifest's ``provides.tools``."""


@hookspec
def register_toolsets() -> Sequence[ToolSet]:
    """Return tool sets whose tools are listed per workspace from its settings; names match ``provides.toolsets``."""


@hookspec(firstresult=True)
def check_config(plugin_id: str, config: Mapping[str, Any]) -> Mapping[str, Sequence[str]] | None:
    """Check settings offline before they are saved or tested: field path → messages; None when not yours."""


@hookspec
def register_model_providers() -> Sequence[ModelProviderSpec]:
    """Return the kinds of model provider the plugin adds; kinds must match ``provides.providers``."""


@hookspec
def register_node_types() -> Sequence[type[Any]]:
    """Return engine ``NodeSpec`` classes the plugin adds; names must match ``provides.node_types``."""


@hookspec(firstresult=True)
def validate_config(
    plugin_id: str, config: Mapping[str, Any], ctx: PluginContext
) -> CredentialCheck | Awaitable[CredentialCheck | None] | None:
    """Check a workspace's settings of your plugin for real (may be async); None when ``plugin_id`` is not yours."""


@hookspec
def register_routes() -> Sequence[WebhookRoute]:
    """Return the HTTP callbacks the plugin serves under ``/api/v1/plugins/<id>/webhooks/``."""


@hookspec
def startup() -> None:
    """Run once per process after every plugin is loaded (warm a cache, check the environment)."""
