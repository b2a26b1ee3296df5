"""http_request: call an HTTP API (through the SSRF-safe client at run time)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from builder.engine.i18n import gettext_noop
from builder.engine.nodes.base import ConfigIssue, NodeConfig, NodeSpec
from builder.engine.nodes.registry import register
from builder.engine.values import RequiredTemplate, StrictModel, Template, Value, field_error

# Which auth fields each auth type needs.
_AUTH_REQUIRES: dict[str, tuple[str, ...]] = {
    "none": (),
    "bearer": ("token",),
    "basic": ("username", "password"),
    "api_key": ("api_key",),
}


class HttpBody(StrictModel):
    type: Literal["none", "json", "form", "raw"] = "none"
    # json: any value; form: an object of fields; raw: a template string.
    content: Value = None

    @field_validator("content")
    @classmethod
    def _content_fits_type(cls, value: Any, info: ValidationInfo) -> Any:
        body_type = info.data.get("type")
        if body_type == "form" and value is not None and not isinstance(value, dict):
            raise field_error("invalid_field", gettext_noop("A form body is an object of fields."))
        if body_type == "raw" and value is not None and not isinstance(value, str):
            raise field_error("invalid_field", gettext_noop("A raw body is text."))
        return value


class HttpAuth(StrictModel):
    type: Literal["none", "bearer", "basic", "api_key"] = "none"
    token: Template = ""
    username: Template = ""
    password: Template = ""
    api_key: Template = ""
    # Where an api_key goes: the header (or query parameter) named ``name``.
    placement: Literal["header", "query"] = "header"
    name: str = Field(default="X-API-Key", min_length=1, max_length=200)

    def unfilled_fields(self) -> list[str]:
        """Credentials this auth type needs that are still empty (exports blank them)."""
        return [name for name in _AUTH_REQUIRES[self.type] if not str(getattr(self, name)).strip()]


class HttpRequestConfig(NodeConfig):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
    url: RequiredTemplate
    headers: dict[str, Value] = Field(default_factory=dict, max_length=100)
    query: dict[str, Value] = Field(default_factory=dict, max_length=100)
    body: HttpBody = Field(default_factory=HttpBody)
    auth: HttpAuth = Field(default_factory=HttpAuth)
    timeout_s: float = Field(default=30, ge=1, le=300)


@register
class HttpRequestNode(NodeSpec[HttpRequestConfig]):
    name = "http_request"
    version = 1
    title = gettext_noop("HTTP request")
    description = gettext_noop("Call an HTTP API and use its response.")
    config_model = HttpRequestConfig
    static_outputs = {"status_code": "integer", "headers": "object", "body": "string", "json": "any"}

    def unfilled(self, config: HttpRequestConfig) -> list[ConfigIssue]:
        return [
            ConfigIssue("missing_secret", gettext_noop("Fill in this credential."), f"auth.{name}")
            for name in config.auth.unfilled_fields()
        ]
