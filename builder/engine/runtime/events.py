"""Typed run events (DESIGN.md §4). Every event carries the run id and a per-run sequence number.

The same models are validated in tests, persisted by the host and sent to clients over the
websocket and SSE, so a client that reconnects with its last ``seq`` gets the rest exactly once.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from builder.engine.runtime.contract import NodeError, fill, nested_message, translatable


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    run_id: str
    seq: int = Field(ge=1)
    # Unix time in seconds (float): clients show latencies, the trace orders by seq.
    at: float


class ErrorInfo(BaseModel):
    """``message`` is English; ``details`` hold its ``template`` and ``params`` when it has them, from
    which the host shows it in the reader's language (see ``contract.node_error``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_template(cls, code: str, template: str, /, **params: Any) -> ErrorInfo:
        """An error whose message is a ``gettext_noop`` template filled with ``params``."""
        return cls(code=code, message=fill(template, params), details=translatable(template, params))

    @classmethod
    def from_node_error(cls, error: NodeError) -> ErrorInfo:
        return cls(code=error.code, message=error.message, details=error.details)

    def as_param(self) -> dict[str, Any]:
        """This error's message as a parameter of another's (``contract.nested_message``)."""
        return nested_message(self.message, self.details)


class UsageInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost: float = 0.0
    model: str | None = None


class RunStarted(_Event):
    type: Literal["run.started"] = "run.started"
    resumed: bool = False


class NodeStarted(_Event):
    type: Literal["node.started"] = "node.started"
    node_id: str
    node_type: str
    title: str = ""
    attempt: int = 1


class NodeDelta(_Event):
    type: Literal["node.delta"] = "node.delta"
    node_id: str
    data: dict[str, Any]


class NodeFinished(_Event):
    type: Literal["node.finished"] = "node.finished"
    node_id: str
    node_type: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    latency_ms: float
    usage: UsageInfo | None = None
    branch: str | None = None
    attempts: int = 1
    # Set when the node failed but its error policy produced default outputs.
    error: ErrorInfo | None = None


class NodeFailed(_Event):
    type: Literal["node.failed"] = "node.failed"
    node_id: str
    node_type: str
    error: ErrorInfo
    latency_ms: float
    attempts: int = 1
    # True when an error branch took over, so the run goes on.
    handled: bool = False


class MessageDelta(_Event):
    type: Literal["message.delta"] = "message.delta"
    node_id: str
    text: str


class FileInfo(BaseModel):
    """A file a tool produced and the host stored (a rendered video). Clients show it by its
    ``content_type`` (a video inline as a video, not as a link); ``size`` is in bytes, when known."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    node_id: str
    url: str
    name: str
    content_type: str
    size: int | None = Field(default=None, ge=0)
    # The tool output's field that holds the URL (``video_url``, ``thumbnail_url``): tells a
    # video from its poster image when a tool returns both.
    field: str = ""


class MessageCompleted(_Event):
    type: Literal["message.completed"] = "message.completed"
    text: str
    # The files tools produced during the run (each also sent as ``tool.file`` when it was stored),
    # so a client that joins late has the whole message.
    files: list[FileInfo] = Field(default_factory=list)


class ToolProgress(_Event):
    type: Literal["tool.progress"] = "tool.progress"
    node_id: str
    tool: str
    percent: float | None = Field(default=None, ge=0, le=100)
    note: str = ""


class ToolFile(_Event):
    """A tool (a tool node, or an agent's tool call) produced a file the host stored: ``FileInfo``'s
    fields, with the tool (``plugin/tool``) that made it."""

    type: Literal["tool.file"] = "tool.file"
    node_id: str
    tool: str
    url: str
    name: str
    content_type: str
    size: int | None = Field(default=None, ge=0)
    field: str = ""


class RunPaused(_Event):
    type: Literal["run.paused"] = "run.paused"
    node_id: str
    question: dict[str, Any]


class RunFinished(_Event):
    type: Literal["run.finished"] = "run.finished"
    answer: str
    outputs: dict[str, Any]
    usage: UsageInfo
    latency_ms: float


class RunFailed(_Event):
    type: Literal["run.failed"] = "run.failed"
    error: ErrorInfo
    node_id: str | None = None


RunEvent = Annotated[
    RunStarted
    | NodeStarted
    | NodeDelta
    | NodeFinished
    | NodeFailed
    | MessageDelta
    | MessageCompleted
    | ToolProgress
    | ToolFile
    | RunPaused
    | RunFinished
    | RunFailed,
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[RunEvent] = TypeAdapter(RunEvent)


def parse_event(data: Any) -> RunEvent:
    """Validate a serialised event (tests, the websocket replay)."""
    return EVENT_ADAPTER.validate_python(data)
