"""Provider kinds, the OpenAI-compatible presets, and the shape of a provider's model list.

Prices are per million tokens, in whatever currency the workspace bills in (the same for all its
providers); presets leave them at 0 because providers change them often — admins enter theirs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class ProviderKind(models.TextChoices):
    OPENAI = "openai", _("OpenAI")
    OPENAI_COMPATIBLE = "openai_compatible", _("OpenAI-compatible")
    ANTHROPIC = "anthropic", _("Anthropic")
    OLLAMA = "ollama", _("Ollama")


# Where a provider is reached when no base URL is given.
DEFAULT_BASE_URLS: dict[str, str] = {
    ProviderKind.OPENAI: "https://api.openai.com/v1",
    ProviderKind.ANTHROPIC: "https://api.anthropic.com",
    ProviderKind.OLLAMA: "http://localhost:11434",
}
# Kinds that cannot work without an API key.
KEY_REQUIRED: set[str] = {ProviderKind.OPENAI, ProviderKind.ANTHROPIC}
# Whether a model of this kind is assumed to take a JSON Schema response format when not told.
JSON_SCHEMA_BY_DEFAULT: dict[str, bool] = {ProviderKind.OPENAI: True, ProviderKind.OLLAMA: True}


class ModelInfo(BaseModel):
    """One entry of a provider's ``models`` list."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    display_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    # Per million tokens.
    input_price: float = Field(default=0.0, ge=0, le=1_000_000)
    output_price: float = Field(default=0.0, ge=0, le=1_000_000)
    vision: bool = False
    tools: bool = True
    # None until saved: then filled from the kind (see JSON_SCHEMA_BY_DEFAULT).
    json_schema: bool | None = None

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input_price + completion_tokens * self.output_price) / 1_000_000


@dataclass(frozen=True)
class Preset:
    """A well-known OpenAI-compatible service: its endpoint and a starting model list."""

    key: str
    name: str | Promise
    base_url: str
    models: list[ModelInfo] = field(default_factory=list)
    key_required: bool = True
    note: str | Promise = ""


def _m(name: str, *, vision: bool = False, tools: bool = True, json_schema: bool = False) -> ModelInfo:
    return ModelInfo(name=name, vision=vision, tools=tools, json_schema=json_schema)


PRESETS: dict[str, Preset] = {
    preset.key: preset
    for preset in [
        Preset(
            "deepseek",
            "DeepSeek",
            "https://api.deepseek.com/v1",
            [_m("deepseek-chat"), _m("deepseek-reasoner", tools=False)],
        ),
        Preset(
            "dashscope",
            _("Qwen (Alibaba Cloud DashScope)"),
            "https://dashscope.aliyuncs.com/compatible-mode/v1",
            [_m("qwen-max"), _m("qwen-plus"), _m("qwen-turbo"), _m("qwen-vl-max", vision=True, tools=False)],
        ),
        Preset(
            "ark",
            _("Doubao (Volcengine Ark)"),
            "https://ark.cn-beijing.volces.com/api/v3",
            [],
            note=_("Use your Ark endpoint ID (ep-…) or model ID as the model name."),
        ),
        Preset(
            "moonshot",
            _("Moonshot (Kimi)"),
            "https://api.moonshot.cn/v1",
            [_m("moonshot-v1-8k"), _m("moonshot-v1-32k"), _m("moonshot-v1-128k")],
        ),
        Preset(
            "zhipu",
            _("GLM (Zhipu AI)"),
            "https://open.bigmodel.cn/api/paas/v4",
            [_m("glm-4-plus"), _m("glm-4-flash"), _m("glm-4v-plus", vision=True, tools=False)],
        ),
        Preset(
            "vllm",
            "vLLM",
            "http://localhost:8000/v1",
            [],
            key_required=False,
            note=_("The model name is what vLLM serves (--served-model-name)."),
        ),
    ]
}
