"""A workspace's settings of the OpenAPI plugin: a list of sources, each one imported API.

The host has checked the settings against ``manifest.json``'s schema; these models give them
types and defaults. A source's secret (API key, bearer token or OAuth2 client secret) is read from
the settings of the call, never kept by a listed tool.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from builder.engine.i18n import gettext_noop
from builder.sdk import ToolError

# A tool is named <source>__<operation>: a source name has no double underscore.
SOURCE_NAME: Final = r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$"
DEFAULT_TIMEOUT_S: Final = 30.0

Auth = Literal["auto", "none", "api_key", "bearer", "oauth2_client_credentials"]


class Source(BaseModel):
    """One imported API: its spec (a URL or pasted text) and how to call it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str = Field(pattern=SOURCE_NAME, max_length=24)
    spec_url: str = ""
    spec: str = ""
    server_url: str = ""
    auth: Auth = "auto"
    secret: str = ""
    api_key_name: str = ""
    api_key_in: Literal["", "header", "query"] = ""
    client_id: str = ""
    token_url: str = ""
    scopes: str = ""
    client_auth: Literal["basic", "body"] = "basic"
    timeout_s: float = Field(default=DEFAULT_TIMEOUT_S, gt=0, le=300)

    @property
    def scope_list(self) -> tuple[str, ...]:
        return tuple(self.scopes.replace(",", " ").split())


def sources(config: Mapping[str, Any]) -> list[Source]:
    """The sources of ``config``; ``ToolError`` when the settings do not fit (saved by an older version)."""
    raw = config.get("sources") or []
    try:
        return [Source.model_validate(item) for item in raw]
    except ValidationError as error:
        raise ToolError.from_template(
            "invalid_settings",
            gettext_noop("The OpenAPI settings are invalid: %(problem)s"),
            problem=str(error.errors()[0]["msg"]),
        ) from None


def source_named(config: Mapping[str, Any], name: str) -> Source:
    for source in sources(config):
        if source.name == name:
            return source
    raise ToolError.from_template(
        "tool_not_found", gettext_noop("The API %(source)s is not in the settings any more."), source=name
    )
