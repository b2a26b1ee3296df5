"""A kind of model provider added by a plugin, used like a built-in one: listed with the kinds, added
to a workspace over the API, checked, chatted with by a bot's llm node and used by a knowledge base,
each time through the plugin's own LangChain factory (``provider_plugin``, against the fake OpenAI
server). When the plugin is gone or disabled, runs fail with a typed error.

Runs and indexing happen in this process (the plugin is loaded into this process's host only), on
the mode's database.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from builder.accounts.models import Workspace
from builder.accounts.roles import Role
from builder.bots.services import bot_publish
from builder.conversations.models import Run, RunStep
from builder.conversations.services import conversation_create, message_send
from builder.knowledge import services as knowledge
from builder.knowledge.embedders import embedder_for
from builder.knowledge.embeddings import EmbeddingUnavailable
from builder.knowledge.models import Document
from builder.knowledge.selectors import knowledge_base_retrieve
from builder.pluginhost.manager import PluginHost, set_host
from builder.pluginhost.services import plugin_disable, plugin_enable
from tests.factories import client_for, error_of, make_bot, make_user, make_workspace, member, owner_of
from tests.pluginhost import provider_plugin
from tests.pluginhost.provider_plugin import KIND, PLUGIN_HEADER
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.graphs import linear_bot, node
from tests.support.knowledge import wait_for_document
from tests.support.plugin_hosts import host_with

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("models_host")]

KEY = "sk-scripted-0123456789"
PLUGIN = "test_models"


@pytest.fixture
def models_host() -> Iterator[PluginHost]:
    with host_with(provider_plugin) as host:
        yield host


@pytest.fixture
def in_process(settings: Any) -> None:
    """Runs and indexing in this process, whose host has the plugin (not on a Celery worker)."""
    settings.CELERY_TASK_ALWAYS_EAGER = True


def url(workspace: Workspace, suffix: str = "") -> str:
    return f"/api/v1/workspaces/{workspace.pk}/model-providers/{suffix}"


def add_provider(workspace: Workspace, fake_openai: FakeOpenAI, **fields: Any) -> dict[str, Any]:
    """The plugin enabled in the workspace and a provider of its kind added by an admin, over the API."""
    plugin_enable(actor=owner_of(workspace), workspace=workspace, plugin_id=PLUGIN)
    body = {
        "name": "Gateway",
        "kind": KIND,
        "base_url": fake_openai.base_url,
        "api_key": KEY,
        "models": [{"name": "scripted-chat"}],
        **fields,
    }
    response = client_for(member(workspace, Role.ADMIN)).post(url(workspace), body)
    assert response.status_code == 201, response.json()
    return dict(response.json())


def chat_bot() -> dict[str, Any]:
    return linear_bot(
        node("start", "start", {"inputs": []}),
        node(
            "llm",
            "llm",
            {"user_prompt": "{{ sys.query }}", "model": {"provider": "Gateway", "name": "scripted-chat"}},
        ),
        node("answer", "answer", {"text": "{{ llm.text }}"}),
    )


def turn(workspace: Workspace, text: str) -> Run:
    owner = owner_of(workspace)
    bot = make_bot(workspace, draft=chat_bot())
    bot_publish(actor=owner, bot=bot)
    bot.refresh_from_db()
    run = message_send(actor=owner, conversation=conversation_create(actor=owner, bot=bot), text=text)
    run.refresh_from_db()
    return run


def test_the_kinds_list_the_plugins_kind_after_the_built_in_ones() -> None:
    response = client_for(make_user()).get("/api/v1/model-providers/kinds")

    assert response.status_code == 200
    kinds = {item["kind"]: item for item in response.json()}
    assert list(kinds) == ["openai", "openai_compatible", "anthropic", "ollama", KIND]
    assert kinds[KIND] == {
        "kind": KIND,
        "name": "Scripted models",
        "plugin": PLUGIN,
        "default_base_url": "",
        "key_required": True,
        "chat": True,
        "embeddings": True,
    }
    assert kinds["anthropic"] == {
        "kind": "anthropic",
        "name": "Anthropic",
        "plugin": "",
        "default_base_url": "https://api.anthropic.com",
        "key_required": True,
        "chat": True,
        "embeddings": False,
    }


def test_an_unknown_kind_is_refused_naming_the_kinds_there_are() -> None:
    workspace = make_workspace()
    admin = client_for(member(workspace, Role.ADMIN))

    response = admin.post(url(workspace), {"name": "Mystery", "kind": "mystery", "api_key": KEY})
    draft_check = admin.post(url(workspace, "check"), {"kind": "mystery", "model": "m"})

    for refused in (response, draft_check):
        assert refused.status_code == 400
        assert error_of(refused)["fields"]["kind"] == [
            f"Unknown provider kind. Choose one of: openai, openai_compatible, anthropic, ollama, {KIND}."
        ]


def test_the_plugins_kind_needs_the_key_it_says_it_needs(fake_openai: FakeOpenAI) -> None:
    workspace = make_workspace()
    body = {"name": "Gateway", "kind": KIND, "base_url": fake_openai.base_url}

    response = client_for(member(workspace, Role.ADMIN)).post(url(workspace), body)

    assert response.status_code == 400 and list(error_of(response)["fields"]) == ["api_key"]


@pytest.mark.usefixtures("in_process")
def test_a_bot_chats_through_the_model_the_plugin_builds(fake_openai: FakeOpenAI) -> None:
    workspace = make_workspace()
    provider = add_provider(workspace, fake_openai)
    fake_openai.api_key = KEY
    fake_openai.script([Reply(text="Hello from a plugin's model.")])

    run = turn(workspace, "Say hello.")

    assert run.status == Run.Status.FINISHED, run.error
    assert run.answer == "Hello from a plugin's model."
    request = fake_openai.last
    assert request.headers[PLUGIN_HEADER] == "chat"
    assert request.model == "scripted-chat" and request.stream and "Say hello." in request.text("user")
    step = RunStep.objects.get(run=run, node_id="llm")
    assert step.usage["model"] == "Gateway/scripted-chat"
    assert provider["kind"] == KIND and provider["kind_label"] == "Scripted models"


def test_the_connection_check_asks_the_plugins_model_for_one_token(fake_openai: FakeOpenAI) -> None:
    workspace = make_workspace()
    provider = add_provider(workspace, fake_openai)
    admin = client_for(member(workspace, Role.ADMIN))

    saved = admin.post(url(workspace, f"{provider['id']}/check"), {}).json()
    draft = {"kind": KIND, "base_url": fake_openai.base_url, "api_key": KEY, "model": "scripted-chat"}
    unsaved = admin.post(url(workspace, "check"), draft).json()

    for body in (saved, unsaved):
        assert body | {"latency_ms": 0} == {
            "ok": True,
            "message": "",
            "latency_ms": 0,
            "model": "scripted-chat",
            "models": [],
        }
    for request in fake_openai.requests:
        assert request.headers[PLUGIN_HEADER] == "chat" and request.body["max_completion_tokens"] == 1
    assert len(fake_openai.requests) == 2
    # The plugin's models cannot be listed: a model must be named.
    unnamed = admin.post(url(workspace, "check"), {"kind": KIND, "base_url": fake_openai.base_url, "api_key": KEY})
    assert unnamed.status_code == 400 and list(error_of(unnamed)["fields"]) == ["model"]


def _plugin_embedded_kb(owner: Any, workspace: Any, provider: dict[str, Any]) -> Any:
    """A high-quality knowledge base embedded by the plugin's provider."""
    embedding = {"provider": provider["id"], "model": "scripted-embed"}
    return knowledge.knowledge_base_create(
        actor=owner, workspace=workspace, name="Manuals", index_mode="high_quality", embedding=embedding
    )


@pytest.mark.usefixtures("in_process")
def test_a_knowledge_base_embeds_with_the_plugins_embedding_model(fake_openai: FakeOpenAI) -> None:
    workspace = make_workspace()
    owner = owner_of(workspace)
    provider = add_provider(workspace, fake_openai)
    kb = _plugin_embedded_kb(owner, workspace, provider)
    content = b"The battery lasts thirty hours.\n\nPair the earbuds by holding the power key."

    document = knowledge.document_upload(actor=owner, knowledge_base=kb, name="manual.txt", content=content)
    document = wait_for_document(document)

    assert document.status == Document.Status.READY, document.error
    hits = knowledge_base_retrieve(
        actor=owner, knowledge_base=kb, query="battery hours", top_k=1, score_threshold=None, mode="semantic"
    )
    assert "thirty hours" in hits[0]["content"]
    embedding_calls = [request for request in fake_openai.requests if request.path == "/v1/embeddings"]
    assert embedding_calls and all(request.headers[PLUGIN_HEADER] == "embeddings" for request in embedding_calls)
    assert {request.model for request in embedding_calls} == {"scripted-embed"}


@pytest.mark.usefixtures("in_process")
def test_without_the_plugin_its_providers_fail_with_typed_errors(fake_openai: FakeOpenAI) -> None:
    workspace = make_workspace()
    owner = owner_of(workspace)
    provider = add_provider(workspace, fake_openai)
    kb = _plugin_embedded_kb(owner, workspace, provider)
    admin = client_for(member(workspace, Role.ADMIN))

    plugin_disable(actor=owner, workspace=workspace, plugin_id=PLUGIN)
    disabled = turn(workspace, "Hello?")
    disabled_check = admin.post(url(workspace, f"{provider['id']}/check"), {}).json()

    set_host(PluginHost())  # uninstalled: this process's plugins no longer include it
    removed = turn(workspace, "Hello?")
    removed_check = admin.post(url(workspace, f"{provider['id']}/check"), {}).json()
    listed = client_for(owner).get(url(workspace)).json()["results"]

    for run, code in ((disabled, "plugin_disabled"), (removed, "provider_unavailable")):
        assert run.status == Run.Status.FAILED
        step = RunStep.objects.get(run=run, node_id="llm")
        assert step.status == "failed" and step.error["code"] == code
    assert RunStep.objects.get(run=disabled, node_id="llm").error["message"] == (
        "The test_models plugin, which provides scripted models, is not enabled in this workspace."
    )
    assert (
        RunStep.objects.get(run=removed, node_id="llm")
        .error["message"]
        .startswith("No plugin on this server provides scripted models any more")
    )
    assert disabled_check["ok"] is False and "is not enabled in this workspace" in disabled_check["message"]
    assert removed_check["ok"] is False and "No plugin on this server provides" in removed_check["message"]
    assert fake_openai.requests == []
    # The provider stays listed, under its kind, and can still be renamed or deleted.
    assert [(item["kind"], item["kind_label"]) for item in listed] == [(KIND, KIND)]
    assert admin.patch(url(workspace, provider["id"]), {"name": "Old gateway"}).status_code == 200
    with pytest.raises(EmbeddingUnavailable, match="No plugin on this server provides scripted models"):
        embedder_for(kb)
