"""A plugin adding the ``scripted`` kind of model provider: an OpenAI-compatible endpoint (the
tests' fake server) reached through LangChain clients the plugin builds itself. They mark every
request with ``PLUGIN_HEADER``, so a test sees that the plugin's factory built the model it used."""

from __future__ import annotations

from typing import Any

import openai
from langchain_openai import ChatOpenAI, OpenAIEmbeddings
from pydantic import SecretStr

from builder.sdk import hookimpl
from builder.sdk.providers import ModelProviderSpec, ProviderSettings

KIND = "scripted"
PLUGIN_HEADER = "x-scripted-provider"


def chat_model(settings: ProviderSettings) -> ChatOpenAI:
    return ChatOpenAI(
        model_name=settings.model,
        openai_api_base=settings.base_url,
        openai_api_key=SecretStr(settings.api_key),
        request_timeout=settings.timeout_s,
        max_retries=0,
        streaming=True,
        stream_usage=True,
        default_headers={PLUGIN_HEADER: "chat"},
        # A client of its own: pooled connections belong to the event loop of the run that built it.
        http_async_client=openai.DefaultAsyncHttpxClient(),
    )


def embeddings(settings: ProviderSettings) -> OpenAIEmbeddings:
    return OpenAIEmbeddings(
        model=settings.model,
        openai_api_base=settings.base_url,
        openai_api_key=SecretStr(settings.api_key),
        check_embedding_ctx_length=False,
        max_retries=0,
        default_headers={PLUGIN_HEADER: "embeddings"},
    )


@hookimpl
def register_model_providers() -> list[Any]:
    return [
        ModelProviderSpec(
            kind=KIND, label="Scripted models", chat_model=chat_model, embeddings=embeddings, key_required=True
        )
    ]
