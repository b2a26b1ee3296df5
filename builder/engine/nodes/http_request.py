"""http_request: call an HTTP API (through the SSRF-safe client at run time)."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from builder.engine.i18n import gettext_noop
from builder.engine.nodes.base import ConfigIssue, NodeConfig, NodeSpec
from builder.engine.nodes.registry import register
from builder.engine.runtime.contract import HttpResponse, NodeContext, NodeResult, node_error
from builder.engine.secrets import (
    MASK,
    SECRET_NAMES,
    CredentialRef,
    Secret,
    SecretOrValue,
    is_secret_name,
    masked,
    reveal,
    secret_names_schema,
)
from builder.engine.values import RequiredTemplate, StrictModel, Template, field_error

# Which auth fields each auth type needs.
_AUTH_REQUIRES: dict[str, tuple[str, ...]] = {
    "none": (),
    "bearer": ("token",),
    "basic": ("username", "password"),
    "api_key": ("api_key",),
}


class HttpBody(StrictModel):
    type: Literal["none", "json", "form", "raw"] = "none"
    # json: any value; form: an object of fields; raw: a template string. A field named like a
    # credential ("password", "client_secret") is a secret, and any value may be a credential reference.
    content: Annotated[SecretOrValue, SECRET_NAMES] = Field(default=None, json_schema_extra=secret_names_schema())

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
    # Secrets: a credential reference once saved (see builder/engine/secrets.py).
    token: Secret = ""
    username: Template = ""
    password: Secret = ""
    api_key: Secret = ""
    # Where an api_key goes: the header (or query parameter) named ``name``.
    placement: Literal["header", "query"] = "header"
    name: str = Field(default="X-API-Key", min_length=1, max_length=200)

    def unfilled_fields(self) -> list[str]:
        """Credentials this auth type needs that are still empty (exports blank them)."""
        return [name for name in _AUTH_REQUIRES[self.type] if _unset(getattr(self, name))]


def _unset(value: str | CredentialRef) -> bool:
    return isinstance(value, str) and not value.strip()


class HttpRequestConfig(NodeConfig):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
    url: RequiredTemplate
    # A header or parameter named like a credential (Authorization, X-Api-Key…) is a secret, and any
    # value may be a credential reference.
    headers: Annotated[dict[str, SecretOrValue], SECRET_NAMES] = Field(
        default_factory=dict, max_length=100, json_schema_extra=secret_names_schema()
    )
    query: Annotated[dict[str, SecretOrValue], SECRET_NAMES] = Field(
        default_factory=dict, max_length=100, json_schema_extra=secret_names_schema()
    )
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
        request = await _build_request(config, ctx)
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
        def hidden(values: Mapping[str, str], secret: set[str]) -> dict[str, str]:
            return {name: MASK if name in secret else value for name, value in values.items()}

        shown: dict[str, Any] = {
            "method": config.method,
            "url": self.url,
            "headers": hidden(self.headers, self.secret_headers),
            "query": hidden(self.query, self.secret_query),
        }
        if config.body.type != "none":
            sent = {"json": self.json, "form": self.form, "raw": self.raw}[config.body.type]
            shown["body"] = masked(config.body.content, sent)
        return shown


async def _build_request(config: HttpRequestConfig, ctx: NodeContext) -> _Request:
    request = _Request(ctx.render(config.url).strip())
    for name, value in config.headers.items():
        request.headers[name] = _as_text(await reveal(value, ctx))
        if isinstance(value, CredentialRef) or is_secret_name(name):
            request.secret_headers.add(name)
    for name, value in config.query.items():
        request.query[name] = _as_text(await reveal(value, ctx))
        if isinstance(value, CredentialRef) or is_secret_name(name):
            request.secret_query.add(name)
    body = config.body
    if body.type == "json":
        request.json = await reveal(body.content, ctx)
    elif body.type == "form":
        fields = body.content if isinstance(body.content, dict) else {}  # validation made it an object
        request.form = {name: _as_text(await reveal(value, ctx)) for name, value in fields.items()}
    elif body.type == "raw":
        request.raw = ctx.render(body.content) if isinstance(body.content, str) else ""
    await _add_auth(config.auth, ctx, request)
    return request


async def _add_auth(auth: HttpAuth, ctx: NodeContext, request: _Request) -> None:
    if auth.type == "bearer":
        request.headers["Authorization"] = f"Bearer {await _secret_text(auth.token, ctx)}"
        request.secret_headers.add("Authorization")
    elif auth.type == "basic":
        pair = f"{ctx.render(auth.username)}:{await _secret_text(auth.password, ctx)}".encode()
        request.headers["Authorization"] = f"Basic {base64.b64encode(pair).decode('ascii')}"
        request.secret_headers.add("Authorization")
    elif auth.type == "api_key" and auth.placement == "header":
        request.headers[auth.name] = await _secret_text(auth.api_key, ctx)
        request.secret_headers.add(auth.name)
    elif auth.type == "api_key":
        request.query[auth.name] = await _secret_text(auth.api_key, ctx)
        request.secret_query.add(auth.name)


async def _secret_text(value: str | CredentialRef, ctx: NodeContext) -> str:
    """A credential in clear, or a template rendered (as auth fields always were)."""
    return ctx.render(value) if isinstance(value, str) else _as_text(await reveal(value, ctx))


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
