"""``/api/v1/workspaces/{id}/credentials/``: editors manage them; values go in and never come out."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from builder.accounts.roles import Role
from builder.bots.models import Bot
from builder.core.crypto import decrypt_secret
from builder.credentials.models import Credential
from tests.factories import client_for, error_of, key_client, make_bot, make_workspace, member, owner_of

pytestmark = pytest.mark.django_db

VALUE = "sk-proj-a1b2c3d4e5f6g7h8"


def url(workspace: Any, credential: Any = None) -> str:
    base = f"/api/v1/workspaces/{workspace.pk}/credentials/"
    return f"{base}{credential}" if credential else base


def test_an_editor_creates_lists_renames_rotates_and_deletes_without_ever_reading_the_value() -> None:
    workspace = make_workspace()
    editor = client_for(member(workspace, Role.EDITOR))

    created = editor.post(url(workspace), {"name": "Weather API", "kind": "api_key", "value": VALUE}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["name"] == "Weather API" and body["kind"] == "api_key" and body["value_hint"] == "sk-…g7h8"
    assert "value" not in body and VALUE not in created.content.decode()
    listed = editor.get(url(workspace))
    assert [item["name"] for item in listed.json()["results"]] == ["Weather API"]
    assert VALUE not in listed.content.decode()
    detail = url(workspace, body["id"])

    renamed = editor.patch(detail, {"name": "Weather", "value": body["value_hint"]}, format="json")
    assert renamed.status_code == 200 and renamed.json()["name"] == "Weather"
    assert decrypt_secret(Credential.objects.get(pk=body["id"]).value_encrypted) == VALUE  # the hint kept it
    rotated = editor.patch(detail, {"value": "sk-proj-new-value-0000"}, format="json")
    assert rotated.json()["value_hint"] == "sk-…0000"
    assert decrypt_secret(Credential.objects.get(pk=body["id"]).value_encrypted) == "sk-proj-new-value-0000"

    assert editor.delete(detail).status_code == 204
    assert editor.get(detail).status_code == 404


def test_names_are_unique_per_workspace_and_values_required() -> None:
    workspace = make_workspace()
    owner = client_for(owner_of(workspace))
    assert owner.post(url(workspace), {"name": "Key", "value": VALUE}, format="json").status_code == 201

    duplicate = owner.post(url(workspace), {"name": "key", "value": "x"}, format="json")
    empty = owner.post(url(workspace), {"name": "Other", "value": ""}, format="json")
    masked = owner.post(url(workspace), {"name": "Other", "value": "sk-…g7h8"}, format="json")

    assert duplicate.status_code == 400 and list(error_of(duplicate)["fields"]) == ["name"]
    assert owner.post(url(workspace), {"name": "Ünïcode", "value": VALUE}, format="json").status_code == 201
    # SQLite folds only ASCII case: the check must agree with the unique index, not with Python.
    again = owner.post(url(workspace), {"name": "Ünïcode", "value": VALUE}, format="json")
    assert again.status_code == 400 and list(error_of(again)["fields"]) == ["name"]
    assert empty.status_code == 400 and list(error_of(empty)["fields"]) == ["value"]
    assert masked.status_code == 400 and list(error_of(masked)["fields"]) == ["value"]


@pytest.mark.parametrize("role", [Role.VIEWER])
def test_viewers_neither_list_nor_change_credentials(role: str) -> None:
    workspace = make_workspace()
    credential = client_for(owner_of(workspace)).post(url(workspace), {"name": "Key", "value": VALUE}, format="json")
    viewer = client_for(member(workspace, role))
    detail = url(workspace, credential.json()["id"])

    assert viewer.get(url(workspace)).status_code == 403
    assert viewer.post(url(workspace), {"name": "Mine", "value": "x"}, format="json").status_code == 403
    assert viewer.get(detail).status_code == 403
    assert viewer.patch(detail, {"name": "Stolen"}, format="json").status_code == 403
    assert viewer.delete(detail).status_code == 403
    assert Credential.objects.get().name == "Key"


def test_another_workspace_sees_nothing() -> None:
    workspace, other = make_workspace(), make_workspace(name="Other")
    credential = client_for(owner_of(workspace)).post(url(workspace), {"name": "Key", "value": VALUE}, format="json")
    stranger = client_for(owner_of(other))

    assert stranger.get(url(workspace)).status_code == 404
    assert stranger.get(url(other, credential.json()["id"])).status_code == 404
    assert stranger.delete(url(other, credential.json()["id"])).status_code == 404


def test_a_key_scoped_to_one_bot_cannot_manage_credentials() -> None:
    workspace = make_workspace()
    bot = make_bot(workspace)
    client, _raw = key_client(workspace, role=Role.EDITOR, bot_id=bot.pk)

    assert client.get(url(workspace)).status_code == 403
    assert client.post(url(workspace), {"name": "Key", "value": VALUE}, format="json").status_code == 403


def http_draft(bot: Bot, token: Any) -> dict[str, Any]:
    draft: dict[str, Any] = copy.deepcopy(bot.draft)
    draft["nodes"].append(
        {
            "id": "call",
            "type": "http_request@1",
            "position": {"x": 0, "y": 0},
            "data": {"url": "https://api.example.com/", "auth": {"type": "bearer", "token": token}},
        }
    )
    draft["edges"].append({"id": "start-call", "source": "start", "target": "call"})
    return draft


def test_an_editor_references_a_credential_by_id_and_the_bot_keeps_it() -> None:
    workspace = make_workspace()
    editor = client_for(member(workspace, Role.EDITOR))
    credential = editor.post(url(workspace), {"name": "Key", "value": VALUE}, format="json").json()
    bot = make_bot(workspace)

    saved = editor.put(
        f"/api/v1/bots/{bot.pk}/draft",
        {"revision": 1, "draft": http_draft(bot, {"credential": credential["id"]})},
        format="json",
    )

    assert saved.status_code == 200, saved.content
    assert saved.json()["secrets"] == [{"node_id": "call", "field": "data.auth.token", "credential": credential["id"]}]
    assert Credential.objects.count() == 1


def test_a_member_editing_one_bot_may_type_secrets_but_not_attach_the_workspace_credentials() -> None:
    """A viewer given one bot to edit could otherwise send the workspace's keys to a server of their choosing."""
    workspace = make_workspace()
    owner = owner_of(workspace)
    credential = client_for(owner).post(url(workspace), {"name": "Prod key", "value": VALUE}, format="json").json()
    bot = make_bot(workspace)
    grantee = member(workspace, Role.VIEWER)
    owner_client = client_for(owner)
    assert owner_client.put(f"/api/v1/bots/{bot.pk}/grants/{grantee.pk}", {"role": "editor"}).status_code == 200
    editor_of_one_bot = client_for(grantee)

    attached = editor_of_one_bot.put(
        f"/api/v1/bots/{bot.pk}/draft",
        {"revision": 1, "draft": http_draft(bot, {"credential": credential["id"]})},
        format="json",
    )
    typed = editor_of_one_bot.put(
        f"/api/v1/bots/{bot.pk}/draft", {"revision": 1, "draft": http_draft(bot, "my-own-token")}, format="json"
    )

    assert attached.status_code == 403
    assert list(error_of(attached)["fields"]) == ["draft.nodes.call.data.auth.token"]
    assert typed.status_code == 200, typed.content
    assert Bot.objects.get(pk=bot.pk).draft_revision == 2
