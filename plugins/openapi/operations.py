"""Each operation of a spec → what a tool needs: its name, description, input schema and how to
turn an input back into an HTTP request.

- Name: the ``operationId`` (``findPetsByStatus`` → ``petstore__find_pets_by_status``), or the method
  and path (``petstore__get_pet_pet_id``), made unique in document order, so names are stable
  while the spec keeps its operations.
- Input: one property per path, query, header and cookie parameter (path and operation parameters
  merged, the operation's winning), and ``body`` for a JSON or form request body; ``$ref``s
  resolved, recursive structures cut (``schemas.py``).
- An operation whose required body is neither JSON nor a form (a file upload) is left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import urljoin

from builder.sdk import unique_tool_name
from plugins.openapi.schemas import json_schema
from plugins.openapi.spec import Spec

METHODS: Final = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
MAX_DESCRIPTION_CHARS: Final = 1000
Location = Literal["path", "query", "header", "cookie"]
BodyKind = Literal["json", "form"]
_LOCATIONS: Final = ("path", "query", "header", "cookie")


@dataclass(frozen=True)
class Parameter:
    key: str  # the input's property
    name: str  # the name in the request
    location: Location
    required: bool
    style: str
    explode: bool
    as_json: bool  # "content": {"application/json": …} instead of a schema


@dataclass(frozen=True)
class Operation:
    tool_name: str
    method: str
    path: str
    title: str
    description: str
    parameters: tuple[Parameter, ...]
    body_key: str
    body_kind: BodyKind | None
    input_schema: dict[str, Any]
    # The operation's own server (from path or operation ``servers``), else "".
    server_url: str
    # False when the operation says ``security: []`` (public even in a secured API).
    secured: bool


def server_url(spec: Spec, servers: Any = None) -> str:
    """The first server of ``servers`` (default: the spec's), variables at their defaults, made
    absolute against the spec's URL when it is relative; "" when there is none."""
    listed = servers if servers is not None else spec.document.get("servers")
    if not isinstance(listed, list) or not listed or not isinstance(listed[0], dict):
        return ""
    server = listed[0]
    url = str(server.get("url", ""))
    for name, variable in (server.get("variables") or {}).items():
        if isinstance(variable, dict) and "default" in variable:
            url = url.replace("{" + name + "}", str(variable["default"]))
    if spec.url and not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", url):
        url = urljoin(spec.url, url)
    return url


def operations(spec: Spec, source: str, taken: set[str]) -> list[Operation]:
    """The spec's operations in document order, named ``<source>__…`` (unique against ``taken``)."""
    found: list[Operation] = []
    for path, raw_item in spec.document.get("paths", {}).items():
        item = spec.follow(raw_item)
        if not isinstance(item, dict):
            continue
        shared = item.get("parameters") or []
        for method in METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            built = _operation(spec, source, taken, path, method, operation, shared, item.get("servers"))
            if built is not None:
                found.append(built)
    return found


def _operation(
    spec: Spec,
    source: str,
    taken: set[str],
    path: str,
    method: str,
    operation: dict[str, Any],
    shared: list[Any],
    path_servers: Any,
) -> Operation | None:
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for raw in [*shared, *(operation.get("parameters") or [])]:
        parameter = spec.follow(raw)
        if isinstance(parameter, dict) and parameter.get("in") in _LOCATIONS and parameter.get("name"):
            merged[(str(parameter["in"]), str(parameter["name"]))] = parameter
    properties: dict[str, Any] = {}
    required: list[str] = []
    parameters: list[Parameter] = []
    # Path parameters first: what a model must fill in to address anything.
    for (location, name), parameter in sorted(merged.items(), key=lambda entry: _LOCATIONS.index(entry[0][0])):
        if location == "header" and name.lower() in ("accept", "content-type", "authorization"):
            continue  # set by the plugin itself (OpenAPI ignores these as parameters too)
        key = name if name not in properties else f"{location}_{name}"
        properties[key] = _parameter_schema(spec, parameter)
        is_required = location == "path" or bool(parameter.get("required"))
        if is_required:
            required.append(key)
        style = str(parameter.get("style") or ("simple" if location in ("path", "header") else "form"))
        parameters.append(
            Parameter(
                key=key,
                name=name,
                location=location,  # type: ignore[arg-type]
                required=is_required,
                style=style,
                explode=bool(parameter.get("explode", style == "form")),
                as_json="schema" not in parameter and "content" in parameter,
            )
        )
    body_key, body_kind = "body" if "body" not in properties else "request_body", None
    body = spec.follow(operation.get("requestBody")) if operation.get("requestBody") else None
    if isinstance(body, dict):
        kind, media = _body_media(body.get("content") or {})
        if kind is None:
            if body.get("required"):
                return None  # a file upload or another body this plugin cannot send
        else:
            body_kind = kind
            schema = json_schema(spec, media.get("schema") or {})
            if body.get("description") and "description" not in schema:
                schema["description"] = str(body["description"])
            properties[body_key] = schema
            if body.get("required"):
                required.append(body_key)
    input_schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        input_schema["required"] = required
    name_source = str(operation.get("operationId") or f"{method} {path}")
    summary = str(operation.get("summary") or "").strip()
    details = str(operation.get("description") or "").strip()
    description = "\n\n".join(part for part in (summary, details) if part) or f"{method.upper()} {path}"
    if operation.get("deprecated"):
        description = f"(Deprecated.) {description}"
    own_servers = operation.get("servers") or path_servers
    return Operation(
        tool_name=unique_tool_name(name_source, taken, prefix=source, fallback=method),
        method=method.upper(),
        path=path,
        title=summary[:100] or name_source[:100],
        description=description[:MAX_DESCRIPTION_CHARS],
        parameters=tuple(parameters),
        body_key=body_key,
        body_kind=body_kind,
        input_schema=input_schema,
        server_url=server_url(spec, own_servers) if own_servers else "",
        secured=operation.get("security") != [],
    )


def _parameter_schema(spec: Spec, parameter: dict[str, Any]) -> dict[str, Any]:
    if "schema" in parameter:
        schema = json_schema(spec, parameter["schema"])
    else:
        _kind, media = _body_media(parameter.get("content") or {})
        schema = json_schema(spec, media.get("schema") or {})
    if parameter.get("description") and "description" not in schema:
        schema["description"] = str(parameter["description"])
    return schema


def _body_media(content: Any) -> tuple[BodyKind | None, dict[str, Any]]:
    """The request body's media type this plugin sends: JSON first, then a form."""
    if not isinstance(content, dict):
        return None, {}
    for media_type, media in content.items():
        base = str(media_type).split(";")[0].strip().lower()
        if base == "application/json" or base.endswith("+json") or base == "*/*":
            return "json", media if isinstance(media, dict) else {}
    for media_type, media in content.items():
        if str(media_type).split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
            return "form", media if isinstance(media, dict) else {}
    return None, {}
