"""ChatAnthropic on the SSRF-safe HTTP clients (see ``http_clients``); imported only when used."""

from __future__ import annotations

from functools import cached_property

import anthropic
from langchain_anthropic import ChatAnthropic

from builder.llm.http_clients import blocking_http_client, loop_http_client


class LoopSafeChatAnthropic(ChatAnthropic):
    # Private hosts and networks the provider's base URL may reach (AGENTLOOM_HTTP_ALLOWLIST).
    ssrf_allow: tuple[str, ...] = ()

    @cached_property
    def _client(self) -> anthropic.Client:
        return anthropic.Client(**self._client_params, http_client=blocking_http_client("anthropic", self.ssrf_allow))

    @cached_property
    def _async_client(self) -> anthropic.AsyncClient:
        http_client = loop_http_client("anthropic", self.ssrf_allow)
        return anthropic.AsyncClient(**self._client_params, http_client=http_client)
