"""Model providers over the API: keys go in encrypted and come out masked; admins manage, editors list."""

from __future__ import annotations

from typing import Any

import pytest

from builder.accounts.models import Workspace
from builder.accounts.roles import Role
from builder.core.crypto import decrypt_secret
from builder.llm.models import ModelProvider
from tests.factories import client_for, error_of, key_client, make_user, make_workspace, member
from tests.support.fake_openai import FakeOpenAI

pytestmark = pytest.mark.django_db

KEY = "sk-abcdef1234567890"


def url(workspace: Workspace, suffix: str = "") -> str:
    return f"/api/v1/workspaces/{workspace.pk}/model-providers/{suffix}"


def create(workspace: Workspace, **fields: Any) -> Any:
    body = {"name": "DeepSeek", "kind": "openai_compatible", "preset": "deepseek", "api_key": KEY, **fields}
    return client_for(member(workspace, Role.ADMIN)).post(url(workspace), body)


def test_a_preset_fills_in_the_endpoint_and_models_and_the_key_is_never_shown() -> None:
    workspace = make_workspace()

    response = create(workspace)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["base_url"] == "https://api.deepseek.com/v1"
    assert [model["name"] for model in body["models"]] == ["deepseek-chat", "deepseek-reasoner"]
    assert body["models"][0] == {
        "name": "deepseek-chat",
        "display_name": "",
        "input_price": 0.0,
        "output_price": 0.0,
        "vision": False,
        "tools": True,
        "json_schema": False,
    }
    assert body["api_key_set"] is True and body["api_key_hint"] == "sk-…7890"
    assert KEY not in response.content.decode()
    assert body["is_default"] is True  # the workspace's first provider

    stored = ModelProvider.objects.get()
    assert KEY not in stored.api_key_encrypted and decrypt_secret(stored.api_key_encrypted) == KEY
    listing = client_for(member(workspace, Role.EDITOR)).get(url(workspace))
    assert KEY not in listing.content.decode() and listing.json()["results"][0]["api_key_hint"] == "sk-…7890"


def test_models_carry_prices_and_capabilities_with_kind_defaults() -> None:
    workspace = make_workspace()
    models = [
        {"name": "gpt-4o", "input_price": 2.5, "output_price": 10, "vision": True},
        {"name": "gpt-4o-mini", "input_price": 0.15, "output_price": 0.6, "json_schema": False},
    ]

    body = create(workspace, name="OpenAI", kind="openai", preset="", models=models, default_model="gpt-4o-mini").json()

    assert [(m["name"], m["vision"], m["json_schema"]) for m in body["models"]] == [
        ("gpt-4o", True, True),
        ("gpt-4o-mini", False, False),
    ]
    assert body["models"][0]["output_price"] == 10.0
    assert body["default_model"] == "gpt-4o-mini"
    assert body["base_url"] == ""  # the kind's default endpoint


@pytest.mark.parametrize(
    ("fields", "error_field"),
    [
        ({"kind": "openai", "preset": "", "api_key": ""}, "api_key"),
        ({"preset": "", "base_url": ""}, "base_url"),
        ({"preset": "", "base_url": "ftp://models.example.com"}, "base_url"),
        ({"kind": "ollama", "preset": "deepseek"}, "preset"),
        ({"models": [{"name": "a"}, {"name": "a"}]}, "models.1.name"),
        ({"models": [{"name": "a"}], "default_model": "b"}, "default_model"),
        ({"models": [{"name": "a", "input_price": -1}]}, "models.0.input_price"),
        ({"timeout_s": 0}, "timeout_s"),
    ],
)
def test_invalid_settings_are_refused_field_by_field(fields: dict[str, Any], error_field: str) -> None:
    workspace = make_workspace()

    response = create(workspace, **fields)

    assert response.status_code == 400
    assert error_field in error_of(response)["fields"]
    assert not ModelProvider.objects.exists()


def test_names_are_unique_per_workspace_whatever_the_case() -> None:
    workspace = make_workspace()
    create(workspace)

    duplicate = create(workspace, name="deepseek")

    assert duplicate.status_code == 400 and "name" in error_of(duplicate)["fields"]
    assert create(make_workspace(name="Other"), name="deepseek").status_code == 201


def test_editors_list_admins_manage_viewers_and_outsiders_see_nothing() -> None:
    workspace = make_workspace()
    provider_id = create(workspace).json()["id"]
    editor = client_for(member(workspace, Role.EDITOR))
    viewer = client_for(member(workspace, Role.VIEWER))
    outsider = client_for(make_user())

    assert editor.get(url(workspace)).status_code == 200
    assert editor.get(url(workspace, provider_id)).status_code == 200
    assert editor.post(url(workspace), {"name": "x", "kind": "ollama"}).status_code == 403
    assert editor.patch(url(workspace, provider_id), {"name": "y"}).status_code == 403
    assert editor.delete(url(workspace, provider_id)).status_code == 403
    assert editor.post(url(workspace, f"{provider_id}/check"), {}).status_code == 403
    assert viewer.get(url(workspace)).status_code == 403
    assert outsider.get(url(workspace)).status_code == 404
    bot_key, _raw = key_client(workspace, role=Role.ADMIN, bot_id=None)
    assert bot_key.post(url(workspace), {"name": "via key", "kind": "ollama"}).status_code == 201


def test_updating_keeps_replaces_or_removes_the_key() -> None:
    workspace = make_workspace()
    admin = client_for(member(workspace, Role.ADMIN))
    body = {"name": "Local vLLM", "kind": "openai_compatible", "preset": "vllm", "api_key": KEY}
    provider_id = admin.post(url(workspace), body).json()["id"]

    kept = admin.patch(url(workspace, provider_id), {"name": "GPU box"}).json()
    replaced = admin.patch(url(workspace, provider_id), {"api_key": "sk-new-key-0000000042"}).json()
    stored = ModelProvider.objects.get()
    removed = admin.patch(url(workspace, provider_id), {"api_key": ""}).json()

    assert (kept["name"], kept["api_key_hint"]) == ("GPU box", "sk-…7890")
    assert replaced["api_key_hint"] == "sk-…0042"
    assert decrypt_secret(stored.api_key_encrypted) == "sk-new-key-0000000042"
    assert (removed["api_key_set"], removed["api_key_hint"]) == (False, "")
    needs_key = admin.patch(url(workspace, provider_id), {"preset": "deepseek"})
    assert needs_key.status_code == 400 and "api_key" in error_of(needs_key)["fields"]


def test_one_default_per_workspace_and_deleting_it_promotes_another() -> None:
    workspace = make_workspace()
    first = create(workspace).json()
    second = create(workspace, name="Kimi", preset="moonshot", is_default=True).json()

    assert second["is_default"] is True
    assert ModelProvider.objects.get(pk=first["id"]).is_default is False

    admin = client_for(member(workspace, Role.ADMIN))
    assert admin.delete(url(workspace, second["id"])).status_code == 204
    assert ModelProvider.objects.get(pk=first["id"]).is_default is True


def test_presets_are_listed_for_the_form() -> None:
    response = client_for(make_user()).get("/api/v1/model-providers/presets")

    presets = {preset["key"]: preset for preset in response.json()}
    assert set(presets) == {"deepseek", "dashscope", "ark", "moonshot", "zhipu", "vllm"}
    assert presets["dashscope"]["base_url"] == "https://dashscope.aliyuncs.com/compatible-mode/v1"
    assert presets["vllm"]["key_required"] is False


# --- check connection: real calls to the fake OpenAI server ---------------------------------------


def test_check_asks_the_default_model_for_one_token(fake_openai: FakeOpenAI) -> None:
    workspace = make_workspace()
    fake_openai.api_key = KEY
    provider = create(workspace, preset="", base_url=fake_openai.base_url, models=[{"name": "gpt-4o-mini"}]).json()
    admin = client_for(member(workspace, Role.ADMIN))

    response = admin.post(url(workspace, f"{provider['id']}/check"), {})

    assert response.status_code == 200
    assert response.json() | {"latency_ms": 0} == {
        "ok": True,
        "message": "",
        "latency_ms": 0,
        "model": "gpt-4o-mini",
        "models": [],
    }
    request = fake_openai.last
    assert request.model == "gpt-4o-mini" and request.body["max_tokens"] == 1
    assert request.headers["authorization"] == f"Bearer {KEY}"


def test_a_refused_check_shows_the_provider_message_without_the_key(fake_openai: FakeOpenAI) -> None:
    workspace = make_workspace()
    fake_openai.api_key = "sk-the-right-one"
    provider = create(workspace, preset="", base_url=fake_openai.base_url, models=[{"name": "gpt-4o-mini"}]).json()

    body = client_for(member(workspace, Role.ADMIN)).post(url(workspace, f"{provider['id']}/check"), {}).json()

    assert body["ok"] is False
    assert body["message"] == "Incorrect API key provided."
    assert KEY not in str(body)


def test_without_a_model_the_check_lists_the_served_models(fake_openai: FakeOpenAI) -> None:
    workspace = make_workspace()
    fake_openai.models = ["qwen2.5-7b-instruct", "llama-3.1-8b"]
    admin = client_for(member(workspace, Role.ADMIN))
    draft = {"kind": "openai_compatible", "base_url": fake_openai.base_url, "api_key": ""}

    body = admin.post(url(workspace, "check"), draft).json()

    assert body["ok"] is True
    assert body["models"] == ["llama-3.1-8b", "qwen2.5-7b-instruct"]
    assert fake_openai.request_count == 0  # listing models is not a completion
    assert not ModelProvider.objects.exists()


def test_an_unreachable_provider_fails_the_check(unused_tcp_port: int) -> None:
    workspace = make_workspace()
    admin = client_for(member(workspace, Role.ADMIN))
    draft = {"kind": "ollama", "base_url": f"http://127.0.0.1:{unused_tcp_port}", "model": "llama3.2"}

    body = admin.post(url(workspace, "check"), draft).json()

    assert body["ok"] is False and body["message"]


def test_errors_are_translated() -> None:
    workspace = make_workspace()
    admin = client_for(member(workspace, Role.ADMIN))
    body = {"name": "OpenAI", "kind": "openai"}

    response = admin.post(url(workspace), body, HTTP_ACCEPT_LANGUAGE="zh-Hans")

    assert error_of(response)["fields"]["api_key"] == ["此服务商需要 API 密钥。"]
