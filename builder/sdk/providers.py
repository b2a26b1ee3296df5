"""What ``register_model_providers`` returns: a kind of model provider a plugin adds.

The host's model settings list the kind next to the built-in ones (OpenAI, Anthropic, Ollama…);
when a node picks one of its models, the host calls ``chat_model`` (or ``embeddings``) with the
provider's settings. Both return LangChain objects, so anything LangChain can talk to can be added.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

PROVIDER_KIND: Final = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


@dataclass(frozen=True)
class ProviderSettings:
    """A workspace's settings of one provider, its key decrypted."""

    base_url: str
    api_key: str
    model: str
    timeout_s: float = 60.0


@dataclass(frozen=True)
class ModelProviderSpec:
    """A kind of model provider: how to build its chat model and/or its embedding model."""

    kind: str
    label: str
    # ProviderSettings -> langchain_core.language_models.BaseChatModel
    chat_model: Callable[[ProviderSettings], Any] | None = None
    # ProviderSettings -> langchain_core.embeddings.Embeddings
    embeddings: Callable[[ProviderSettings], Any] | None = None
    default_base_url: str = ""
    key_required: bool = False

    def __post_init__(self) -> None:
        if not PROVIDER_KIND.match(self.kind):
            raise ValueError(f"Provider kind {self.kind!r}: use 1-32 lowercase letters, digits and underscores.")
        if self.chat_model is None and self.embeddings is None:
            raise ValueError(f"Provider {self.kind}: give chat_model, embeddings or both.")
