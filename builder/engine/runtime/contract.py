"""The contract between node implementations, the runtime and the host application.

A node type implements ``NodeSpec.run(config, ctx) -> NodeResult`` (see ``nodes/base.py``). It reads
its inputs through ``ctx.resolve`` / ``ctx.render``, streams through ``ctx.emit_*``, reaches the
outside world only through ``ctx.services`` and reports failure by raising ``NodeError``. Retries,
timeouts, error branches, tracing and persistence are layers around ``run`` (the compiler's job),
never code inside a node.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

from builder.engine.i18n import gettext_noop

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from builder.engine.values import ModelChoice


# An exception nobody turned into an error for the user (a bug, or an outage nobody mapped).
UNEXPECTED_ERROR: Final = gettext_noop("Unexpected error: %(type)s: %(error)s")


class NodeError(Exception):
    """A node failed in a way the user should see (shown on the node and in ``node.failed``).

    ``code`` is stable (``timeout``, ``http_error``, ``code_error``, ``model_error``, ``not_configured``…);
    ``message`` is English; ``retryable`` tells the error policy whether another attempt may help.
    Raise it through ``node_error`` so the host can also show the message in the reader's language.
    """

    def __init__(self, code: str, message: str, *, retryable: bool = False, details: Mapping[str, Any] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable
        self.details = dict(details or {})


def node_error(
    code: str,
    template: str,
    /,
    *,
    retryable: bool = False,
    details: Mapping[str, Any] | None = None,
    **params: Any,
) -> NodeError:
    """A NodeError whose English message is ``template`` (marked with ``builder.engine.i18n.gettext_noop``,
    named ``%(x)s`` placeholders) filled with ``params`` (JSON values; a library's own error text is a
    parameter, never part of the template). ``details`` also get ``template`` and ``params``, from
    which the host translates the message when it shows it."""
    return NodeError(
        code, fill(template, params), retryable=retryable, details={**(details or {}), **translatable(template, params)}
    )


def fill(template: str, params: Mapping[str, Any]) -> str:
    """The English text of ``template`` with ``params``; a parameter made by ``phrase`` or
    ``nested_message`` stands for its own text."""
    return template % {name: _text(value) for name, value in params.items()}


def translatable(template: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """What ``details`` carry so the host can translate a message: ``{"template", "params"}``."""
    return {"template": template, "params": dict(params)}


def phrase(template: str, /, **params: Any) -> dict[str, Any]:
    """A translatable piece of a message, as a parameter of another (``"a number"`` in "Cannot compare
    a number with text."): its English text with its template and params."""
    return {"message": fill(template, params), **translatable(template, params)}


def nested_message(message: str, details: Mapping[str, Any]) -> dict[str, Any]:
    """Another error's message as a parameter of this one (the sub-bot's failure inside the sub_bot
    node's): its English text, plus its template and params when it has them, so the host
    translates the inner message along with the outer one."""
    template, params = details.get("template"), details.get("params")
    if isinstance(template, str) and isinstance(params, Mapping):
        return {"message": message, **translatable(template, params)}
    return {"message": message}


def _text(value: Any) -> Any:
    if isinstance(value, Mapping) and isinstance(value.get("message"), str):
        return value["message"]
    return value


@dataclass
class Usage:
    """Tokens and cost of one node (summed over retries and tool-calling rounds)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost: float = 0.0
    model: str | None = None

    def add(self, other: Usage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.total_tokens += other.total_tokens
        self.cost += other.cost
        self.model = self.model or other.model


@dataclass
class NodeResult:
    """What a node produced. ``branch`` is the source handle taken (condition, intent, loop…)."""

    outputs: dict[str, Any]
    branch: str | None = None
    usage: Usage | None = None
    # The resolved inputs to show in the trace (what the node actually saw).
    inputs: dict[str, Any] = field(default_factory=dict)


# --- what the host provides --------------------------------------------------------------------


class ChatModels(Protocol):
    """Turns a node's model choice (or, when None, the bot's default) into a LangChain chat model."""

    def get(self, choice: ModelChoice | None) -> BaseChatModel: ...

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float: ...


@dataclass
class HttpResponse:
    status_code: int
    headers: dict[str, str]
    body: str  # decoded with the response's charset
    content: bytes = b""  # the raw bytes (a PDF fetched by URL must not be parsed from text)


class HttpClient(Protocol):
    """Outbound HTTP through the SSRF-safe client (no private/loopback targets unless allow-listed)."""

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        content: str | bytes | None = None,
        timeout_s: float = 30.0,
    ) -> HttpResponse: ...


class CodeRunner(Protocol):
    """Runs user Python in the sandbox: JSON in, JSON out; raises NodeError on any failure."""

    async def run(self, code: str, inputs: Mapping[str, Any], *, timeout_s: float) -> dict[str, Any]: ...


class ToolInvoker(Protocol):
    async def invoke(self, plugin: str, tool: str, inputs: Mapping[str, Any], ctx: NodeContext) -> Any: ...


class KnowledgeRetriever(Protocol):
    async def retrieve(
        self, query: str, knowledge_bases: list[str], *, top_k: int, score_threshold: float, mode: str
    ) -> list[dict[str, Any]]: ...


class SubBotRunner(Protocol):
    async def run(self, bot_id: str, inputs: Mapping[str, Any], ctx: NodeContext) -> dict[str, Any]: ...


@dataclass
class ConversationHistory:
    """The conversation before this run, as ``ConversationMemory.history`` returns it."""

    # The window: the last turns, oldest first, as LangChain messages.
    messages: list[Any]
    # The stored running summary of the turns before the window ("" = none yet) and the host's
    # marker of the last message it covers (opaque to the engine: handed back to ``save_summary``).
    summary: str = ""
    summary_until: Any = None
    # Turns before the window that the summary does not cover yet, oldest first, as LangChain
    # messages whose ``id`` names them for ``save_summary``.
    unsummarised: list[Any] = field(default_factory=list)


class ConversationMemory(Protocol):
    """The conversation's past turns (llm ``memory_window``) and its running summary (``memory_summary``)."""

    async def history(self, window: int, *, unsummarised: int = 0) -> ConversationHistory:
        """The last ``window`` turns; with ``unsummarised`` > 0 also the stored summary and up to
        that many of the oldest turns before the window that it does not cover yet."""

    async def save_summary(self, summary: str, *, until: str, previous: Any) -> bool:
        """Store ``summary`` as covering the conversation up to message ``until``, but only if the
        stored summary still ends at ``previous`` (False when another run moved it meanwhile)."""


class LongTermMemory(Protocol):
    """What the bot remembers about the run's end user from earlier conversations (the
    ``long_term_memory`` option of llm and agent nodes). Never raises: no memory is an empty list."""

    heading: str
    """The heading the facts are shown under in the system prompt (in the bot's language)."""

    async def recall(self, query: str, k: int) -> list[str]:
        """At most ``k`` remembered facts about the user, most relevant to ``query`` first."""
        ...


class CredentialStore(Protocol):
    """The run's workspace credentials, which secret fields name as ``{"credential": "<id>"}``."""

    async def reveal(self, credential_id: str) -> str:
        """The secret in clear, for the request that sends it (never for a trace or a log). Raises
        NodeError ``credential_missing`` for an id the run's workspace does not have."""
        ...


@dataclass
class RuntimeServices:
    """Everything a run may need from outside the engine. Missing ones fail the node that needs them."""

    chat_models: ChatModels | None = None
    http: HttpClient | None = None
    code: CodeRunner | None = None
    tools: ToolInvoker | None = None
    knowledge: KnowledgeRetriever | None = None
    sub_bots: SubBotRunner | None = None
    memory: ConversationMemory | None = None
    long_term_memory: LongTermMemory | None = None
    credentials: CredentialStore | None = None


# --- what a node sees ---------------------------------------------------------------------------


class NodeContext(Protocol):
    node_id: str
    run_id: str
    services: RuntimeServices

    def resolve(self, value: Any) -> Any:
        """A literal is returned as is; ``{"ref": [...]}`` is looked up; containers resolved deeply.

        A literal string containing ``{{`` or ``{%`` is rendered as a template (validation checks the
        references in such strings, so they mean the same at run time). Values that come out of a
        reference are never rendered.
        """

    def render(self, template: str) -> str:
        """Render a template (sandboxed Jinja2) over the variable pool: node outputs, sys, conv, user."""

    async def emit_message_delta(self, text: str) -> None:
        """Stream text to the user (answer nodes; LLM nodes whose output an answer streams)."""

    async def emit_node_delta(self, data: Mapping[str, Any]) -> None:
        """Stream node-level progress (LLM tokens, agent thinking, tool progress) to the trace."""

    async def emit_tool_progress(self, tool: str, percent: float | None, note: str = "") -> None:
        """Progress of a long tool (video rendering…) for the chat."""

    async def emit_tool_file(
        self, tool: str, *, url: str, name: str, content_type: str, size: int | None = None, field: str = ""
    ) -> None:
        """A file the tool produced and the host stored (a rendered video): sent to the chat as
        ``tool.file`` and kept with the run's answer, so clients show it by its type."""

    def set_variable(self, scope: str, name: str, value: Any) -> None:
        """Write a conversation (``conv``) or user (``user``) variable; persisted by the host."""

    def ask(self, question: Mapping[str, Any]) -> Any:
        """Pause the run until the user answers (LangGraph interrupt); returns the answer on resume."""

    def cancelled(self) -> bool:
        """True once the run was cancelled: long nodes should stop early."""


@runtime_checkable
class EntryContext(NodeContext, Protocol):
    """What the start node sees besides ``NodeContext``: the inputs the caller passed to the run."""

    run_inputs: Mapping[str, Any]
