"""What a tool (and a plugin's ``validate_config``) gets from the host: ``PluginContext``.

The context carries the workspace's configuration of the plugin (secrets decrypted), the HTTP
client every outbound request must go through, a progress reporter, a logger and the run's
cancellation flag. The host builds one per call; tests build one with ``builder.sdk.testing``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, runtime_checkable

from builder.engine.i18n import gettext_noop
from builder.engine.runtime.contract import HttpClient, HttpResponse
from builder.sdk.errors import MISSING_CREDENTIALS, ToolError

__all__ = ["CredentialCheck", "HttpClient", "HttpResponse", "PluginContext", "ProgressReporter", "UrlVetting"]

# percent (0-100, or None when unknown) and a short note for the chat.
ProgressReporter = Callable[[float | None, str], Awaitable[None]]
MAX_NOTE_CHARS: Final = 500
_REDACTED: Final = "[redacted]"
# Shorter values are not redacted from messages: "1" or "yes" would mangle every text.
_MIN_REDACTED_CHARS: Final = 6

logger = logging.getLogger(__name__)


async def _no_progress(percent: float | None, note: str) -> None:
    return None


def _never_cancelled() -> bool:
    return False


@runtime_checkable
class UrlVetting(Protocol):
    """What ``ctx.http`` also offers on a server, for a library that opens its own connections (the
    MCP SDK's HTTP client): ``await ctx.http.vet_url(url)`` applies the manifest's hosts and the SSRF
    policy to ``url`` and returns the IP address to connect to. Pin the connection to that address
    (keeping the URL's host name for the Host header and TLS), or a second DNS answer could differ.
    """

    async def vet_url(self, url: str) -> str: ...


@dataclass(frozen=True)
class CredentialCheck:
    """What ``validate_config`` answers: do these credentials work? ``message`` is shown to the admin."""

    ok: bool
    message: str = ""


@dataclass(frozen=True)
class PluginContext:
    """The host's side of one tool call.

    - ``config``: the workspace's settings of the plugin (the fields of the manifest's
      ``config_schema``, secrets in clear, defaults filled in). Read credentials with
      ``credential(name)``, which fails with a clear ``missing_credentials`` error.
    - ``http``: the SSRF-safe client (``await ctx.http.request("GET", url, params=..., headers=...)``);
      it refuses private and loopback addresses and hosts the manifest does not list.
    - ``progress(percent, note)``: shown in the chat while the tool runs.
    - ``cancelled()``: True once the run was cancelled; a long tool should stop early.
    """

    plugin_id: str
    http: HttpClient
    config: Mapping[str, Any] = field(default_factory=dict)
    logger: logging.Logger | logging.LoggerAdapter[logging.Logger] = logger
    workspace_id: str = ""
    run_id: str = ""
    tool: str = ""
    reporter: ProgressReporter = _no_progress
    is_cancelled: Callable[[], bool] = _never_cancelled
    # Values never to show in a message or a log (the secrets of ``config``); set by the host.
    secrets: tuple[str, ...] = ()

    def credential(self, name: str) -> str:
        """The configured value of ``name`` (an API key…); raises ``ToolError`` when it is not set."""
        value = self.config.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise ToolError.from_template(
                MISSING_CREDENTIALS,
                gettext_noop(
                    "The %(plugin)s plugin needs %(field)s: an administrator of the workspace sets it "
                    "in the plugin's settings."
                ),
                details={"field": name},
                plugin=self.plugin_id,
                field=name,
            )
        return str(value)

    async def progress(self, percent: float | None, note: str = "") -> None:
        """Report progress (``percent`` from 0 to 100, or None when unknown). Never fails the tool."""
        if percent is not None:
            percent = 0.0 if math.isnan(percent) else min(max(float(percent), 0.0), 100.0)
        try:
            await self.reporter(percent, self.redact(note)[:MAX_NOTE_CHARS])
        except Exception:  # progress is best effort: a closed socket must not fail the tool
            self.logger.warning("could not report the progress of %s", self.tool or self.plugin_id, exc_info=True)

    def cancelled(self) -> bool:
        return self.is_cancelled()

    def redact(self, text: str) -> str:
        """``text`` with this plugin's secrets replaced (for messages and logs)."""
        for secret in self.secrets:
            if len(secret) >= _MIN_REDACTED_CHARS:
                text = text.replace(secret, _REDACTED)
        return text
