"""LangChain chat models for a provider's settings, and the "check connection" call.

Built-in kinds are built here; a plugin's kind by the plugin's own factory (``plugin_providers``),
with the same sampling parameters and traits.

Retries are the engine's job (the node's error policy and fallback model), so every client is
built with ``max_retries=0``: an SDK retrying on its own would hide rate limits and stretch
timeouts the user configured.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage
from pydantic import SecretStr

from builder.engine.nodes.model_calls import ModelTraits, StructuredMethod, provider_message
from builder.engine.values import ModelChoice
from builder.llm.http_clients import blocking_http_client, loop_http_client, ollama_client_kwargs
from builder.llm.plugin_providers import plugin_chat_model
from builder.llm.providers import DEFAULT_BASE_URLS, JSON_SCHEMA_BY_DEFAULT, ModelInfo, ProviderKind
from builder.sdk.providers import ModelProviderSpec
from builder.sdk.providers import ProviderSettings as PluginProviderSettings

# What OpenAI-compatible servers without authentication (vLLM, local gateways) are given as key.
NO_KEY = "not-needed"
CHECK_TIMEOUT_S = 15.0
# Anthropic requires max_tokens on every request.
ANTHROPIC_DEFAULT_MAX_TOKENS = 4096


@dataclass(frozen=True)
class ProviderSettings:
    """Everything needed to reach a provider (decrypted key included: never log it)."""

    kind: str
    base_url: str = ""
    api_key: str = field(default="", repr=False)
    timeout_s: float = 60.0
    # Private hosts and networks the base URL may reach (AGENTLOOM_HTTP_ALLOWLIST); others are refused
    # on every request (builder/llm/http_clients.py).
    allow: tuple[str, ...] = ()
    # A plugin's kind: the spec that builds its models (``plugin_providers``); None for built-in kinds.
    plugin: ModelProviderSpec | None = field(default=None, repr=False)

    def for_plugin(self, model: str) -> PluginProviderSettings:
        """What the plugin's ``chat_model`` / ``embeddings`` get."""
        assert self.plugin is not None
        base_url = self.base_url or self.plugin.default_base_url
        return PluginProviderSettings(base_url=base_url, api_key=self.api_key, model=model, timeout_s=self.timeout_s)


def structured_output_method(kind: str, info: ModelInfo | None) -> StructuredMethod:
    """How a model of ``kind`` is asked for JSON: a schema when it takes one, else its JSON mode."""
    json_schema = info.json_schema if info is not None and info.json_schema is not None else None
    if json_schema is None:
        json_schema = JSON_SCHEMA_BY_DEFAULT.get(kind, False)
    if json_schema:
        return "json_schema"
    # Anthropic has no JSON mode; a forced tool call is its way to structured output.
    return "function_calling" if kind == ProviderKind.ANTHROPIC else "json_mode"


def build_chat_model(
    settings: ProviderSettings,
    model: str,
    *,
    choice: ModelChoice | None = None,
    traits: ModelTraits | None = None,
    max_tokens: int | None = None,
) -> BaseChatModel:
    """A streaming LangChain chat model for ``model`` at the provider, with the choice's sampling."""
    params = choice.model_dump(exclude={"provider", "name"}, exclude_none=True) if choice else {}
    if max_tokens is not None:
        params["max_tokens"] = max_tokens
    metadata = traits.as_metadata() if traits else None
    if settings.plugin is not None:
        return plugin_chat_model(settings.plugin, settings.for_plugin(model), params=params, metadata=metadata)
    base_url = settings.base_url or DEFAULT_BASE_URLS.get(settings.kind, "")

    if settings.kind in (ProviderKind.OPENAI, ProviderKind.OPENAI_COMPATIBLE):
        from langchain_openai import ChatOpenAI

        extra: dict[str, Any] = {}
        if settings.kind == ProviderKind.OPENAI_COMPATIBLE and "max_tokens" in params:
            # ChatOpenAI sends max_completion_tokens, which many compatible servers ignore.
            extra["extra_body"] = {"max_tokens": params.pop("max_tokens")}
        if "stop" in params:
            params["stop_sequences"] = params.pop("stop")
        return ChatOpenAI(
            model_name=model,
            openai_api_base=base_url or None,
            openai_api_key=SecretStr(settings.api_key or NO_KEY),
            streaming=True,
            stream_usage=True,
            max_retries=0,
            request_timeout=settings.timeout_s,
            # Compatible servers speak Chat Completions only; so does our accounting.
            use_responses_api=False,
            http_client=blocking_http_client("openai", settings.allow),
            http_async_client=loop_http_client("openai", settings.allow),
            metadata=metadata,
            **params,
            **extra,
        )
    if settings.kind == ProviderKind.ANTHROPIC:
        from builder.llm.anthropic_chat import LoopSafeChatAnthropic

        return LoopSafeChatAnthropic(
            model=model,
            anthropic_api_url=base_url or None,
            anthropic_api_key=SecretStr(settings.api_key),
            streaming=True,
            stream_usage=True,
            max_retries=0,
            default_request_timeout=settings.timeout_s,
            max_tokens=params.pop("max_tokens", ANTHROPIC_DEFAULT_MAX_TOKENS),
            temperature=params.get("temperature"),
            top_p=params.get("top_p"),
            stop_sequences=params.get("stop"),
            metadata=metadata,
            ssrf_allow=settings.allow,
        )
    if settings.kind == ProviderKind.OLLAMA:
        from langchain_ollama import ChatOllama

        return ChatOllama(
            model=model,
            base_url=base_url,
            temperature=params.get("temperature"),
            top_p=params.get("top_p"),
            num_predict=params.get("max_tokens"),
            stop=params.get("stop"),
            metadata=metadata,
            **ollama_client_kwargs(settings.allow, settings.timeout_s),
        )
    raise ValueError(f"unknown provider kind {settings.kind!r}")


@dataclass(frozen=True)
class ConnectionCheck:
    """The outcome of "check connection": ``message`` is the provider's own when it failed."""

    ok: bool
    message: str
    latency_ms: float
    model: str = ""
    models: list[str] = field(default_factory=list)


def check_connection(settings: ProviderSettings, model: str = "") -> ConnectionCheck:
    """A real, minimal call: a one-token completion of ``model``, or the model list when no model
    is known yet (which also tells the admin what to add)."""
    settings = dataclasses.replace(settings, timeout_s=min(settings.timeout_s, CHECK_TIMEOUT_S))
    started = time.monotonic()
    try:
        if model:
            chat = build_chat_model(settings, model, max_tokens=1)
            chat.invoke([HumanMessage("ping")])
            found: list[str] = []
        else:
            found = list_models(settings)
    except Exception as exc:  # every failure is an answer here: show the provider's words
        message = _scrub(provider_message(exc), settings.api_key)
        return ConnectionCheck(False, message, _ms(started), model)
    return ConnectionCheck(True, "", _ms(started), model, found)


def list_models(settings: ProviderSettings) -> list[str]:
    """The model names the provider serves, through the SDK client LangChain itself uses."""
    if settings.plugin is not None:
        raise ValueError(f"a provider of the plugin kind {settings.kind!r} cannot list its models")
    if settings.kind in (ProviderKind.OPENAI, ProviderKind.OPENAI_COMPATIBLE):
        from langchain_openai import ChatOpenAI

        chat = build_chat_model(settings, "list-models")
        assert isinstance(chat, ChatOpenAI)
        return sorted(item.id for item in chat.root_client.models.list())
    if settings.kind == ProviderKind.ANTHROPIC:
        from langchain_anthropic import ChatAnthropic

        chat = build_chat_model(settings, "list-models")
        assert isinstance(chat, ChatAnthropic)
        return sorted(item.id for item in chat._client.models.list())
    if settings.kind == ProviderKind.OLLAMA:
        from langchain_ollama import ChatOllama

        chat = build_chat_model(settings, "list-models")
        assert isinstance(chat, ChatOllama) and chat._client is not None
        return sorted(str(item.model) for item in chat._client.list().models)
    raise ValueError(f"unknown provider kind {settings.kind!r}")


def _scrub(message: str, api_key: str) -> str:
    """Never echo the key back, even if a provider quotes it in its error."""
    return message.replace(api_key, "***") if api_key and len(api_key) >= 4 else message


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)
