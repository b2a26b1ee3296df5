"""Building the ``PluginContext`` of one call, the same way for the server and the SDK's harness."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from builder.engine.runtime.contract import HttpClient
from builder.pluginhost.manager import LoadedPlugin
from builder.pluginhost.network import PermittedHttpClient, permitted_hosts
from builder.sdk.context import PluginContext, ProgressReporter


def plugin_logger(plugin_id: str) -> logging.Logger:
    return logging.getLogger(f"agentloom.plugins.{plugin_id}")


def plugin_context(
    plugin: LoadedPlugin,
    *,
    config: Mapping[str, Any],
    http: HttpClient,
    tool: str = "",
    workspace_id: str = "",
    run_id: str = "",
    reporter: ProgressReporter | None = None,
    is_cancelled: Callable[[], bool] | None = None,
    extra_hosts: Sequence[str] = (),
) -> PluginContext:
    """The context for one call: ``config`` in clear with the schema's defaults, the HTTP client
    limited to the manifest's hosts, those of ``config:<field>`` read from ``config`` (plus
    ``extra_hosts``: loopback in the SDK's tests), and the secrets listed so that messages and
    logs can mask them."""
    manifest = plugin.manifest
    values = manifest.with_defaults(dict(config))
    secrets = tuple(
        part
        for slot in manifest.secret_slots(values)
        if slot.holder.get(slot.field)
        for part in _masked_parts(str(slot.holder[slot.field]))
    )
    options: dict[str, Any] = {}
    if reporter is not None:
        options["reporter"] = reporter
    if is_cancelled is not None:
        options["is_cancelled"] = is_cancelled
    return PluginContext(
        plugin_id=plugin.id,
        http=PermittedHttpClient(
            http, [*permitted_hosts(manifest.permissions.network, values), *extra_hosts], plugin_id=plugin.id
        ),
        config=values,
        logger=plugin_logger(plugin.id),
        workspace_id=workspace_id,
        run_id=run_id,
        tool=tool,
        secrets=secrets,
        **options,
    )


def _masked_parts(secret: str) -> list[str]:
    """What to mask for one secret: itself and, for a secret of several ``NAME=value`` lines (an MCP
    server's environment), each line and each value, which a message may show on their own."""
    parts = [secret]
    for line in secret.splitlines() if "\n" in secret else []:
        parts += [line.strip(), line.partition("=")[2].strip()]
    return [part for part in dict.fromkeys(parts) if part]
