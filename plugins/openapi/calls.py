"""One operation as a tool: the input turned into an HTTP request (through ``ctx.http``), the answer
into ``{"status", "data"}``, and an error status into a ``ToolError`` the model can act on.

Parameters are serialised as OpenAPI says for their ``style``: path parameters percent-encoded,
query arrays repeated (``explode``) or joined, objects as ``deepObject`` or form fields, headers
and cookies as text. The server is the source's override, else the operation's, else the spec's.
"""

from __future__ import annotations

import json
from typing import Any, Final
from urllib.parse import quote, urlencode

from pydantic import BaseModel, Field, JsonValue

from builder.engine.i18n import gettext_noop
from builder.sdk import PluginContext, ToolError, ToolSpec, json_schema_model
from plugins.openapi.auth import UNAUTHORIZED, AuthPlan, authenticate
from plugins.openapi.operations import Operation, Parameter
from plugins.openapi.settings import Source, source_named

MAX_TEXT_CHARS: Final = 200_000
MAX_ERROR_CHARS: Final = 500
_DELIMITERS: Final = {"form": ",", "simple": ",", "spaceDelimited": " ", "pipeDelimited": "|"}


class OperationOutput(BaseModel):
    """What the API answered."""

    status: int = Field(description="The HTTP status code of the answer.")
    data: JsonValue = Field(default=None, description="The answer's JSON, or its text.")


def operation_tool(operation: Operation, plan: AuthPlan, source: Source, base_url: str) -> ToolSpec[Any, Any]:
    """The tool for ``operation`` of ``source``. It reads the source's settings (and secret) from the
    call's context, so a cached tool never holds a secret."""
    source_name = source.name

    async def invoke(data: BaseModel, ctx: PluginContext) -> OperationOutput:
        current = source_named(ctx.config, source_name)
        return await call(operation, plan, current, data.model_dump(), ctx, base_url=current.server_url or base_url)

    return ToolSpec(
        name=operation.tool_name,
        title=operation.title,
        description=operation.description,
        input_model=json_schema_model(operation.tool_name, operation.input_schema),
        output_model=OperationOutput,
        invoke=invoke,
        # Room for a token request and the one retry after a 401, each within the source's timeout.
        timeout_s=min(source.timeout_s * 3 + 5, 3600.0),
    )


async def call(
    operation: Operation, plan: AuthPlan, source: Source, inputs: dict[str, Any], ctx: PluginContext, *, base_url: str
) -> OperationOutput:
    server = operation.server_url if operation.server_url and not source.server_url else base_url
    if not server or "://" not in server:
        raise ToolError.from_template(
            "invalid_settings",
            gettext_noop("The %(source)s API has no absolute server URL: set the server URL in the OpenAPI settings."),
            source=source.name,
        )
    for attempt in (1, 2):
        url, headers, query, cookies = _request_parts(operation, inputs)
        if operation.secured:
            await authenticate(plan, source, ctx, headers, query, fresh_token=attempt == 2)
        if cookies:
            headers["Cookie"] = "; ".join(cookies)
        target = server.rstrip("/") + url + (("&" if "?" in url else "?") + urlencode(query) if query else "")
        body = inputs.get(operation.body_key) if operation.body_kind else None
        response = await ctx.http.request(
            operation.method,
            target,
            headers=headers,
            json=body if operation.body_kind == "json" and body is not None else None,
            data={key: _text(value) for key, value in body.items()}
            if operation.body_kind == "form" and isinstance(body, dict)
            else None,
            timeout_s=source.timeout_s,
        )
        if response.status_code == 401 and plan.kind == "oauth2" and operation.secured and attempt == 1:
            continue  # the token may have expired early or been revoked: fetch a fresh one, once
        break
    data = _data(response.body, response.content, response.headers)
    if not 200 <= response.status_code < 300:
        raise _api_error(source.name, response.status_code, data)
    return OperationOutput(status=response.status_code, data=data)


def _request_parts(
    operation: Operation, inputs: dict[str, Any]
) -> tuple[str, dict[str, str], list[tuple[str, str]], list[str]]:
    path = operation.path
    headers = {"Accept": "application/json, */*;q=0.5"}
    query: list[tuple[str, str]] = []
    cookies: list[str] = []
    for parameter in operation.parameters:
        if parameter.key not in inputs or inputs[parameter.key] is None:
            continue
        value = inputs[parameter.key]
        if parameter.location == "path":
            path = path.replace("{" + parameter.name + "}", quote(_joined(value, ","), safe=""))
        elif parameter.location == "query":
            query += _query_pairs(parameter, value)
        elif parameter.location == "header":
            headers[parameter.name] = json.dumps(value) if parameter.as_json else _joined(value, ",")
        else:
            cookies.append(f"{parameter.name}={quote(_joined(value, ','), safe='')}")
    return path, headers, query, cookies


def _query_pairs(parameter: Parameter, value: Any) -> list[tuple[str, str]]:
    name = parameter.name
    if parameter.as_json:
        return [(name, json.dumps(value, ensure_ascii=False))]
    if isinstance(value, list):
        if parameter.explode and parameter.style == "form":
            return [(name, _text(item)) for item in value]
        return [(name, _DELIMITERS.get(parameter.style, ",").join(_text(item) for item in value))]
    if isinstance(value, dict):
        if parameter.style == "deepObject":
            return [(f"{name}[{key}]", _text(item)) for key, item in value.items()]
        if parameter.explode:
            return [(str(key), _text(item)) for key, item in value.items()]
        return [(name, ",".join(f"{key},{_text(item)}" for key, item in value.items()))]
    return [(name, _text(value))]


def _joined(value: Any, separator: str) -> str:
    if isinstance(value, list):
        return separator.join(_text(item) for item in value)
    if isinstance(value, dict):
        return separator.join(f"{key}{separator}{_text(item)}" for key, item in value.items())
    return _text(value)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _data(body: str, content: bytes, headers: dict[str, str]) -> JsonValue:
    content_type = next((value for name, value in headers.items() if name.lower() == "content-type"), "")
    base = content_type.split(";")[0].strip().lower()
    if not content:
        return None
    if base == "application/json" or base.endswith("+json") or (not base and body.lstrip()[:1] in ("{", "[")):
        try:
            parsed: JsonValue = json.loads(body)
            return parsed
        except json.JSONDecodeError:
            pass
    if base.startswith(("image/", "audio/", "video/", "application/octet-stream", "application/pdf")):
        return f"({len(content)} bytes of {base}, not shown)"
    return body if len(body) <= MAX_TEXT_CHARS else body[:MAX_TEXT_CHARS] + "…"


def _api_error(source: str, status: int, data: JsonValue) -> ToolError:
    shown = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    shown = shown if len(shown) <= MAX_ERROR_CHARS else shown[:MAX_ERROR_CHARS] + "…"
    if status in (401, 403):
        code, retryable = UNAUTHORIZED, False
    elif status == 404:
        code, retryable = "not_found", False
    elif status == 429:
        code, retryable = "rate_limited", True
    else:
        code, retryable = "api_error", status >= 500
    if not shown:
        return ToolError.from_template(
            code,
            gettext_noop("The %(source)s API answered %(status)s."),
            retryable=retryable,
            details={"status": status},
            source=source,
            status=status,
        )
    return ToolError.from_template(  # the API's own answer is a parameter, never translated
        code,
        gettext_noop("The %(source)s API answered %(status)s: %(answer)s"),
        retryable=retryable,
        details={"status": status},
        source=source,
        status=status,
        answer=shown,
    )
