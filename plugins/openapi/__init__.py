"""OpenAPI: any OpenAPI 3 spec imported as tools, one per operation (README.md).

A workspace lists its APIs in the settings (``sources``: a spec URL or pasted JSON/YAML, a server
URL override, and how to authenticate). The ``operations`` tool set lists, per workspace, one tool
per operation named ``<source>__<operation>``; the host caches the list per state of the settings.
A built-in plugin shaped exactly like a third-party package: these hooks, ``manifest.json`` next to
them, and the entry point ``openapi = "plugins.openapi"`` in Agentloom's pyproject.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, Final

from builder.sdk import CredentialCheck, ListedTools, PluginContext, ToolSet, ToolSpec, hookimpl, source_problems
from plugins.openapi.auth import AuthSettingsError, access_token, auth_plan
from plugins.openapi.calls import operation_tool
from plugins.openapi.operations import operations, server_url
from plugins.openapi.settings import Source, sources
from plugins.openapi.spec import Spec, SpecError, fetch_spec, load_spec_text

PLUGIN_ID: Final = "openapi"
logger = logging.getLogger(__name__)


async def load_source(ctx: PluginContext, source: Source) -> Spec:
    """The source's spec: the pasted text, or fetched from its URL through the SSRF-safe client."""
    if source.spec.strip():
        return await asyncio.to_thread(load_spec_text, source.spec)
    if source.spec_url:
        return await fetch_spec(ctx, source.spec_url, timeout_s=source.timeout_s)
    raise SpecError("give the spec's URL or paste the spec")


async def _source_tools(ctx: PluginContext, source: Source, taken: set[str]) -> list[ToolSpec[Any, Any]]:
    spec = await load_source(ctx, source)
    base = source.server_url or server_url(spec)
    plan = auth_plan(spec, source, base)
    tools = []
    for operation in operations(spec, source.name, taken):
        try:
            tools.append(operation_tool(operation, plan, source, base))
        except ValueError as error:  # a schema in the spec that is not valid JSON Schema
            logger.warning(
                "openapi source %s: %s %s left out: %s", source.name, operation.method, operation.path, error
            )
    return tools


async def list_operations(ctx: PluginContext) -> ListedTools:
    """Every operation of every source as a tool; a source that fails is a problem of its own."""
    tools: list[ToolSpec[Any, Any]] = []
    problems: dict[str, str] = {}
    taken: set[str] = set()
    for source in sources(ctx.config):
        try:
            tools += await _source_tools(ctx, source, taken)
        except Exception as error:  # one source's failure must not hide the others' tools
            problems[source.name] = _reason(error)
    return ListedTools(tools=tools, problems=problems)


def _reason(error: Exception) -> str:
    if isinstance(error, SpecError):
        return f"the spec is not usable: {error}"
    if isinstance(error, AuthSettingsError):
        return str(error)
    message = getattr(error, "message", None)
    if isinstance(message, str):  # ToolError, and NodeError from ctx.http
        return message
    logger.error("openapi: a source failed", exc_info=error)
    return f"{type(error).__name__}: {error}"


@hookimpl
def register_toolsets() -> list[ToolSet]:
    return [
        ToolSet(
            name="operations",
            description="One tool per operation of each OpenAPI spec imported in the settings.",
            list_tools=list_operations,
            cache_ttl_s=600,
        )
    ]


@hookimpl
def check_config(plugin_id: str, config: Mapping[str, Any]) -> dict[str, list[str]] | None:
    """Before saving: each source has one spec that parses and validates, and what its auth needs."""
    if plugin_id != PLUGIN_ID:
        return None
    return source_problems(config.get("sources"), field="sources", model=Source, problems_of=_source_problems)


def _source_problems(source: Source) -> Sequence[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if bool(source.spec_url) == bool(source.spec.strip()):
        found.append(("spec_url", "Give the spec's URL or paste the spec: one of the two."))
    if source.auth in ("api_key", "bearer", "oauth2_client_credentials") and not source.secret:
        found.append(("secret", "Required by this authentication."))
    if source.auth == "oauth2_client_credentials" and not source.client_id:
        found.append(("client_id", "Required by this authentication."))
    if not source.spec.strip():
        return found  # a spec URL is fetched and checked by the Test button and when tools are listed
    try:
        spec = load_spec_text(source.spec)
    except SpecError as error:
        return [*found, ("spec", f"Not a usable OpenAPI spec: {error}")]
    base = source.server_url or server_url(spec)
    if "://" not in base:
        found.append(("server_url", "The spec gives no absolute server URL: enter the API's URL."))
    try:
        auth_plan(spec, source, base)
    except AuthSettingsError as error:
        found.append((error.field, str(error)))
    return found


@hookimpl
def validate_config(plugin_id: str, config: Mapping[str, Any], ctx: PluginContext) -> Awaitable[CredentialCheck] | None:
    """The Test button: every spec fetched and read, and OAuth2 client credentials exchanged."""
    if plugin_id != PLUGIN_ID:
        return None
    return _test(ctx)


async def _test(ctx: PluginContext) -> CredentialCheck:
    listed = sources(ctx.config)
    if not listed:
        return CredentialCheck(ok=False, message="Add an API: a spec URL or a pasted spec.")
    lines: list[str] = []
    ok = True
    for source in listed:
        try:
            spec = await load_source(ctx, source)
            base = source.server_url or server_url(spec)
            plan = auth_plan(spec, source, base)
            count = len(operations(spec, source.name, set()))
            if plan.kind == "oauth2" and source.secret:
                await access_token(plan, source, ctx, fresh=True)
            lines.append(f"{source.name}: {spec.title or 'API'}, {count} tools, {plan.describe()}.")
        except Exception as error:
            ok = False
            lines.append(f"{source.name}: {_reason(error)}")
    return CredentialCheck(ok=ok, message=" ".join(lines))
