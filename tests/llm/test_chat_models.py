"""WorkspaceChatModels: which provider and model a node gets, what it costs, and a real run through it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from builder.accounts.models import Workspace
from builder.engine.nodes.model_calls import ModelTraits
from builder.engine.runtime.contract import NodeError, RuntimeServices
from builder.engine.values import ModelChoice
from builder.llm.chat_models import WorkspaceChatModels
from builder.llm.models import ModelProvider
from builder.llm.services import model_provider_create
from tests.engine.nodes.support import StubContext, run_node
from tests.factories import make_workspace, owner_of
from tests.support.fake_openai import FakeOpenAI, Reply

pytestmark = pytest.mark.django_db


def provider(workspace: Workspace, name: str, kind: str = "openai_compatible", **fields: Any) -> ModelProvider:
    fields.setdefault("base_url", "http://127.0.0.1:9/v1")
    fields.setdefault("api_key", "sk-test-000000001234")
    return model_provider_create(actor=owner_of(workspace), workspace=workspace, name=name, kind=kind, **fields)


def label(models: WorkspaceChatModels, choice: ModelChoice | None) -> str:
    return ModelTraits.of(models.get(choice)).label


def test_a_choice_names_its_provider_by_id_name_or_kind() -> None:
    workspace = make_workspace()
    deepseek = provider(workspace, "DeepSeek", models=[{"name": "deepseek-chat"}])
    provider(workspace, "Claude", kind="anthropic", base_url="", models=[{"name": "claude-sonnet"}])
    models = WorkspaceChatModels.load(workspace)

    assert label(models, ModelChoice(provider=str(deepseek.pk), name="deepseek-chat")) == "DeepSeek/deepseek-chat"
    assert label(models, ModelChoice(provider="deepseek", name="deepseek-chat")) == "DeepSeek/deepseek-chat"
    assert label(models, ModelChoice(provider="anthropic", name="claude-sonnet")) == "Claude/claude-sonnet"
    # A model the provider does not list still runs (lists are for prices and capabilities).
    assert label(models, ModelChoice(provider="DeepSeek", name="deepseek-v4")) == "DeepSeek/deepseek-v4"

    with pytest.raises(NodeError) as caught:
        models.get(ModelChoice(provider="openai", name="gpt-4o"))
    assert caught.value.code == "not_configured"
    assert caught.value.details["params"] == {"provider": "openai"}


def test_without_a_choice_the_bot_model_then_the_workspace_default_is_used() -> None:
    workspace = make_workspace()
    provider(workspace, "Main", models=[{"name": "m-large"}, {"name": "m-small"}], default_model="m-small")
    provider(workspace, "Other", models=[{"name": "o-1"}])

    assert label(WorkspaceChatModels.load(workspace), None) == "Main/m-small"
    bot_model = ModelChoice(provider="Other", name="o-1")
    assert label(WorkspaceChatModels.load(workspace, bot_model=bot_model), None) == "Other/o-1"


def test_a_workspace_without_providers_is_not_configured() -> None:
    with pytest.raises(NodeError) as caught:
        WorkspaceChatModels.load(make_workspace()).get(None)

    assert caught.value.code == "not_configured"


def test_traits_follow_the_kind_and_the_listed_capabilities() -> None:
    workspace = make_workspace()
    provider(workspace, "OpenAI", kind="openai", base_url="", models=[{"name": "gpt-4o", "vision": True}])
    provider(workspace, "Qwen", preset="dashscope", base_url="")
    provider(workspace, "Claude", kind="anthropic", base_url="", models=[{"name": "claude"}])
    provider(workspace, "Local", kind="ollama", base_url="http://127.0.0.1:11434", api_key="")
    models = WorkspaceChatModels.load(workspace)

    def traits(provider_name: str, model: str) -> ModelTraits:
        return ModelTraits.of(models.get(ModelChoice(provider=provider_name, name=model)))

    assert traits("OpenAI", "gpt-4o") == ModelTraits("OpenAI/gpt-4o", "json_schema", vision=True, tools=True)
    assert traits("Qwen", "qwen-vl-max") == ModelTraits("Qwen/qwen-vl-max", "json_mode", vision=True, tools=False)
    assert traits("Claude", "claude").structured_output == "function_calling"
    assert traits("Local", "llama3.2") == ModelTraits("Local/llama3.2", "json_schema", vision=None, tools=None)


def test_models_are_built_once_per_choice() -> None:
    workspace = make_workspace()
    provider(workspace, "Main", models=[{"name": "m"}])
    models = WorkspaceChatModels.load(workspace)
    choice = ModelChoice(provider="Main", name="m", temperature=0.3)

    assert models.get(choice) is models.get(choice.model_copy())
    assert models.get(choice) is not models.get(choice.model_copy(update={"temperature": 0.9}))


def test_cost_uses_the_listed_prices_per_million_tokens() -> None:
    workspace = make_workspace()
    provider(
        workspace,
        "OpenAI",
        kind="openai",
        base_url="",
        models=[{"name": "gpt-4o", "input_price": 2.5, "output_price": 10}],
    )
    models = WorkspaceChatModels.load(workspace)

    assert models.cost("OpenAI/gpt-4o", 1_000_000, 100_000) == pytest.approx(3.5)
    assert models.cost("gpt-4o", 2_000, 0) == pytest.approx(0.005)
    assert models.cost("OpenAI/unknown", 1000, 1000) == 0.0


@pytest.fixture
def gateway(fake_openai: FakeOpenAI) -> Workspace:
    """A workspace whose only provider is the fake server, which checks the decrypted key."""
    fake_openai.api_key = "sk-workspace-secret-99"
    workspace = make_workspace()
    provider(
        workspace,
        "Gateway",
        base_url=fake_openai.base_url,
        api_key="sk-workspace-secret-99",
        models=[{"name": "gpt-4o-mini", "input_price": 0.15, "output_price": 0.6}],
    )
    return workspace


@pytest.mark.django_db(transaction=True)
async def test_an_llm_node_runs_on_the_workspace_provider(fake_openai: FakeOpenAI, gateway: Workspace) -> None:
    fake_openai.script([Reply(text="Bonjour !", usage=(1000, 500))])
    models = await WorkspaceChatModels.aload(gateway)
    ctx = StubContext(RuntimeServices(chat_models=models))

    result = await run_node("llm", {"user_prompt": "Say hello in French."}, ctx)

    assert result.outputs["text"] == "Bonjour !"
    assert result.usage is not None and result.usage.model == "Gateway/gpt-4o-mini"
    assert result.usage.cost == pytest.approx((1000 * 0.15 + 500 * 0.6) / 1_000_000)
    assert fake_openai.last.headers["authorization"] == "Bearer sk-workspace-secret-99"


def test_clients_survive_a_new_event_loop_per_run(fake_openai: FakeOpenAI, gateway: Workspace) -> None:
    """Celery runs each task in a fresh asyncio.run: pooled connections must not leak across loops."""
    providers = list(ModelProvider.objects.filter(workspace=gateway))

    async def one_run() -> str:
        message = await WorkspaceChatModels(providers).get(None).ainvoke([HumanMessage("hi")])
        return message.text

    assert [asyncio.run(one_run()) for _ in range(3)] == ["Hello from the fake model."] * 3
