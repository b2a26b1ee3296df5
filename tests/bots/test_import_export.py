import copy
from typing import Any

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from builder.bots.models import Bot
from tests.factories import client_for, error_of, make_bot, make_workspace, owner_of

pytestmark = pytest.mark.django_db


def rich_draft(base: dict) -> dict:
    draft = copy.deepcopy(base)
    draft["variables"] = [{"name": "city", "type": "string", "scope": "user", "default": "上海"}]
    draft["settings"].update(persona="你是一个旅行助手。", opening_message="Hi!", suggested_questions=["天气如何？"])
    draft["nodes"].append(
        {
            "id": "weather",
            "type": "http_request@1",
            "position": {"x": 320, "y": 200},
            "data": {
                "method": "GET",
                "url": "https://api.example.com/weather?city={{ user.city }}",
                "headers": {"X-Api-Key": "sk-live-123456"},
                "auth": {"type": "bearer", "token": "sk-secret-token"},
            },
        }
    )
    draft["edges"].append({"id": "start-weather", "source": "start", "target": "weather"})
    return draft


def export(client, bot: Bot, **params) -> str:
    response = client.get(f"/api/v1/bots/{bot.pk}/export", params)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/x-yaml")
    return str(response.content.decode())


def upload(client, workspace, text: str | bytes, **extra):
    raw = text.encode() if isinstance(text, str) else text
    file = SimpleUploadedFile("bot.yaml", raw, content_type="application/x-yaml")
    return client.post(f"/api/v1/workspaces/{workspace.pk}/bots/import", {"file": file}, format="multipart", **extra)


def without_timestamp(text: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(text)
    data.pop("exported_at")
    return data


def test_round_trip_into_another_workspace_is_identical_and_carries_no_secrets() -> None:
    source = make_workspace(name="Source")
    bot = make_bot(source, name="旅行助手", description="Plans trips", icon="✈️")
    bot.draft = rich_draft(bot.draft)
    bot.save()
    exported = export(client_for(owner_of(source)), bot)
    assert "sk-live-123456" not in exported and "sk-secret-token" not in exported
    data = yaml.safe_load(exported)
    assert data["kind"] == "agentloom/bot" and data["format_version"] == 1
    assert {"node_id": "weather", "field": "data.auth.token"} in data["secrets_to_fill"]
    assert {"node_id": "weather", "field": "data.headers.X-Api-Key"} in data["secrets_to_fill"]
    assert data["graph"]["nodes"][-1]["data"]["url"].endswith("{{ user.city }}")  # templates survive

    target = make_workspace(name="Target")
    client = client_for(owner_of(target))
    imported = upload(client, target, exported)
    assert imported.status_code == 201, imported.content
    body = imported.json()
    assert body["bot"]["workspace"] == str(target.pk) and body["bot"]["name"] == "旅行助手"
    assert body["secrets_to_fill"] == data["secrets_to_fill"]
    new_bot = Bot.objects.get(pk=body["bot"]["id"])
    assert without_timestamp(export(client, new_bot)) == without_timestamp(exported)
    # The blanked credential is a to-do on the draft: publishing waits until it is filled in.
    assert ("missing_secret", "weather", "data.auth.token") in {
        (p["code"], p["node_id"], p["field"]) for p in body["problems"]
    }
    assert client.post(f"/api/v1/bots/{new_bot.pk}/publish", {}).status_code == 400


def test_a_published_version_can_be_exported() -> None:
    workspace = make_workspace()
    bot = make_bot(workspace)
    client = client_for(owner_of(workspace))
    client.post(f"/api/v1/bots/{bot.pk}/publish", {})
    data = yaml.safe_load(export(client, bot, version=1))
    assert data["source"] == {"version": 1}
    assert client.get(f"/api/v1/bots/{bot.pk}/export", {"version": 7}).status_code == 404


def test_dependencies_are_listed() -> None:
    workspace = make_workspace()
    bot = make_bot(workspace)
    draft = copy.deepcopy(bot.draft)
    draft["nodes"].append(
        {
            "id": "kb",
            "type": "knowledge_retrieval",
            "position": {"x": 0, "y": 0},
            "data": {"query": {"ref": ["sys", "query"]}, "knowledge_bases": ["kb-handbook"]},
        }
    )
    draft["nodes"].append(
        {
            "id": "search",
            "type": "tool",
            "position": {"x": 0, "y": 0},
            "data": {"plugin": "web_search", "tool": "search", "inputs": {}},
        }
    )
    draft["edges"] += [
        {"id": "e-kb", "source": "start", "target": "kb"},
        {"id": "e-s", "source": "start", "target": "search"},
    ]
    bot.draft = draft
    bot.save()
    deps = yaml.safe_load(export(client_for(owner_of(workspace)), bot))["dependencies"]
    assert deps["knowledge_bases"] == ["kb-handbook"]
    assert deps["plugins"] == [{"plugin": "web_search", "tool": "search"}]


def test_raw_yaml_body_is_accepted_too() -> None:
    workspace = make_workspace()
    client = client_for(owner_of(workspace))
    text = export(client, make_bot(workspace, name="Raw"))
    response = client.generic(
        "POST", f"/api/v1/workspaces/{workspace.pk}/bots/import?name=Copy", text, content_type="application/x-yaml"
    )
    assert response.status_code == 201 and response.json()["bot"]["name"] == "Copy"


BILLION_LAUGHS = """
kind: agentloom/bot
format_version: 1
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: [*f,*f,*f,*f,*f,*f,*f,*f,*f]
"""


def hostile_files(valid: str) -> list[tuple[str, bytes, str, str]]:
    data = yaml.safe_load(valid)
    wrong_version = dict(data, format_version=2)
    unknown_node = copy.deepcopy(data)
    unknown_node["graph"]["nodes"].append(
        {"id": "evil", "type": "shell_exec", "data": {}, "position": {"x": 0, "y": 0}}
    )
    return [
        ("wrong version", yaml.safe_dump(wrong_version).encode(), "unsupported_version", "format_version"),
        ("yaml bomb", BILLION_LAUGHS.encode(), "invalid_import", "file"),
        ("python tag", b"kind: !!python/object/apply:os.system ['echo pwned']\n", "invalid_import", "file"),
        ("deep nesting", ("a: " + "[" * 5000 + "]" * 5000).encode(), "invalid_import", "file"),
        ("not yaml", b"kind: [unclosed\n", "invalid_import", "file"),
        ("binary", b"\xff\xfe\x00garbage", "invalid_import", "file"),
        ("empty", b"", "invalid_import", "file"),
        ("a list", b"- 1\n- 2\n", "invalid_import", "file"),
        ("other kind", b"kind: dify/app\nformat_version: 1\n", "invalid_import", "kind"),
        ("no name", yaml.safe_dump(dict(data, bot={"name": ""})).encode(), "invalid_import", "bot.name"),
        (
            "unknown node type",
            yaml.safe_dump(unknown_node, allow_unicode=True).encode(),
            "invalid_graph",
            "graph.nodes.evil",
        ),
    ]


def test_hostile_and_malformed_files_are_refused_and_write_nothing() -> None:
    workspace = make_workspace()
    client = client_for(owner_of(workspace))
    valid = export(client, make_bot(workspace, name="Template"))
    before = Bot.objects.count()
    for label, raw, code, field in hostile_files(valid):
        response = upload(client, workspace, raw)
        assert response.status_code == 400, (label, response.content)
        error = error_of(response)
        assert error["code"] == code, (label, error)
        assert any(key.startswith(field) for key in error["fields"]), (label, error["fields"])
    assert Bot.objects.count() == before


def test_a_50_mb_file_is_refused_before_it_is_parsed() -> None:
    workspace = make_workspace()
    client = client_for(owner_of(workspace))
    huge = b"# padding\n" * (5 * 1024 * 1024)
    response = upload(client, workspace, huge)
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"
    raw_body = client.generic(
        "POST", f"/api/v1/workspaces/{workspace.pk}/bots/import", huge.decode(), content_type="application/x-yaml"
    )
    assert raw_body.status_code == 413
    assert Bot.objects.count() == 0


@override_settings(BOT_IMPORT_MAX_BYTES=1000)
def test_the_size_limit_is_configurable() -> None:
    workspace = make_workspace()
    client = client_for(owner_of(workspace))
    response = upload(client, workspace, b"a: 1\n" * 300)
    assert response.status_code == 413


def test_viewers_cannot_import_or_export() -> None:
    from builder.accounts.roles import Role
    from tests.factories import member

    workspace = make_workspace()
    bot = make_bot(workspace)
    viewer = client_for(member(workspace, Role.VIEWER))
    assert viewer.get(f"/api/v1/bots/{bot.pk}/export").status_code == 403
    assert upload(viewer, workspace, "kind: agentloom/bot").status_code == 403
