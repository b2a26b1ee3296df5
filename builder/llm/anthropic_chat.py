"""ChatAnthropic on the running loop's HTTP client (see ``http_clients``); imported only when used."""

from __future__ import annotations

from functools import cached_property

import anthropic
from langchain_anthropic import ChatAnthropic

from builder.llm.http_clients import loop_http_client


class LoopSafeChatAnthropic(ChatAnthropic):
    @cached_property
    def _async_client(self) -> anthropic.AsyncClient:
        http_client = loop_http_client("anthropic")
        if http_client is None:
            return super()._async_client
        return anthropic.AsyncClient(**self._client_params, http_client=http_client)
