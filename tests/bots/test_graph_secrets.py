"""Credentials typed into a graph (an http node's token, a secret header) never come back out.

A client may send a raw secret in a draft (the canvas, the API, an imported file): the service moves
it into an encrypted workspace credential and stores only ``{"credential": "<id>"}``. Every read a
viewer can make (the bot, its versions, the diff) then shows the reference, never the value, and
the database rows hold no plaintext.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml
from django.db import connection

from builder.accounts.roles import Role
from builder.bots.models import Bot
from tests.factories import client_for, error_of, make_bot, make_workspace, member, owner_of

pytestmark = pytest.mark.django_db

TOKEN = "sk-live-4f9a8b7c6d5e"
PASSWORD = "correct-horse-battery"
HEADER_KEY = "hk-0123456789abcdef"


def http_node(auth: dict[str, Any], headers: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "id": "weather",
        "type": "http_request@1",
        "position": {"x": 320, "y": 200},
        "data": {
            "title": "Weather API",
            "url": "https://api.example.com/weather",
            "headers": headers or {},
            "auth": auth,
        },
    }


def bearer(token: Any) -> dict[str, Any]:
    return {"type": "bearer", "token": token}


def with_node(draft: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    draft = copy.deepcopy(draft)
    draft["nodes"] = [n for n in draft["nodes"] if n["id"] != node["id"]] + [node]
    if not any(edge["target"] == node["id"] for edge in draft["edges"]):
        draft["edges"].append({"id": f"start-{node['id']}", "source": "start", "target": node["id"]})
    return draft


def credentials() -> Any:
    """The credentials' manager (imported late: these tests also ran before the app existed)."""
    from builder.credentials.models import Credential

    return Credential.objects


def save_draft(client: Any, bot: Bot, draft: dict[str, Any]) -> Any:
    revision = Bot.objects.get(pk=bot.pk).draft_revision
    return client.put(f"/api/v1/bots/{bot.pk}/draft", {"revision": revision, "draft": draft}, format="json")


def stored_text() -> str:
    """Every bot draft and version graph as the database holds them (the raw JSON text)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT draft FROM bots_bot")
        drafts = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT graph FROM bots_botversion")
        graphs = [row[0] for row in cursor.fetchall()]
    return "\n".join(str(value) for value in drafts + graphs)


def weather_data(body: dict[str, Any]) -> dict[str, Any]:
    return next(node["data"] for node in body["nodes"] if node["id"] == "weather")


@pytest.fixture
def secured() -> tuple[Bot, Any, Any]:
    """A published bot whose editor typed a bearer token and an API-key header into the canvas."""
    workspace = make_workspace()
    bot = make_bot(workspace)
    editor = client_for(member(workspace, Role.EDITOR))
    draft = with_node(bot.draft, http_node({"type": "bearer", "token": TOKEN}, {"X-Api-Key": HEADER_KEY}))
    saved = save_draft(editor, bot, draft)
    assert saved.status_code == 200, saved.content
    assert TOKEN not in saved.content.decode() and HEADER_KEY not in saved.content.decode()
    assert editor.post(f"/api/v1/bots/{bot.pk}/publish", {}).status_code == 201
    viewer = client_for(member(workspace, Role.VIEWER))
    return bot, editor, viewer


def test_a_viewer_reads_the_bot_and_its_version_without_the_token(secured: tuple[Bot, Any, Any]) -> None:
    bot, _editor, viewer = secured

    detail = viewer.get(f"/api/v1/bots/{bot.pk}/")
    version = viewer.get(f"/api/v1/bots/{bot.pk}/versions/1/")
    diff = viewer.get(f"/api/v1/bots/{bot.pk}/diff", {"from": "1", "to": "draft"})

    for response in (detail, version, diff):
        assert response.status_code == 200, response.content
        assert TOKEN not in response.content.decode() and HEADER_KEY not in response.content.decode()
    data = weather_data(detail.json()["draft"])
    assert set(data["auth"]["token"]) == {"credential"}
    assert set(data["headers"]["X-Api-Key"]) == {"credential"}
    assert weather_data(version.json()["graph"])["auth"] == data["auth"]


def test_the_database_holds_no_plaintext_only_encrypted_credentials(secured: tuple[Bot, Any, Any]) -> None:
    bot, _editor, _viewer = secured

    assert TOKEN not in stored_text() and HEADER_KEY not in stored_text()
    reference = weather_data(Bot.objects.get(pk=bot.pk).draft)["auth"]["token"]["credential"]
    credential = credentials().get(pk=reference)
    assert credential.workspace_id == bot.workspace_id and credential.kind == "token"
    assert TOKEN not in credential.value_encrypted and credential.value_hint == "sk-…6d5e"
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM credentials_credential")
        assert TOKEN not in json.dumps([list(map(str, row)) for row in cursor.fetchall()])


def test_the_editor_sees_references_and_saving_them_back_keeps_them(secured: tuple[Bot, Any, Any]) -> None:
    bot, editor, _viewer = secured
    loaded = editor.get(f"/api/v1/bots/{bot.pk}/").json()["draft"]
    before = credentials().count()

    again = save_draft(editor, bot, loaded)

    assert again.status_code == 200, again.content
    assert Bot.objects.get(pk=bot.pk).draft == loaded
    assert credentials().count() == before


def test_saving_the_same_raw_token_again_reuses_its_credential(secured: tuple[Bot, Any, Any]) -> None:
    """An autosaving canvas that still holds the typed token does not mint a credential per save."""
    bot, editor, _viewer = secured
    reference = weather_data(Bot.objects.get(pk=bot.pk).draft)["auth"]["token"]
    before = credentials().count()
    draft = with_node(Bot.objects.get(pk=bot.pk).draft, http_node({"type": "bearer", "token": TOKEN}))

    assert save_draft(editor, bot, draft).status_code == 200

    assert weather_data(Bot.objects.get(pk=bot.pk).draft)["auth"]["token"] == reference
    assert credentials().count() == before


@pytest.mark.parametrize("mask", ["••••", "******", "sk-…6d5e"])
def test_a_masked_value_sent_back_keeps_the_existing_reference(secured: tuple[Bot, Any, Any], mask: str) -> None:
    bot, editor, _viewer = secured
    reference = weather_data(Bot.objects.get(pk=bot.pk).draft)["auth"]["token"]
    before = credentials().count()
    draft = with_node(Bot.objects.get(pk=bot.pk).draft, http_node({"type": "bearer", "token": mask}))

    saved = save_draft(editor, bot, draft)

    assert saved.status_code == 200, saved.content
    assert weather_data(Bot.objects.get(pk=bot.pk).draft)["auth"]["token"] == reference
    assert credentials().count() == before


def test_a_mask_where_no_secret_was_stored_is_refused() -> None:
    workspace = make_workspace()
    bot = make_bot(workspace)
    owner = client_for(owner_of(workspace))

    response = save_draft(owner, bot, with_node(bot.draft, http_node({"type": "bearer", "token": "••••"})))

    assert response.status_code == 400
    assert list(error_of(response)["fields"]) == ["draft.nodes.weather.data.auth.token"]


def test_the_save_response_names_each_reference_so_the_canvas_can_drop_the_raw_value() -> None:
    workspace = make_workspace()
    bot = make_bot(workspace)
    owner = client_for(owner_of(workspace))

    basic = http_node({"type": "basic", "username": "ada", "password": PASSWORD})

    saved = save_draft(owner, bot, with_node(bot.draft, basic))

    assert saved.status_code == 200, saved.content
    [secret] = saved.json()["secrets"]
    stored = weather_data(Bot.objects.get(pk=bot.pk).draft)["auth"]
    assert secret == {"node_id": "weather", "field": "data.auth.password", **stored["password"]}
    assert stored["username"] == "ada"  # a user name is not a secret
    assert credentials().get(pk=secret["credential"]).kind == "password"


def test_a_reference_to_another_workspace_credential_is_refused() -> None:
    workspace, elsewhere = make_workspace(), make_workspace(name="Elsewhere")
    foreign = make_bot(elsewhere)
    save_draft(client_for(owner_of(elsewhere)), foreign, with_node(foreign.draft, http_node(bearer(TOKEN))))
    stolen = weather_data(Bot.objects.get(pk=foreign.pk).draft)["auth"]["token"]
    bot = make_bot(workspace)

    response = save_draft(client_for(owner_of(workspace)), bot, with_node(bot.draft, http_node(bearer(stolen))))

    assert response.status_code == 400
    assert list(error_of(response)["fields"]) == ["draft.nodes.weather.data.auth.token"]
    assert "weather" not in json.dumps(Bot.objects.get(pk=bot.pk).draft)


def test_creating_a_bot_with_a_raw_token_stores_a_reference() -> None:
    workspace = make_workspace()
    owner = client_for(owner_of(workspace))
    starter = make_bot(workspace).draft

    created = owner.post(
        f"/api/v1/workspaces/{workspace.pk}/bots/",
        {"name": "API bot", "draft": with_node(starter, http_node({"type": "api_key", "api_key": TOKEN}))},
        format="json",
    )

    assert created.status_code == 201, created.content
    assert TOKEN not in created.content.decode() and TOKEN not in stored_text()
    assert set(weather_data(created.json()["draft"])["auth"]["api_key"]) == {"credential"}


def test_export_names_the_credential_to_fill_and_carries_no_secret(secured: tuple[Bot, Any, Any]) -> None:
    bot, editor, _viewer = secured

    for params in ({}, {"version": 1}):
        exported = editor.get(f"/api/v1/bots/{bot.pk}/export", params)
        assert exported.status_code == 200
        text = exported.content.decode()
        assert TOKEN not in text and HEADER_KEY not in text
        data = yaml.safe_load(text)
        assert "{'credential'" not in repr(data["graph"])  # references are this workspace's, not the file's
        assert weather_data(data["graph"])["auth"]["token"] == ""
        assert weather_data(data["graph"])["headers"]["X-Api-Key"] == ""
        to_fill = {item["field"]: item for item in data["secrets_to_fill"]}
        assert to_fill["data.auth.token"]["node_id"] == "weather"
        assert to_fill["data.auth.token"]["credential_name"].endswith("auth.token")
        assert "data.headers.X-Api-Key" in to_fill


def test_importing_a_file_with_inline_secrets_encrypts_them() -> None:
    workspace = make_workspace()
    owner = client_for(owner_of(workspace))
    graph = with_node(make_bot(workspace).draft, http_node(bearer(TOKEN), {"Authorization": HEADER_KEY}))
    document = {"kind": "agentloom/bot", "format_version": 1, "bot": {"name": "Imported"}, "graph": graph}

    imported = owner.post(
        f"/api/v1/workspaces/{workspace.pk}/bots/import", yaml.safe_dump(document), content_type="application/x-yaml"
    )

    assert imported.status_code == 201, imported.content
    assert TOKEN not in imported.content.decode() and HEADER_KEY not in imported.content.decode()
    assert TOKEN not in stored_text() and HEADER_KEY not in stored_text()
    data = weather_data(imported.json()["bot"]["draft"])
    assert set(data["auth"]["token"]) == set(data["headers"]["Authorization"]) == {"credential"}


def test_the_admin_pages_show_no_secret(secured: tuple[Bot, Any, Any]) -> None:
    from tests.factories import make_user

    bot, _editor, _viewer = secured
    staff = make_user(is_staff=True, is_superuser=True)
    admin = client_for(staff)
    version = bot.versions.get(number=1)
    credential = credentials().filter(workspace=bot.workspace).first()
    assert credential is not None
    for url in (
        f"/admin/bots/bot/{bot.pk}/change/",
        f"/admin/bots/botversion/{version.pk}/change/",
        "/admin/credentials/credential/",
        f"/admin/credentials/credential/{credential.pk}/change/",
    ):
        page = admin.get(url)
        assert page.status_code == 200, url
        assert TOKEN not in page.content.decode() and HEADER_KEY not in page.content.decode()
