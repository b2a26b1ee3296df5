"""What the model-calling nodes (llm, agent, intent, parameter_extractor) share.

- ``ModelTraits``: what the host knows about a chat model (a display label for the trace and the
  price list, how it does structured output, whether it sees images), carried in the LangChain
  model's ``metadata`` so the ``ChatModels`` protocol can stay "choice in, chat model out".
- ``ModelCaller``: one node's model calls. It streams tokens to the trace as ``node.delta``
  ``{"text": ...}``, sums token usage and cost, maps provider failures to ``NodeError`` codes and,
  when the primary model fails in a way another model may not, switches once to the node's
  ``fallback_model``.
- ``conversation_history``: the window of recent turns and the running summary of the turns before
  it (the llm node's ``memory_window`` and ``memory_summary``), the summary folded forward one run
  at a time with only the turns that have just left the window.

Streaming goes through a LangChain callback handler rather than ``astream`` so the same path
serves plain text, tool calling and structured output (whose runnables do not stream the raw
message).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, cast

from langchain_core.callbacks import AsyncCallbackHandler
from langchain_core.exceptions import (
    ModelConnectionError,
    ModelError,
    ModelRateLimitError,
    ModelTimeoutError,
    OutputParserException,
)
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from builder.engine.i18n import gettext_noop
from builder.engine.runtime.contract import ConversationHistory, NodeContext, NodeError, Usage, node_error, phrase
from builder.engine.values import Ref

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.runnables import Runnable

    from builder.engine.nodes.base import ModelNodeConfig
    from builder.engine.values import ModelChoice

TRAITS_KEY: Final = "agentloom"
StructuredMethod = Literal["json_schema", "json_mode", "function_calling"]
# Failures another model may not have: these make a node with a fallback model try it.
FALLBACK_CODES: Final = frozenset({"rate_limited", "model_error", "timeout", "stream_interrupted"})
# Keys providers use to say why a message ended; a stream that ends without one was cut off.
_FINISH_KEYS: Final = ("finish_reason", "stop_reason", "done_reason")
_IMAGE_SUFFIXES: Final = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp")
# The function name structured output is requested under (OpenAI wants [A-Za-z0-9_-]).
STRUCTURED_NAME: Final = "structured_output"

RATE_LIMITED: Final = gettext_noop("The model %(model)s is rate limited: %(detail)s")
TIMED_OUT: Final = gettext_noop("The model %(model)s did not answer in time.")
CUT_OFF: Final = gettext_noop("The answer of %(model)s was cut off before it was complete.")
BAD_FORMAT: Final = gettext_noop("The model %(model)s did not answer in the expected format: %(detail)s")
FAILED: Final = gettext_noop("The model %(model)s failed: %(detail)s")


@dataclass(frozen=True)
class ModelTraits:
    """What the host knows about one chat model; ``None`` means unknown."""

    label: str
    structured_output: StructuredMethod = "json_schema"
    vision: bool | None = None
    tools: bool | None = None

    def as_metadata(self) -> dict[str, Any]:
        """The ``metadata`` to give the LangChain chat model."""
        return {
            TRAITS_KEY: {
                "label": self.label,
                "structured_output": self.structured_output,
                "vision": self.vision,
                "tools": self.tools,
            }
        }

    @classmethod
    def of(cls, model: Any) -> ModelTraits:
        data = (getattr(model, "metadata", None) or {}).get(TRAITS_KEY) or {}
        label = data.get("label") or getattr(model, "model_name", None) or getattr(model, "model", None)
        method = data.get("structured_output")
        return cls(
            label=str(label or type(model).__name__),
            structured_output=method if method in ("json_schema", "json_mode", "function_calling") else "json_schema",
            vision=data.get("vision"),
            tools=data.get("tools"),
        )


# --- mapping provider failures ----------------------------------------------------------------------


_POLICY_CODES = frozenset({"ssrf_blocked", "invalid_url"})


def policy_refusal(exc: BaseException) -> NodeError | None:
    """Our own refusal inside an SDK's error: the SSRF-safe transport's ``ssrf_blocked``, which the
    SDKs wrap as a connection error (its cause, or the error being handled)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, NodeError) and current.code in _POLICY_CODES:
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def provider_message(exc: BaseException) -> str:
    """The provider's own words about a failure (OpenAI-style ``{"error": {"message"}}`` bodies first)."""
    refusal = policy_refusal(exc)
    if refusal is not None:
        return refusal.message
    body = getattr(exc, "body", None)
    if isinstance(body, Mapping):
        error = body.get("error", body)
        if isinstance(error, Mapping) and isinstance(error.get("message"), str):
            return cast(str, error["message"])
    message = getattr(exc, "message", None)
    text = message if isinstance(message, str) and message else str(exc)
    return text[:500] or type(exc).__name__


def _class_names(exc: BaseException) -> set[str]:
    return {klass.__name__ for klass in type(exc).__mro__}


def _is_timeout(exc: BaseException) -> bool:
    # httpx and httpx2 (the OpenAI and Anthropic SDKs) have parallel, unrelated hierarchies.
    return isinstance(exc, ModelTimeoutError | TimeoutError) or "TimeoutException" in _class_names(exc)


def _is_broken_connection(exc: BaseException) -> bool:
    return isinstance(exc, ModelConnectionError) or bool({"TransportError", "StreamError"} & _class_names(exc))


def model_failure(exc: BaseException, *, label: str, streamed: bool) -> NodeError:
    """A provider or client failure as the NodeError the error policy and the user see.

    ``streamed``: some of the answer had already arrived, so a broken connection cut it off.
    """
    if isinstance(exc, NodeError):
        return exc
    refusal = policy_refusal(exc)
    if refusal is not None:
        return refusal
    detail = provider_message(exc)
    status = getattr(exc, "status_code", None)
    details: dict[str, Any] = {"model": label, "provider_message": detail, "error_type": type(exc).__name__}
    if isinstance(status, int):
        details["status_code"] = status
    if isinstance(exc, ModelRateLimitError) or status == 429:
        return node_error("rate_limited", RATE_LIMITED, retryable=True, details=details, model=label, detail=detail)
    if _is_timeout(exc):
        return node_error("timeout", TIMED_OUT, retryable=True, details=details, model=label)
    if streamed and _is_broken_connection(exc):
        return node_error("stream_interrupted", CUT_OFF, retryable=True, details=details, model=label)
    if isinstance(exc, OutputParserException):
        return node_error("invalid_output", BAD_FORMAT, details=details, model=label, detail=detail)
    retryable = exc.is_retryable if isinstance(exc, ModelError) else isinstance(status, int) and status >= 500
    return node_error("model_error", FAILED, retryable=retryable, details=details, model=label, detail=detail)


def _was_cut_off(message: AIMessage) -> bool:
    """A provider integration (which names itself in ``model_provider``) always says why an answer
    ended; a stream closed early leaves no reason. Fake models set neither, so they pass."""
    metadata = message.response_metadata or {}
    return bool(metadata.get("model_provider")) and not any(metadata.get(key) for key in _FINISH_KEYS)


# --- streaming ----------------------------------------------------------------------------------------


class _DeltaForwarder(AsyncCallbackHandler):
    """Forwards streamed tokens to the trace under ``key`` (none when None); stops the call once the
    run is cancelled."""

    raise_error = True

    def __init__(self, ctx: NodeContext, key: str | None, lead: str = "") -> None:
        self.ctx = ctx
        self.key = key
        self.lead = lead  # sent with the first text, if any text comes
        self.tokens = 0

    async def send(self, text: str) -> None:
        if text and self.key is not None:
            await self.ctx.emit_node_delta({self.key: self.lead + text})
            self.lead = ""

    async def on_llm_new_token(self, token: str | list[str | dict[str, Any]], **kwargs: Any) -> None:
        if self.ctx.cancelled():
            raise node_error("cancelled", gettext_noop("The run was cancelled."))
        self.tokens += 1
        await self.send(token if isinstance(token, str) else "".join(p for p in token if isinstance(p, str)))


# --- the caller --------------------------------------------------------------------------------------


def chat_model(ctx: NodeContext, choice: ModelChoice | None) -> BaseChatModel:
    if ctx.services.chat_models is None:
        raise node_error("not_configured", gettext_noop("No chat models are available to this run."))
    return ctx.services.chat_models.get(choice)


@dataclass(frozen=True)
class _Call:
    runnable: Runnable[Any, Any]
    messages: list[BaseMessage]
    structured: bool = False
    lead: str = ""


class ModelCaller:
    """The model calls of one node run: streaming, usage, error mapping and the one fallback.

    Tokens stream as ``node.delta`` under ``stream_key``: an answer that shows ``{{ node.text }}``
    forwards exactly those chunks to the user, so only a node whose ``text`` output is what the model
    writes streams under ``"text"``; classifiers pass None (their JSON is not for the user).
    """

    def __init__(self, ctx: NodeContext, config: ModelNodeConfig, *, stream_key: str | None = "text") -> None:
        self.ctx = ctx
        self.stream_key = stream_key
        self.fallback_choice = config.fallback_model
        self.model = chat_model(ctx, config.model)
        self.traits = ModelTraits.of(self.model)
        self.fell_back = False
        self.usage = Usage(model=self.traits.label)

    async def chat(
        self, messages: Sequence[BaseMessage], *, tools: Sequence[Mapping[str, Any]] = (), lead: str = ""
    ) -> AIMessage:
        """One completion (with ``tools`` bound when given); text tokens stream to the trace, the
        first one preceded by ``lead`` (a separator from earlier text)."""

        def build(model: BaseChatModel, traits: ModelTraits) -> _Call:
            runnable: Runnable[Any, Any] = model.bind_tools([dict(tool) for tool in tools]) if tools else model
            return _Call(runnable, list(messages), lead=lead)

        message, _parsed = await self._with_fallback(build)
        return message

    async def structured(
        self, schema: Mapping[str, Any], messages: Sequence[BaseMessage]
    ) -> tuple[dict[str, Any], AIMessage]:
        """A JSON object matching ``schema`` (a JSON Schema object), and the raw message."""

        def build(model: BaseChatModel, traits: ModelTraits) -> _Call:
            method = traits.structured_output
            named = {**schema, "title": STRUCTURED_NAME}
            runnable = model.with_structured_output(named, method=method, include_raw=True)
            prompt = list(messages)
            if method == "json_mode":
                # JSON mode only promises JSON; the schema has to be in the prompt.
                prompt = _with_instruction(prompt, json_mode_instruction(schema))
            return _Call(runnable, prompt, structured=True)

        message, parsed = await self._with_fallback(build)
        if not isinstance(parsed, dict):
            raise node_error(
                "invalid_output",
                BAD_FORMAT,
                model=self.traits.label,
                detail=phrase(gettext_noop("expected a JSON object")),
            )
        return parsed, message

    async def _with_fallback(self, build: Callable[[BaseChatModel, ModelTraits], _Call]) -> tuple[AIMessage, Any]:
        try:
            return await self._call_once(build)
        except NodeError as error:
            if self.fell_back or self.fallback_choice is None or error.code not in FALLBACK_CODES:
                raise
            primary_label = self.traits.label
            self.fell_back = True
            try:
                self.model = chat_model(self.ctx, self.fallback_choice)
            except NodeError as missing:
                missing.details.setdefault("primary_error", {"code": error.code, "message": error.message})
                raise
            self.traits = ModelTraits.of(self.model)
            await self.ctx.emit_node_delta(
                {"fallback": {"from": primary_label, "to": self.traits.label, "error": error.code}}
            )
            try:
                return await self._call_once(build)
            except NodeError as second:
                second.details.setdefault("primary_error", {"code": error.code, "message": error.message})
                raise

    async def _call_once(self, build: Callable[[BaseChatModel, ModelTraits], _Call]) -> tuple[AIMessage, Any]:
        call = build(self.model, self.traits)
        forwarder = _DeltaForwarder(self.ctx, self.stream_key, call.lead)
        label = self.traits.label
        try:
            result = await call.runnable.ainvoke(call.messages, config={"callbacks": [forwarder]})
        except Exception as exc:
            raise model_failure(exc, label=label, streamed=forwarder.tokens > 0) from exc
        if call.structured:
            message, parsed, parsing_error = result["raw"], result["parsed"], result.get("parsing_error")
        else:
            message, parsed, parsing_error = result, None, None
        if not isinstance(message, AIMessage):
            raise node_error("model_error", gettext_noop("The model %(model)s gave no answer."), model=label)
        self._count(message)
        if _was_cut_off(message):
            raise node_error("stream_interrupted", CUT_OFF, retryable=True, details={"model": label}, model=label)
        if forwarder.tokens == 0:
            # A model that does not stream: show its answer at once.
            await forwarder.send(message.text)
        if parsing_error is not None:
            raise model_failure(OutputParserException(str(parsing_error)), label=label, streamed=True)
        return message, parsed

    def _count(self, message: AIMessage) -> None:
        label = self.traits.label
        metadata = message.usage_metadata
        if metadata is None:
            self.usage.model = label
            return
        prompt = int(metadata.get("input_tokens") or 0)
        completion = int(metadata.get("output_tokens") or 0)
        models = self.ctx.services.chat_models
        cost = models.cost(label, prompt, completion) if models is not None else 0.0
        total = int(metadata.get("total_tokens") or prompt + completion)
        self.usage.add(Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=total, cost=cost))
        # The model that answered last is the one the trace names.
        self.usage.model = label


def usage_output(usage: Usage) -> dict[str, Any]:
    """The ``usage`` output of the llm node (what a downstream node can read)."""
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "cost": usage.cost,
        "model": usage.model,
    }


# --- prompts -------------------------------------------------------------------------------------------


def json_mode_instruction(schema: Mapping[str, Any]) -> str:
    return "Answer with a single JSON object and nothing else. It must match this JSON Schema:\n" + json.dumps(
        schema, ensure_ascii=False
    )


def _with_instruction(messages: list[BaseMessage], instruction: str) -> list[BaseMessage]:
    """Append ``instruction`` to the leading system message (or add one)."""
    if messages and isinstance(messages[0], SystemMessage) and isinstance(messages[0].content, str):
        return [SystemMessage(f"{messages[0].content}\n\n{instruction}"), *messages[1:]]
    return [SystemMessage(instruction), *messages]


def as_text(value: Any) -> str:
    """A resolved input as prompt text: strings as they are, anything else as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def sys_value(ctx: NodeContext, name: str) -> Any:
    return ctx.resolve(Ref(ref=["sys", name]))


def system_prompt(ctx: NodeContext, own: str) -> str:
    """The node's own system prompt, rendered; without one, the bot's persona (``settings.persona``,
    a template the host passes as ``sys.persona``), as ``settings.model`` stands in for its model."""
    template = own if own.strip() else sys_value(ctx, "persona")
    return ctx.render(template).strip() if isinstance(template, str) and template.strip() else ""


def image_urls(files: Any) -> list[str]:
    """The images among ``sys.files``: URLs, or file objects with a ``url`` and an image type."""
    urls: list[str] = []
    for item in files if isinstance(files, list) else []:
        if isinstance(item, str):
            url, kind = item, ""
        elif isinstance(item, Mapping):
            url = str(item.get("url") or item.get("remote_url") or "")
            kind = str(item.get("type") or item.get("mime_type") or item.get("content_type") or "")
        else:
            continue
        is_image = (
            kind == "image"
            or kind.startswith("image/")
            or url.startswith("data:image/")
            or url.lower().split("?", 1)[0].endswith(_IMAGE_SUFFIXES)
        )
        if url and is_image:
            urls.append(url)
    return urls


def user_content(text: str, images: Sequence[str]) -> str | list[str | dict[Any, Any]]:
    """A user message's content: plain text, or text plus LangChain standard image blocks."""
    if not images:
        return text
    return [{"type": "text", "text": text}, *({"type": "image", "url": url} for url in images)]


# --- conversation memory --------------------------------------------------------------------------

# Turns folded into the running summary per run, at most: a long chat that has just switched the
# summary on catches up over a few turns rather than in one call no model could read.
SUMMARY_BATCH_TURNS: Final = 20
# What one summarisation call reads of the new turns, at most (one message at least), and of any one message.
SUMMARY_INPUT_CHARS: Final = 24_000
SUMMARY_MESSAGE_CHARS: Final = 4_000
SUMMARY_HEADING: Final = "Summary of the earlier conversation:"
SUMMARY_INSTRUCTIONS: Final = (
    "You keep the running summary of a conversation between a user and an assistant, so that the "
    "assistant still knows what was said after the messages themselves are gone. Fold the new "
    "messages into the previous summary and answer with the complete updated summary only, with no "
    "preamble.\n"
    "Keep every fact the user gave: names, numbers, dates, amounts, places, decisions and what was "
    "agreed, the user's preferences and requests, and the questions or tasks that are still open. "
    "Where the new messages change something, keep the new value. Leave out greetings and small talk.\n"
    "Write the summary in the language of the conversation. Use short factual sentences or bullet "
    "points and stay under about %(tokens)d tokens."
)


@dataclass
class History:
    """The conversation as one model call sees it: the window of recent turns and the running summary
    of the turns before it (``""`` when there is none or it is not wanted)."""

    window: list[BaseMessage]
    summary: str = ""
    # What the node's trace shows of it (merged into the node's inputs).
    trace: dict[str, Any] = field(default_factory=dict)
    # Tokens the summarisation call took, to count into the node's usage.
    usage: Usage | None = None

    def prompt(self, system: str) -> list[BaseMessage]:
        """The messages before the user's: the system prompt followed by the summary (one system
        message: several are not allowed by every provider), then the window."""
        note = f"{SUMMARY_HEADING}\n{self.summary}" if self.summary else ""
        leading = "\n\n".join(part for part in (system, note) if part)
        return [*([SystemMessage(leading)] if leading else []), *self.window]


async def conversation_history(
    ctx: NodeContext, window: int, *, summarise: ModelNodeConfig | None = None, summary_tokens: int = 500
) -> History:
    """The last ``window`` turns and, with ``summarise`` (the node whose models write it), the running
    summary of the turns before them, first brought up to date with the turns that have left the
    window since. A failed summarisation leaves the window alone (the error is in the trace); it
    never fails the node. A run outside a conversation (no memory service) has no history."""
    memory = ctx.services.memory
    found = ConversationHistory(messages=[])
    if memory is not None and (window > 0 or summarise is not None):
        found = await memory.history(max(window, 0), unsummarised=SUMMARY_BATCH_TURNS if summarise else 0)
    history = History(list(found.messages), trace={"history_messages": len(found.messages)})
    if summarise is None:
        return history
    summary = found.summary
    report: dict[str, Any] = {}
    batch = _summary_batch(found.unsummarised)
    if memory is not None and batch:
        try:
            summary, history.usage = await _fold_into_summary(ctx, summarise, found.summary, batch, summary_tokens)
        except NodeError as error:
            if error.code == "cancelled":
                raise
            summary, report = "", {"error": {"code": error.code, "message": error.message}}
        else:
            stored = await memory.save_summary(summary, until=str(batch[-1].id), previous=found.summary_until)
            report = {"folded_messages": len(batch), "stored": stored}
    history.summary = summary
    history.trace["history_summary"] = {"used": bool(summary), "chars": len(summary), "text": summary, **report}
    return history


def _summary_batch(messages: Sequence[BaseMessage]) -> list[BaseMessage]:
    """The oldest of ``messages`` that one summarisation call reads (one at least)."""
    batch: list[BaseMessage] = []
    size = 0
    for message in messages:
        size += min(len(message.text), SUMMARY_MESSAGE_CHARS)
        if batch and size > SUMMARY_INPUT_CHARS:
            break
        batch.append(message)
    return batch


def summary_request(previous: str, messages: Sequence[BaseMessage]) -> str:
    """What the summarising model is given: the previous summary and the turns to fold into it."""
    lines = []
    for message in messages:
        text = str(message.text)
        if len(text) > SUMMARY_MESSAGE_CHARS:
            text = text[:SUMMARY_MESSAGE_CHARS] + " […]"
        lines.append(f"{'User' if isinstance(message, HumanMessage) else 'Assistant'}: {text}")
    transcript = "\n\n".join(lines)
    return f"Previous summary:\n{previous or '(none yet)'}\n\nNew messages:\n{transcript}"


async def _fold_into_summary(
    ctx: NodeContext, config: ModelNodeConfig, previous: str, messages: Sequence[BaseMessage], tokens: int
) -> tuple[str, Usage]:
    """The running summary updated with ``messages``, written by the node's model (or its fallback)."""
    caller = ModelCaller(ctx, config, stream_key=None)
    prompt = [
        SystemMessage(SUMMARY_INSTRUCTIONS % {"tokens": tokens}),
        HumanMessage(summary_request(previous, messages)),
    ]
    summary = (await caller.chat(prompt)).text.strip()
    if not summary:
        raise node_error(
            "invalid_output", BAD_FORMAT, model=caller.traits.label, detail=phrase(gettext_noop("the summary is empty"))
        )
    return summary, caller.usage
