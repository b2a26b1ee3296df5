"""http_request: call an HTTP API (through the SSRF-safe client at run time)."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from builder.engine.i18n import gettext_noop
from builder.engine.nodes.base import ConfigIssue, NodeConfig, NodeSpec
from builder.engine.nodes.registry import register
from builder.engine.runtime.contract import HttpResponse, NodeContext, NodeResult, node_error
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

    async def run(self, config: HttpRequestConfig, ctx: NodeContext) -> NodeResult:
        http = ctx.services.http
        if http is None:
            template = gettext_noop("HTTP requests cannot be made here: no HTTP client is configured.")
            raise node_error("not_configured", template)
        request = _build_request(config, ctx)
        response = await http.request(
            config.method,
            request.url,
            headers=request.headers,
            params=request.query,
            json=request.json,
            data=request.form,
            content=request.raw,
            timeout_s=config.timeout_s,
        )
        if response.status_code == 429 or response.status_code >= 500:
            # Worth another attempt; a 4xx is an answer the graph may branch on.
            raise node_error(
                "http_status",
                gettext_noop("The server answered %(status)s."),
                retryable=True,
                details={"status_code": response.status_code, "body": response.body[:2000]},
                status=response.status_code,
            )
        outputs = {
            "status_code": response.status_code,
            "headers": response.headers,
            "body": response.body,
            "json": _json_body(response),
        }
        return NodeResult(outputs=outputs, inputs=request.shown(config))


class _Request:
    """The request as sent, and as shown in the trace (credentials masked)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.headers: dict[str, str] = {}
        self.query: dict[str, str] = {}
        self.json: Any = None
        self.form: dict[str, str] | None = None
        self.raw: str | None = None
        self.secret_headers: set[str] = set()
        self.secret_query: set[str] = set()

    def shown(self, config: HttpRequestConfig) -> dict[str, Any]:
        def masked(values: Mapping[str, str], secret: set[str]) -> dict[str, str]:
            return {name: MASK if name in secret else value for name, value in values.items()}

        shown: dict[str, Any] = {
            "method": config.method,
            "url": self.url,
            "headers": masked(self.headers, self.secret_headers),
            "query": masked(self.query, self.secret_query),
        }
        if config.body.type != "none":
            shown["body"] = {"json": self.json, "form": self.form, "raw": self.raw}[config.body.type]
        return shown


MASK = "******"


def _build_request(config: HttpRequestConfig, ctx: NodeContext) -> _Request:
    request = _Request(ctx.render(config.url).strip())
    request.headers = {name: _as_text(ctx.resolve(value)) for name, value in config.headers.items()}
    request.query = {name: _as_text(ctx.resolve(value)) for name, value in config.query.items()}
    body = config.body
    if body.type == "json":
        request.json = ctx.resolve(body.content)
    elif body.type == "form":
        fields = body.content if isinstance(body.content, dict) else {}  # validation made it an object
        request.form = {name: _as_text(ctx.resolve(value)) for name, value in fields.items()}
    elif body.type == "raw":
        request.raw = ctx.render(body.content) if isinstance(body.content, str) else ""
    _add_auth(config.auth, ctx, request)
    return request


def _add_auth(auth: HttpAuth, ctx: NodeContext, request: _Request) -> None:
    if auth.type == "bearer":
        request.headers["Authorization"] = f"Bearer {ctx.render(auth.token)}"
        request.secret_headers.add("Authorization")
    elif auth.type == "basic":
        pair = f"{ctx.render(auth.username)}:{ctx.render(auth.password)}".encode()
        request.headers["Authorization"] = f"Basic {base64.b64encode(pair).decode('ascii')}"
        request.secret_headers.add("Authorization")
    elif auth.type == "api_key" and auth.placement == "header":
        request.headers[auth.name] = ctx.render(auth.api_key)
        request.secret_headers.add(auth.name)
    elif auth.type == "api_key":
        request.query[auth.name] = ctx.render(auth.api_key)
        request.secret_query.add(auth.name)


def _as_text(value: Any) -> str:
    """A header, query or form value: text as is, anything else as JSON (true, 3, [1, 2])."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _json_body(response: HttpResponse) -> Any:
    """The parsed body when the response says it is JSON (``application/json``, ``…+json``), else None."""
    content_type = next((value for name, value in response.headers.items() if name.lower() == "content-type"), "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if not (media_type == "application/json" or media_type.endswith("+json")):
        return None
    try:
        return json.loads(response.body)
    except ValueError:
        return None
