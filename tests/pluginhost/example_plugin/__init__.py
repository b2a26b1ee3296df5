"""The host's test plugin: ``echo`` works; the others fail each in its own way."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from builder.sdk import CredentialCheck, PluginContext, ToolError, ToolSpec, hookimpl

VALID_KEY = "good-key-123456"


class EchoInput(BaseModel):
    text: str = Field(description="What to say back.")
    times: int = Field(default=1, ge=1, le=5, description="How many times.")


class EchoOutput(BaseModel):
    text: str
    region: str


class Nothing(BaseModel):
    pass


class Fetched(BaseModel):
    status: int


class FetchInput(BaseModel):
    url: str


async def echo(data: EchoInput, ctx: PluginContext) -> EchoOutput:
    await ctx.progress(50, "halfway")
    await ctx.progress(100, "done")
    return EchoOutput(text=" ".join([data.text] * data.times), region=str(ctx.config["region"]))


async def explode(data: Nothing, ctx: PluginContext) -> Nothing:
    raise RuntimeError(f"the upstream refused key {ctx.config.get('api_key')}")


async def hang(data: Nothing, ctx: PluginContext) -> Nothing:
    await asyncio.sleep(3600)
    return Nothing()


async def stubborn(data: Nothing, ctx: PluginContext) -> Nothing:
    """Swallows its first cancellation and carries on: the host must not wait for it anyway."""
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        await asyncio.sleep(2)
    return Nothing()


async def wrong_type(data: Nothing, ctx: PluginContext) -> Any:
    return "not a model"


async def needs_key(data: Nothing, ctx: PluginContext) -> EchoOutput:
    key = ctx.credential("api_key")
    return EchoOutput(text=f"key ends with {key[-4:]}", region=str(ctx.config["region"]))


async def refuse(data: Nothing, ctx: PluginContext) -> Nothing:
    raise ToolError("The quota of this account is used up.", code="quota_exceeded", retryable=True)


async def fetch(data: FetchInput, ctx: PluginContext) -> Fetched:
    response = await ctx.http.request("GET", data.url, timeout_s=5)
    return Fetched(status=response.status_code)


@hookimpl
def register_tools() -> list[ToolSpec[Any, Any]]:
    return [
        ToolSpec(
            name="echo", description="Say the text back.", input_model=EchoInput, output_model=EchoOutput, invoke=echo
        ),
        ToolSpec(
            name="explode",
            description="Raises an exception.",
            input_model=Nothing,
            output_model=Nothing,
            invoke=explode,
        ),
        ToolSpec(
            name="hang",
            description="Hangs past its timeout.",
            input_model=Nothing,
            output_model=Nothing,
            invoke=hang,
            timeout_s=0.2,
        ),
        ToolSpec(
            name="stubborn",
            description="Hangs and ignores its cancellation.",
            input_model=Nothing,
            output_model=Nothing,
            invoke=stubborn,
            timeout_s=0.2,
        ),
        ToolSpec(
            name="wrong_type",
            description="Returns a string.",
            input_model=Nothing,
            output_model=Nothing,
            invoke=wrong_type,
        ),
        ToolSpec(
            name="needs_key",
            description="Needs the API key.",
            input_model=Nothing,
            output_model=EchoOutput,
            invoke=needs_key,
        ),
        ToolSpec(
            name="refuse", description="Raises a ToolError.", input_model=Nothing, output_model=Nothing, invoke=refuse
        ),
        ToolSpec(
            name="fetch",
            description="Fetches a URL with GET.",
            input_model=FetchInput,
            output_model=Fetched,
            invoke=fetch,
        ),
    ]


@hookimpl
async def validate_config(plugin_id: str, config: Mapping[str, Any], ctx: PluginContext) -> CredentialCheck | None:
    if plugin_id != "example":
        return None
    if config.get("api_key") == VALID_KEY:
        return CredentialCheck(ok=True, message="The key works.")
    return CredentialCheck(ok=False, message=f"The key {config.get('api_key')} was rejected.")
