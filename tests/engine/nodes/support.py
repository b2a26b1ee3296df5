"""A small NodeContext and a ChatModels over the fake OpenAI server, to run one node at a time.

The chat models are the production ones (``builder.llm.clients.build_chat_model``: ChatOpenAI,
streaming, no SDK retries) pointed at ``tests/support/fake_openai.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from langchain_core.language_models import BaseChatModel

from builder.engine.nodes import registry
from builder.engine.nodes.model_calls import ModelTraits
from builder.engine.runtime.contract import NodeResult, RuntimeServices
from builder.engine.values import ModelChoice, Ref
from builder.llm.clients import ProviderSettings, build_chat_model
from tests.support.fake_openai import FakeOpenAI

_JINJA = ImmutableSandboxedEnvironment(undefined=StrictUndefined)


class ServerModels:
    """``ChatModels`` over the fake server. Per-model traits and prices (per 1M tokens) are optional."""

    def __init__(
        self,
        server: FakeOpenAI,
        *,
        default: str = "gpt-4o-mini",
        timeout_s: float = 5.0,
        traits: Mapping[str, Mapping[str, Any]] | None = None,
        prices: Mapping[str, tuple[float, float]] | None = None,
    ) -> None:
        self.settings = ProviderSettings(
            kind="openai_compatible",
            base_url=server.base_url,
            api_key="sk-test",
            timeout_s=timeout_s,
            allow=("127.0.0.1",),  # the fake server's address, private like a local vLLM
        )
        self.default = default
        self.traits = dict(traits or {})
        self.prices = dict(prices or {})
        self.asked: list[ModelChoice | None] = []

    def get(self, choice: ModelChoice | None) -> BaseChatModel:
        self.asked.append(choice)
        choice = choice or ModelChoice(provider="fake", name=self.default)
        traits = ModelTraits(label=f"fake/{choice.name}", **self.traits.get(choice.name, {}))
        return build_chat_model(self.settings, choice.name, choice=choice, traits=traits)

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        input_price, output_price = self.prices.get(model.removeprefix("fake/"), (0.0, 0.0))
        return (prompt_tokens * input_price + completion_tokens * output_price) / 1_000_000


class StubContext:
    """A NodeContext over a plain dict of node outputs; records what the node streamed."""

    node_id = "node"
    run_id = "run-1"

    def __init__(
        self,
        services: RuntimeServices,
        *,
        outputs: Mapping[str, Mapping[str, Any]] | None = None,
        sys: Mapping[str, Any] | None = None,
    ) -> None:
        self.services = services
        self.outputs = dict(outputs or {})
        self.sys = {"query": "", "files": [], "user_id": "u1", "conversation_id": "c1", **(sys or {})}
        self.deltas: list[dict[str, Any]] = []
        self.is_cancelled = False

    def _root(self, name: str) -> Any:
        return self.sys if name == "sys" else self.outputs.get(name)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, Ref):
            found = self._root(value.node_id)
            for part in value.ref[1:]:
                found = found.get(part) if isinstance(found, dict) else None
            return found
        if isinstance(value, dict):
            return {key: self.resolve(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        return value

    def render(self, template: str) -> str:
        return _JINJA.from_string(template).render({**self.outputs, "sys": self.sys})

    async def emit_message_delta(self, text: str) -> None:
        self.deltas.append({"message": text})

    async def emit_node_delta(self, data: Mapping[str, Any]) -> None:
        self.deltas.append(dict(data))

    async def emit_tool_progress(self, tool: str, percent: float | None, note: str = "") -> None:
        self.deltas.append({"tool_progress": tool, "percent": percent, "note": note})

    async def emit_tool_file(
        self, tool: str, *, url: str, name: str, content_type: str, size: int | None = None, field: str = ""
    ) -> None:
        file = {"url": url, "name": name, "content_type": content_type, "size": size, "field": field}
        self.deltas.append({"tool_file": tool, **file})

    def set_variable(self, scope: str, name: str, value: Any) -> None:
        raise AssertionError("model nodes do not write variables")

    def ask(self, question: Mapping[str, Any]) -> Any:
        raise AssertionError("model nodes do not ask")

    def cancelled(self) -> bool:
        return self.is_cancelled

    @property
    def streamed_text(self) -> str:
        return "".join(delta["text"] for delta in self.deltas if "text" in delta)

    def deltas_with(self, key: str) -> list[Any]:
        return [delta[key] for delta in self.deltas if key in delta]


async def run_node(node_type: str, data: Mapping[str, Any], ctx: StubContext) -> NodeResult:
    """Validate ``data`` with the node's config model and run the latest version of the node."""
    spec = registry.resolve(node_type)
    config = spec.config_model.model_validate(data)
    return await spec.run(config, ctx)
