"""What a plugin tool is: ``ToolSpec``, and ``JobHandle`` for tools that take minutes (``jobs.py``).

A tool's input and output are pydantic models. Their JSON Schema is what an agent's model sees
when it decides to call the tool, and what the builder turns into the tool node's form, so write
``Field(description=...)`` for every field: it is the documentation both of them read.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, JsonValue

if TYPE_CHECKING:
    from builder.sdk.context import PluginContext
    from builder.sdk.jobs import JobStatus

TOOL_NAME: Final = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_TIMEOUT_S: Final = 3600.0
DEFAULT_TIMEOUT_S: Final = 30.0

InputT = TypeVar("InputT", bound=BaseModel)
OutputT = TypeVar("OutputT", bound=BaseModel)


class JobHandle(BaseModel):
    """What a ``long_running`` tool's ``invoke`` returns instead of its output: a started job.

    The host keeps it (so it must be JSON: ``state`` is what ``poll`` needs after a restart) and
    calls the tool's ``poll`` every ``poll_interval_s`` seconds until the job succeeds, fails, is
    cancelled, or is still running ``deadline_s`` seconds after it started (``job_expired``).
    See ``builder.sdk.jobs``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    job_id: str = Field(min_length=1, max_length=500, description="The provider's id of the job.")
    state: dict[str, JsonValue] = Field(
        default_factory=dict, description="Whatever the plugin needs to follow the job after a restart."
    )
    poll_interval_s: float = Field(default=5.0, gt=0, le=3600)
    deadline_s: float = Field(default=1800.0, gt=0, le=24 * 3600)


@dataclass(frozen=True)
class ToolSpec(Generic[InputT, OutputT]):
    """One tool of a plugin.

    ``invoke(input, ctx)`` gets the validated input model and the ``PluginContext``; it returns the
    output model (a dict that validates against it is accepted too), or a ``JobHandle`` when
    ``long_running``. It raises ``ToolError`` for failures the user should see. The host stops it
    after ``timeout_s`` seconds (for a long-running tool: the time to start the job). ``invoke``
    runs on the server's event loop: await I/O (``ctx.http``), and move blocking or CPU-heavy
    work to ``asyncio.to_thread``.

    A ``long_running`` tool also has ``poll(handle, ctx) -> JobStatus`` (required: how the host
    follows the job, each call within ``timeout_s``) and may have ``cancel(handle, ctx)`` (tell the
    provider to stop: the run was cancelled or the job passed its deadline).
    """

    name: str
    description: str
    input_model: type[InputT]
    output_model: type[OutputT]
    invoke: Callable[[InputT, PluginContext], Awaitable[OutputT | JobHandle]]
    long_running: bool = False
    timeout_s: float = DEFAULT_TIMEOUT_S
    # What the builder shows; the name, humanised, when empty.
    title: str = ""
    poll: Callable[[JobHandle, PluginContext], Awaitable[JobStatus]] | None = None
    cancel: Callable[[JobHandle, PluginContext], Awaitable[None]] | None = None

    def __post_init__(self) -> None:
        if not TOOL_NAME.match(self.name):
            raise ValueError(
                f"Tool name {self.name!r}: use 1-64 lowercase letters, digits and underscores, starting with a letter."
            )
        if not self.description.strip():
            raise ValueError(f"Tool {self.name}: the description is what a model reads to choose it; write one.")
        for label, model in (("input_model", self.input_model), ("output_model", self.output_model)):
            if not (isinstance(model, type) and issubclass(model, BaseModel)):
                raise TypeError(f"Tool {self.name}: {label} must be a pydantic model class, not {model!r}.")
        if not _is_async(self.invoke):
            raise TypeError(f"Tool {self.name}: invoke must be an async function (async def).")
        if not 0 < self.timeout_s <= MAX_TIMEOUT_S:
            raise ValueError(f"Tool {self.name}: timeout_s must be more than 0 and at most {MAX_TIMEOUT_S:g}.")
        self._check_job_functions()

    def _check_job_functions(self) -> None:
        if self.long_running and self.poll is None:
            raise ValueError(
                f"Tool {self.name} is long_running: give it poll=, an async function (handle, ctx) -> JobStatus "
                "that asks the provider how the job is doing."
            )
        if not self.long_running and (self.poll is not None or self.cancel is not None):
            raise ValueError(f"Tool {self.name}: poll and cancel are for long_running tools (long_running=True).")
        for label, function in (("poll", self.poll), ("cancel", self.cancel)):
            if function is not None and not _is_async(function):
                raise TypeError(f"Tool {self.name}: {label} must be an async function (async def).")

    @property
    def display_title(self) -> str:
        return self.title or self.name.replace("_", " ").capitalize()

    def input_schema(self) -> dict[str, Any]:
        """The JSON Schema of the input: the model's function parameters and the node's form."""
        return self.input_model.model_json_schema()

    def output_schema(self) -> dict[str, Any]:
        return self.output_model.model_json_schema()


def _is_async(function: Any) -> bool:
    """An ``async def`` function, a partial of one, or an object whose ``__call__`` is one."""
    return inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(type(function).__call__)
