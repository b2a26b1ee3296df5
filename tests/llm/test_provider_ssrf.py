"""A model provider's base URL is outbound HTTP like a bot's: it reaches private, loopback or
link-local addresses only through the allow-list (AGENTLOOM_HTTP_ALLOWLIST), when it is saved and
on every call (DNS can change after it was saved). The embedded default allows loopback (a local
Ollama or vLLM); production allows nothing private unless told."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from builder.accounts.models import Workspace
from builder.accounts.roles import Role
from builder.core.crypto import encrypt_secret
from builder.knowledge.embeddings.langchain_models import LangChainEmbedder
from builder.llm.clients import ProviderSettings, check_connection
from builder.llm.models import ModelProvider
from tests.factories import client_for, error_of, make_workspace, member
from tests.support.fake_openai import FakeOpenAI
from tests.support.settings_probe import setting_computed

BLOCKED = "is not a public address"


def url(workspace: Workspace, suffix: str = "") -> str:
    return f"/api/v1/workspaces/{workspace.pk}/model-providers/{suffix}"


def admin_of(workspace: Workspace) -> Any:
    return client_for(member(workspace, Role.ADMIN))


def provider_at(workspace: Workspace, base_url: str) -> ModelProvider:
    """A provider as it was saved while its address was allowed (or its DNS pointed elsewhere)."""
    return ModelProvider.objects.create(
        workspace=workspace,
        name="Local",
        kind="openai_compatible",
        base_url=base_url,
        api_key_encrypted=encrypt_secret(""),
        model_list=[{"name": "gpt-4o-mini"}],
        default_model="gpt-4o-mini",
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "base_url",
    [
        "http://127.0.0.1:11434/v1",
        "http://localhost:8000/v1",  # a name that resolves to loopback
        "http://169.254.169.254/latest",  # cloud metadata
        "http://10.0.0.7/v1",
        "http://[::1]:8000/v1",
    ],
)
def test_saving_a_private_base_url_is_refused_naming_the_field(settings: Any, base_url: str) -> None:
    settings.AGENTLOOM_HTTP_ALLOWLIST = []
    workspace = make_workspace()
    body = {"name": "Local", "kind": "openai_compatible", "base_url": base_url, "models": [{"name": "m"}]}

    created = admin_of(workspace).post(url(workspace), body)
    checked = admin_of(workspace).post(url(workspace, "check"), {**body, "model": "m"})

    for response in (created, checked):
        assert response.status_code == 400, response.content
        assert BLOCKED in error_of(response)["fields"]["base_url"][0]
    assert not ModelProvider.objects.exists()


@pytest.mark.django_db
def test_changing_the_base_url_to_a_private_one_is_refused(settings: Any) -> None:
    settings.AGENTLOOM_HTTP_ALLOWLIST = []
    workspace = make_workspace()
    provider = provider_at(workspace, "https://api.deepseek.com/v1")

    response = admin_of(workspace).patch(url(workspace, str(provider.pk)), {"base_url": "http://127.0.0.1:9/v1"})

    chinese = admin_of(workspace).patch(
        url(workspace, str(provider.pk)), {"base_url": "http://127.0.0.1:9/v1"}, HTTP_ACCEPT_LANGUAGE="zh-Hans"
    )

    assert response.status_code == 400
    assert BLOCKED in error_of(response)["fields"]["base_url"][0]
    assert "不是公网地址" in error_of(chinese)["fields"]["base_url"][0]
    provider.refresh_from_db()
    assert provider.base_url == "https://api.deepseek.com/v1"


@pytest.mark.django_db
def test_the_allow_list_lets_a_local_server_in(settings: Any, fake_openai: FakeOpenAI) -> None:
    settings.AGENTLOOM_HTTP_ALLOWLIST = ["127.0.0.1"]
    workspace = make_workspace()
    body = {"name": "vLLM", "kind": "openai_compatible", "base_url": fake_openai.base_url, "models": [{"name": "m"}]}

    created = admin_of(workspace).post(url(workspace), body)
    checked = admin_of(workspace).post(url(workspace, f"{created.json()['id']}/check"), {})

    assert created.status_code == 201, created.content
    assert checked.json()["ok"] is True, checked.json()
    assert fake_openai.request_count == 1


@pytest.mark.django_db
def test_a_saved_provider_no_longer_allowed_is_refused_before_any_request(
    settings: Any, fake_openai: FakeOpenAI
) -> None:
    settings.AGENTLOOM_HTTP_ALLOWLIST = []
    workspace = make_workspace()
    provider = provider_at(workspace, fake_openai.base_url)

    body = admin_of(workspace).post(url(workspace, f"{provider.pk}/check"), {}).json()

    assert body["ok"] is False
    assert BLOCKED in body["message"]
    assert fake_openai.request_count == 0  # refused before connecting


def test_every_client_of_a_provider_refuses_a_private_address(fake_openai: FakeOpenAI) -> None:
    # Chat (the check's one-token completion), the model list, and embeddings, built as runs build them.
    refused = ProviderSettings(kind="openai_compatible", base_url=fake_openai.base_url)
    allowed = ProviderSettings(kind="openai_compatible", base_url=fake_openai.base_url, allow=("127.0.0.1",))

    chat, listing = check_connection(refused, "gpt-4o-mini"), check_connection(refused)
    with pytest.raises(Exception, match=BLOCKED):
        embedder_for(refused).embed_query("hello")

    assert not chat.ok and BLOCKED in chat.message
    assert not listing.ok and BLOCKED in listing.message
    assert fake_openai.request_count == 0 and fake_openai.requests == []  # no completion, no embedding
    assert check_connection(allowed, "gpt-4o-mini").ok
    assert len(embedder_for(allowed).embed_query("hello")) > 0


def embedder_for(provider: ProviderSettings) -> LangChainEmbedder:
    return LangChainEmbedder.from_settings(
        kind=provider.kind, base_url=provider.base_url, api_key="", model="embed", allow=provider.allow
    )


def allow_list_with(var_dir: Path, **environment: str) -> str:
    """``AGENTLOOM_HTTP_ALLOWLIST`` as the settings compute it from this environment."""
    return setting_computed("AGENTLOOM_HTTP_ALLOWLIST", "AGENTLOOM_HTTP_ALLOWLIST", var_dir, **environment)


def test_loopback_is_allowed_by_default_only_on_the_embedded_default(tmp_path: Path) -> None:
    production = {"DATABASE_URL": "postgres://agentloom@127.0.0.1:5432/agentloom", "DJANGO_SECRET_KEY": "x" * 50}

    assert allow_list_with(tmp_path) == "['127.0.0.0/8', '::1', 'localhost']"
    assert allow_list_with(tmp_path, **production) == "[]"
    assert allow_list_with(tmp_path, AGENTLOOM_HTTP_ALLOWLIST="10.0.0.7") == "['10.0.0.7']"
