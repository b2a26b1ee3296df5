"""Running one tool call safely: the one code path the host, the LangChain wrapper and the SDK's
test harness share.

``run_tool`` validates the input against the tool's input model, runs ``invoke`` within the tool's
timeout, and checks what came back. Whatever goes wrong — bad input, a raise, a hang, the wrong
return type, a missing credential — comes out as a ``ToolError`` with a stable code and a message
that names the tool and, for bad data, the field. Only the caller's own cancellation passes
through (a cancelled run must stop, not turn into an error).
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from pydantic import BaseModel, ValidationError

from builder.engine.i18n import gettext_noop
from builder.engine.runtime.contract import NodeError
from builder.sdk.context import PluginContext
from builder.sdk.errors import FAILED, INVALID_INPUT, INVALID_OUTPUT, TIMEOUT, ToolError
from builder.sdk.jobs import JobStatus
from builder.sdk.tools import JobHandle, ToolSpec

# How long a timed-out tool gets to react to its cancellation before the host stops waiting.
CANCEL_GRACE_S: Final = 1.0
MAX_SHOWN_ERRORS: Final = 3
MAX_EXCEPTION_CHARS: Final = 300


def field_errors(error: ValidationError) -> dict[str, list[str]]:
    """pydantic's errors by dotted field path (``"items.0.url"``), the whole input being ``""``."""
    fields: dict[str, list[str]] = {}
    for problem in error.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in problem["loc"])
        fields.setdefault(where, []).append(problem["msg"])
    return fields


def _summary(fields: Mapping[str, list[str]]) -> str:
    shown = [f"{name or 'input'}: {messages[0]}" for name, messages in list(fields.items())[:MAX_SHOWN_ERRORS]]
    more = len(fields) - MAX_SHOWN_ERRORS
    return "; ".join(shown) + (f" (and {more} more)" if more > 0 else "")


def validate_input(spec: ToolSpec[Any, Any], inputs: Mapping[str, Any] | BaseModel) -> BaseModel:
    """The input model for ``inputs``, or ``ToolError(invalid_tool_input)`` naming the fields."""
    model: type[BaseModel] = spec.input_model
    if isinstance(inputs, model):
        return inputs
    raw = inputs.model_dump() if isinstance(inputs, BaseModel) else inputs
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        fields = field_errors(error)
        raise ToolError.from_template(
            INVALID_INPUT,
            gettext_noop("Invalid input for the %(tool)s tool: %(problems)s"),
            details={"fields": fields},
            tool=spec.name,
            problems=_summary(fields),
        ) from None


def check_output(spec: ToolSpec[Any, Any], result: Any) -> BaseModel | JobHandle:
    """The output model (or a job handle from a long-running tool); ``ToolError`` otherwise."""
    model: type[BaseModel] = spec.output_model
    if isinstance(result, JobHandle):
        if spec.long_running:
            return result
    elif isinstance(result, model):
        return result
    elif isinstance(result, Mapping):
        try:
            return model.model_validate(dict(result))
        except ValidationError as error:
            fields = field_errors(error)
            raise ToolError.from_template(
                INVALID_OUTPUT,
                gettext_noop("The %(tool)s tool returned an invalid result: %(problems)s"),
                details={"fields": fields},
                tool=spec.name,
                problems=_summary(fields),
            ) from None
    raise ToolError.from_template(
        INVALID_OUTPUT,
        gettext_noop("The %(tool)s tool returned %(returned)s instead of %(expected)s."),
        tool=spec.name,
        returned=type(result).__name__,
        expected=model.__name__,
    )


async def _within_timeout(spec: ToolSpec[Any, Any], call: Callable[[], Awaitable[Any]], ctx: PluginContext) -> Any:
    # A task and asyncio.wait rather than wait_for: a tool that swallows its cancellation (a bare
    # ``except``, a blocking call) must not hold the run past its timeout.
    task = asyncio.ensure_future(call())
    try:
        done, _pending = await asyncio.wait({task}, timeout=spec.timeout_s)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if task in done:
        return task.result()
    task.cancel()
    await asyncio.wait({task}, timeout=CANCEL_GRACE_S)
    if not task.done():
        ctx.logger.error("the %s tool ignored its cancellation after its timeout", spec.name)
        # Collect its eventual exception so asyncio does not log "never retrieved".
        task.add_done_callback(lambda finished: finished.cancelled() or finished.exception())
    raise ToolError.from_template(
        TIMEOUT,
        gettext_noop("The %(tool)s tool did not finish within %(seconds)s seconds."),
        retryable=True,
        tool=spec.name,
        seconds=f"{spec.timeout_s:g}",
    )


async def run_tool(
    spec: ToolSpec[Any, Any], inputs: Mapping[str, Any] | BaseModel, ctx: PluginContext
) -> BaseModel | JobHandle:
    """Validate, invoke within the timeout, check the result; every failure a ``ToolError``."""
    data = validate_input(spec, inputs)
    return check_output(spec, await _guarded(spec, lambda: spec.invoke(data, ctx), ctx))


async def run_poll(spec: ToolSpec[Any, Any], job: JobHandle, ctx: PluginContext) -> JobStatus:
    """Ask a long-running tool how its job is doing (``poll``), within the tool's timeout; every
    failure a ``ToolError``, as for ``run_tool``."""
    if spec.poll is None:
        raise ValueError(f"the {spec.name} tool has no poll: it is not long-running")
    poll = spec.poll
    status = await _guarded(spec, lambda: poll(job, ctx), ctx)
    if not isinstance(status, JobStatus):
        raise ToolError.from_template(
            INVALID_OUTPUT,
            gettext_noop("The %(tool)s tool reported %(returned)s instead of a JobStatus."),
            tool=spec.name,
            returned=type(status).__name__,
        )
    return status


async def run_cancel(spec: ToolSpec[Any, Any], job: JobHandle, ctx: PluginContext) -> None:
    """Ask the provider to stop a job (the tool's ``cancel``, when it has one); failures as ``ToolError``."""
    cancel = spec.cancel
    if cancel is not None:
        await _guarded(spec, lambda: cancel(job, ctx), ctx)


async def _guarded(spec: ToolSpec[Any, Any], call: Callable[[], Awaitable[Any]], ctx: PluginContext) -> Any:
    """Await one of the tool's functions within its timeout, every failure turned into a ``ToolError``."""
    try:
        return await _within_timeout(spec, call, ctx)
    except ToolError as error:
        raise _redacted(error, ctx) from None
    except NodeError as error:  # from ctx.http: ssrf_blocked, http_timeout, http_error…
        raise _redacted(
            ToolError(error.message, code=error.code, retryable=error.retryable, details=error.details), ctx
        ) from None
    except asyncio.CancelledError:
        raise
    except Exception as error:  # the plugin's bug: the run goes on, the user sees what broke
        described = ctx.redact(f"{type(error).__name__}: {error}")[:MAX_EXCEPTION_CHARS]
        ctx.logger.error(
            "the %s tool of the %s plugin raised:\n%s",
            spec.name,
            ctx.plugin_id,
            ctx.redact("".join(traceback.format_exception(error))),
        )
        raise ToolError.from_template(
            FAILED,
            gettext_noop("The %(tool)s tool failed: %(error)s"),
            tool=spec.name,
            error=described,
        ) from None


def _redacted(error: ToolError, ctx: PluginContext) -> ToolError:
    """The error without the plugin's secrets: in its message, and in its details too, whose
    template parameters the host fills again to show the message in the reader's language."""
    message = ctx.redact(error.message)
    details = _redacted_values(error.details, ctx)
    if message == error.message and details == error.details:
        return error
    return ToolError(message, code=error.code, retryable=error.retryable, details=details)


def _redacted_values(value: Any, ctx: PluginContext) -> Any:
    if isinstance(value, str):
        return ctx.redact(value)
    if isinstance(value, Mapping):
        return {key: _redacted_values(item, ctx) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted_values(item, ctx) for item in value]
    return value


def output_json(output: BaseModel | JobHandle) -> dict[str, Any]:
    """A tool's result as JSON-ready data (what a tool node outputs and an agent's model reads)."""
    return output.model_dump(mode="json")
