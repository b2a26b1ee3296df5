"""A workspace's settings of the MCP plugin: a list of servers, each reached over streamable HTTP
or started as a local command (stdio).

Secrets: an HTTP server's bearer token, and a stdio server's secret environment variables (one
``NAME=value`` per line), are encrypted at rest like every ``x-secret`` setting.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from builder.engine.i18n import gettext_noop
from builder.sdk import ToolError

# A tool is named <server>__<tool>: a server name has no double underscore.
SERVER_NAME: Final = r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$"
ENV_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DEFAULT_TIMEOUT_S: Final = 60.0


class Server(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str = Field(pattern=SERVER_NAME, max_length=24)
    transport: Literal["http", "stdio"] = "http"
    url: str = ""
    headers: dict[str, str] = Field(default_factory=dict)
    bearer_token: str = ""
    command: str = ""
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    secret_env: str = ""
    timeout_s: float = Field(default=DEFAULT_TIMEOUT_S, gt=0, le=600)
    # Only these of the server's tools (by the server's names); empty: all of them.
    tools: list[str] = Field(default_factory=list)

    def secret_variables(self) -> dict[str, str]:
        """``secret_env`` parsed: ``NAME=value`` lines (blank lines and ``#`` comments skipped)."""
        variables: dict[str, str] = {}
        for line in self.secret_env.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, _, value = line.partition("=")
            variables[name.strip()] = value.strip()
        return variables

    def secret_env_problem(self) -> str:
        for number, line in enumerate(self.secret_env.splitlines(), start=1):
            line = line.strip()
            if (
                line
                and not line.startswith("#")
                and ("=" not in line or not ENV_NAME.match(line.split("=")[0].strip()))
            ):
                return f"Line {number} is not NAME=value."
        return ""

    def environment(self) -> dict[str, str]:
        """What the command gets on top of a minimal environment (PATH, HOME…: never the server's own)."""
        return {**self.env, **self.secret_variables()}

    def http_headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        if self.bearer_token:
            headers["Authorization"] = f"Bearer {self.bearer_token}"
        return headers


def servers(config: Mapping[str, Any]) -> list[Server]:
    raw = config.get("servers") or []
    try:
        return [Server.model_validate(item) for item in raw]
    except ValidationError as error:
        raise ToolError.from_template(
            "invalid_settings",
            gettext_noop("The MCP settings are invalid: %(problem)s"),
            problem=str(error.errors()[0]["msg"]),
        ) from None


def server_named(config: Mapping[str, Any], name: str) -> Server:
    for server in servers(config):
        if server.name == name:
            return server
    raise ToolError.from_template(
        "tool_not_found", gettext_noop("The MCP server %(server)s is not in the settings any more."), server=name
    )


def stdio_allowed() -> bool:
    """``AGENTLOOM_MCP_ALLOW_STDIO`` (builder/config/settings.py): may servers be started as commands?

    Off when there are no Django settings (a plugin's own tests elsewhere), as in production."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        return bool(getattr(settings, "AGENTLOOM_MCP_ALLOW_STDIO", False))
    except ImproperlyConfigured:
        return False
