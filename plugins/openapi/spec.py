"""An OpenAPI document: read (JSON or YAML, safely), checked, and its local ``$ref``s followed.

A spec comes from a URL (fetched with ``ctx.http``, the SSRF-safe client) or from text an admin
pasted. It must be OpenAPI 3.0, 3.1 or 3.2 in one document: a ``$ref`` to another file or URL is
refused rather than fetched (a spec must not make the server request arbitrary addresses, and a
bundled spec is what every OpenAPI tool can produce). The document is then validated with
``openapi-spec-validator``; its messages name the place in the spec that is wrong.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import unquote

import yaml
from openapi_spec_validator import OpenAPIV30SpecValidator, OpenAPIV31SpecValidator, OpenAPIV32SpecValidator

from builder.bots.yaml_safety import UnsafeYaml, load_untrusted_yaml
from builder.core.untrusted import MAX_NESTING_DEPTH, json_nesting_exceeds
from builder.engine.i18n import gettext_noop
from builder.sdk import PluginContext, ToolError

MAX_SPEC_CHARS: Final = 5_000_000
MAX_SHOWN_PROBLEMS: Final = 3
_VALIDATORS: Final = {
    "3.0": OpenAPIV30SpecValidator,
    "3.1": OpenAPIV31SpecValidator,
    "3.2": OpenAPIV32SpecValidator,
}
INVALID_SPEC: Final = "invalid_spec"
# The validator switches to jsonschema-rs whenever that package happens to be installed (a test tool
# pulls it in), and its messages differ in shape and quoting: the pure-Python backend, unless the
# deployment chose otherwise, so users read the same messages everywhere (read at each validation).
os.environ.setdefault("OPENAPI_SPEC_VALIDATOR_SCHEMA_VALIDATOR_BACKEND", "jsonschema")


class SpecError(ValueError):
    """The text is not an OpenAPI 3 document this plugin can use; the message says why, for the admin."""


@dataclass(frozen=True)
class Spec:
    """A validated OpenAPI document, and where it came from (relative server URLs are resolved
    against ``url``)."""

    document: dict[str, Any]
    url: str = ""

    @property
    def version(self) -> str:
        return str(self.document["openapi"])

    @property
    def is_30(self) -> bool:
        return self.version.startswith("3.0")

    @property
    def title(self) -> str:
        return str(self.document.get("info", {}).get("title", ""))

    def follow(self, node: Any) -> Any:
        """``node`` itself, or what its ``$ref`` points to (chains followed, a loop refused)."""
        seen: set[str] = set()
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if ref in seen:
                raise SpecError(f"{ref} refers to itself")
            seen.add(ref)
            node = self.pointer(ref)
        return node

    def pointer(self, ref: str) -> Any:
        """What a local ``$ref`` (``#/components/schemas/Pet``) points to."""
        if not ref.startswith("#"):
            raise SpecError(f"{ref}: only references inside the document (#/…) are supported")
        node: Any = self.document
        for raw in unquote(ref[1:]).split("/")[1:] if ref != "#" else []:
            part = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise SpecError(f"{ref} points to nothing in the document")
        return node


def parse_spec_text(text: str) -> dict[str, Any]:
    """JSON or YAML text → the document (a mapping); ``SpecError`` otherwise."""
    if len(text) > MAX_SPEC_CHARS:
        raise SpecError(f"the spec is larger than {MAX_SPEC_CHARS // 1_000_000} MB")
    stripped = text.lstrip()
    if not stripped:
        raise SpecError("the spec is empty")
    if stripped.startswith("{") and json_nesting_exceeds(stripped):  # json.loads would recurse past the stack
        raise SpecError(f"not accepted JSON: nested deeper than {MAX_NESTING_DEPTH} levels")
    try:
        document = json.loads(stripped) if stripped.startswith("{") else load_untrusted_yaml(stripped)
    except json.JSONDecodeError as error:
        raise SpecError(f"not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})") from None
    except UnsafeYaml as error:
        raise SpecError(f"not accepted YAML: {error}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(error, "problem", None) or "cannot be read"
        raise SpecError(f"not valid YAML: {problem}{where}") from None
    if not isinstance(document, dict):
        raise SpecError("the spec must be a JSON or YAML object (openapi, info, paths…)")
    return _as_json(document)  # type: ignore[no-any-return]


def _as_json(node: Any) -> Any:
    """What YAML reads that JSON cannot say, as JSON would: ``200:`` keys as strings, dates as text."""
    if isinstance(node, dict):
        return {str(key): _as_json(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_as_json(value) for value in node]
    if isinstance(node, datetime.date):
        return node.isoformat()
    return node


def check_spec(document: dict[str, Any], url: str = "") -> Spec:
    """The document as a ``Spec`` if it is a valid OpenAPI 3 document with local references only."""
    version = document.get("openapi")
    if version is None and "swagger" in document:
        raise SpecError("this is a Swagger 2.0 document: convert it to OpenAPI 3 first (swagger.io's converter)")
    if not isinstance(version, str) or version[:3] not in _VALIDATORS:
        raise SpecError(f'not an OpenAPI 3.0, 3.1 or 3.2 document ("openapi": {json.dumps(version)})')
    spec = Spec(document=document, url=url)
    for where, ref in _refs(document, ""):
        if not ref.startswith("#"):
            raise SpecError(f"{where}: {ref} is another document; paste or link a bundled spec (one file)")
        spec.pointer(ref)
    try:
        problems = list(_first(_VALIDATORS[version[:3]](document).iter_errors(), MAX_SHOWN_PROBLEMS))
    except SpecError:
        raise
    except Exception as error:  # the validator's own failure on a strange document: still the spec's fault
        raise SpecError(f"the spec cannot be validated: {type(error).__name__}: {error}") from None
    if problems:
        raise SpecError("; ".join(_described(problem) for problem in problems))
    if not isinstance(document.get("paths", {}), dict) or not document.get("paths"):
        raise SpecError("the spec has no paths: there is nothing to call")
    return spec


def load_spec_text(text: str, url: str = "") -> Spec:
    return check_spec(parse_spec_text(text), url)


async def fetch_spec(ctx: PluginContext, url: str, *, timeout_s: float) -> Spec:
    """The spec at ``url``, fetched through the SSRF-safe client; ``ToolError(invalid_spec)`` when it
    is not a usable spec (a network failure is the client's own error)."""
    response = await ctx.http.request(
        "GET",
        url,
        headers={"Accept": "application/json, application/yaml, text/yaml, */*"},
        timeout_s=timeout_s,
    )
    if response.status_code != 200:
        raise ToolError.from_template(
            INVALID_SPEC,
            gettext_noop("Fetching the spec at %(url)s answered %(status)s."),
            url=url,
            status=response.status_code,
        )
    try:
        # Parsing and validating a large spec takes a while: off the event loop.
        return await asyncio.to_thread(load_spec_text, response.body, url)
    except SpecError as error:
        raise ToolError.from_template(
            INVALID_SPEC, gettext_noop("The spec at %(url)s is not usable: %(problem)s"), url=url, problem=str(error)
        ) from None


def _refs(node: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield where, ref
        for key, value in node.items():
            if isinstance(value, dict | list):
                yield from _refs(value, f"{where}.{key}" if where else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _refs(value, f"{where}.{index}")


def _first(errors: Iterator[Any], count: int) -> Iterator[Any]:
    for index, error in enumerate(errors):
        if index >= count:
            return
        yield error


def _described(error: Any) -> str:
    path = ".".join(str(part) for part in getattr(error, "absolute_path", None) or getattr(error, "path", []))
    message = str(getattr(error, "message", error))
    message = message if len(message) <= 300 else message[:299] + "…"
    return f"{path}: {message}" if path else message
