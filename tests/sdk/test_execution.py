"""run_tool: every way a tool call can go wrong ends as a ToolError with a stable code."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest
from pydantic import BaseModel, Field

from builder.engine.runtime.contract import HttpResponse, NodeError
from builder.sdk import JobHandle, JobStatus, PluginContext, ToolError, ToolSpec, run_tool


class In(BaseModel):
    city: str = Field(min_length=2)
    days: int = Field(default=1, ge=1, le=7)


class Out(BaseModel):
    summary: str


class NoHttp:
    async def request(self, method: str, url: str, **kwargs: Any) -> HttpResponse:
        raise NodeError("ssrf_blocked", f"Requests to {url} are not allowed.")


def context(**fields: Any) -> PluginContext:
    return PluginContext(plugin_id="meteo", http=NoHttp(), **fields)


def tool(invoke: Any, **fields: Any) -> ToolSpec[Any, Any]:
    return ToolSpec(name="forecast", description="Forecast.", input_model=In, output_model=Out, invoke=invoke, **fields)


async def sunny(data: In, ctx: PluginContext) -> Out:
    return Out(summary=f"{data.days} sunny days in {data.city}")


async def test_a_good_call_returns_the_output_model() -> None:
    result = await run_tool(tool(sunny), {"city": "Lyon", "days": 2}, context())

    assert result == Out(summary="2 sunny days in Lyon")


async def test_bad_input_names_every_field_and_never_reaches_the_tool() -> None:
    called = False

    async def spy(data: In, ctx: PluginContext) -> Out:
        nonlocal called
        called = True
        return Out(summary="")

    with pytest.raises(ToolError) as caught:
        await run_tool(tool(spy), {"city": "L", "days": 9}, context())

    error = caught.value
    assert error.code == "invalid_tool_input"
    assert error.message.startswith("Invalid input for the forecast tool: city: ")
    assert "days: Input should be less than or equal to 7" in error.message
    assert set(error.details["fields"]) == {"city", "days"}
    assert error.details["template"] == "Invalid input for the %(tool)s tool: %(problems)s"
    assert not called


async def test_a_dict_that_fits_the_output_model_is_accepted_and_one_that_does_not_is_named() -> None:
    async def as_dict(data: In, ctx: PluginContext) -> Any:
        return {"summary": "ok"}

    async def incomplete(data: In, ctx: PluginContext) -> Any:
        return {"summery": "typo"}

    assert await run_tool(tool(as_dict), {"city": "Lyon"}, context()) == Out(summary="ok")
    with pytest.raises(ToolError) as caught:
        await run_tool(tool(incomplete), {"city": "Lyon"}, context())
    assert caught.value.code == "invalid_tool_output"
    assert caught.value.message == "The forecast tool returned an invalid result: summary: Field required"


@pytest.mark.parametrize("returned", ["sunny", None, 42, JobHandle(job_id="j1")])
async def test_the_wrong_type_is_a_tool_error(returned: Any) -> None:
    async def wrong(data: In, ctx: PluginContext) -> Any:
        return returned

    with pytest.raises(ToolError) as caught:
        await run_tool(tool(wrong), {"city": "Lyon"}, context())

    assert caught.value.code == "invalid_tool_output"
    assert f"returned {type(returned).__name__} instead of Out" in caught.value.message


async def test_a_long_running_tool_may_return_a_job() -> None:
    async def start(data: In, ctx: PluginContext) -> JobHandle:
        return JobHandle(job_id="video-1")

    async def poll(job: JobHandle, ctx: PluginContext) -> JobStatus:
        return JobStatus(state="running")

    spec = tool(start, long_running=True, poll=poll)
    assert await run_tool(spec, {"city": "Lyon"}, context()) == JobHandle(job_id="video-1")


async def test_a_hang_stops_at_the_tools_timeout_and_may_be_retried() -> None:
    cancelled = asyncio.Event()

    async def hang(data: In, ctx: PluginContext) -> Out:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return Out(summary="")

    started = time.monotonic()
    with pytest.raises(ToolError) as caught:
        await run_tool(tool(hang, timeout_s=0.1), {"city": "Lyon"}, context())

    assert time.monotonic() - started < 1
    assert (caught.value.code, caught.value.retryable) == ("tool_timeout", True)
    assert caught.value.message == "The forecast tool did not finish within 0.1 seconds."
    assert cancelled.is_set()


async def test_a_tool_that_swallows_its_cancellation_is_abandoned_not_awaited(caplog: pytest.LogCaptureFixture) -> None:
    async def stubborn(data: In, ctx: PluginContext) -> Out:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await asyncio.sleep(1.5)
        return Out(summary="late")

    started = time.monotonic()
    with pytest.raises(ToolError) as caught:
        await run_tool(tool(stubborn, timeout_s=0.1), {"city": "Lyon"}, context())

    assert caught.value.code == "tool_timeout"
    assert time.monotonic() - started < 1.4
    assert "ignored its cancellation" in caplog.text


async def test_an_exception_is_a_tool_failure_with_secrets_masked(caplog: pytest.LogCaptureFixture) -> None:
    async def broken(data: In, ctx: PluginContext) -> Out:
        raise KeyError(f"no forecast for key {ctx.config['api_key']}")

    ctx = context(config={"api_key": "sk-live-1234567890"}, secrets=("sk-live-1234567890",))
    with caplog.at_level(logging.ERROR), pytest.raises(ToolError) as caught:
        await run_tool(tool(broken), {"city": "Lyon"}, ctx)

    assert caught.value.code == "tool_failed"
    assert caught.value.message == "The forecast tool failed: KeyError: 'no forecast for key [redacted]'"
    assert "Traceback" in caplog.text and "in broken" in caplog.text
    assert "sk-live-1234567890" not in caplog.text


async def test_a_tool_error_keeps_its_code_and_an_http_error_becomes_one() -> None:
    async def refuses(data: In, ctx: PluginContext) -> Out:
        raise ToolError("Quota used up for sk-live-1234567890.", code="quota_exceeded", retryable=True)

    async def fetches(data: In, ctx: PluginContext) -> Out:
        await ctx.http.request("GET", "http://10.0.0.1/")
        return Out(summary="")

    ctx = context(secrets=("sk-live-1234567890",))
    with pytest.raises(ToolError) as refused:
        await run_tool(tool(refuses), {"city": "Lyon"}, ctx)
    with pytest.raises(ToolError) as blocked:
        await run_tool(tool(fetches), {"city": "Lyon"}, ctx)

    assert (refused.value.code, refused.value.retryable) == ("quota_exceeded", True)
    assert refused.value.message == "Quota used up for [redacted]."
    assert blocked.value.code == "ssrf_blocked"


async def test_a_tool_errors_translation_parameters_are_redacted_too() -> None:
    async def refuses(data: In, ctx: PluginContext) -> Out:
        raise ToolError.from_template("quota_exceeded", "Quota used up for %(key)s.", key="sk-live-1234567890")

    with pytest.raises(ToolError) as refused:
        await run_tool(tool(refuses), {"city": "Lyon"}, context(secrets=("sk-live-1234567890",)))

    # The host fills the template again with these parameters to show it in the reader's language.
    assert refused.value.message == "Quota used up for [redacted]."
    assert refused.value.details["params"] == {"key": "[redacted]"}
    assert refused.value.details["template"] == "Quota used up for %(key)s."


def test_a_plugin_cannot_pretend_the_run_was_cancelled_or_use_a_malformed_code() -> None:
    assert ToolError("x", code="cancelled").code == "tool_error"
    assert ToolError("x", code="Not Found!").code == "tool_error"
    assert ToolError("x", code="not_found").code == "not_found"


async def test_the_callers_cancellation_passes_through_and_stops_the_tool() -> None:
    stopped = asyncio.Event()

    async def slow(data: In, ctx: PluginContext) -> Out:
        try:
            await asyncio.sleep(3600)
        finally:
            stopped.set()
        return Out(summary="")

    call = asyncio.ensure_future(run_tool(tool(slow, timeout_s=60), {"city": "Lyon"}, context()))
    await asyncio.sleep(0.05)
    call.cancel()

    with pytest.raises(asyncio.CancelledError):
        await call
    await asyncio.wait_for(stopped.wait(), 1)


async def test_progress_is_clamped_masked_and_never_fails_the_tool() -> None:
    seen: list[tuple[float | None, str]] = []

    async def reporter(percent: float | None, note: str) -> None:
        seen.append((percent, note))
        if len(seen) == 3:
            raise ConnectionError("the client went away")

    ctx = context(reporter=reporter, secrets=("token-123456",))
    await ctx.progress(150, "uploading with token-123456")
    await ctx.progress(float("nan"))
    await ctx.progress(None, "x" * 600)

    assert seen == [(100.0, "uploading with [redacted]"), (0.0, ""), (None, "x" * 500)]


async def test_a_missing_credential_is_a_clear_error() -> None:
    ctx = context(config={"api_key": "  "})

    with pytest.raises(ToolError) as caught:
        ctx.credential("api_key")

    assert caught.value.code == "missing_credentials"
    assert "The meteo plugin needs api_key" in caught.value.message
    assert context(config={"api_key": "k"}).credential("api_key") == "k"
