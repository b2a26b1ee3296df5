import copy

import pytest

from builder.accounts.roles import Role
from builder.bots.models import Bot, BotVersion
from tests.factories import client_for, error_of, make_bot, make_workspace, member, owner_of

pytestmark = pytest.mark.django_db


def test_new_bot_starts_from_a_runnable_starter_graph() -> None:
    workspace = make_workspace()
    client = client_for(member(workspace, Role.EDITOR))
    created = client.post(
        f"/api/v1/workspaces/{workspace.pk}/bots/",
        {"name": "客服助手", "description": "Answers questions", "icon": "🤖"},
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["draft_revision"] == 1 and body["live_version"] is None
    assert [node["id"] for node in body["draft"]["nodes"]] == ["start", "llm", "answer"]
    published = client.post(f"/api/v1/bots/{body['id']}/publish", {})
    assert published.status_code == 201, published.content


def test_bot_list_filters_searches_and_paginates() -> None:
    workspace = make_workspace()
    owner = owner_of(workspace)
    for name in ["Alpha", "Beta", "Gamma"]:
        make_bot(workspace, name=name)
    published = Bot.objects.get(name="Beta")
    client = client_for(owner)
    client.post(f"/api/v1/bots/{published.pk}/publish", {})
    url = f"/api/v1/workspaces/{workspace.pk}/bots/"
    assert [b["name"] for b in client.get(url + "?published=true").json()["results"]] == ["Beta"]
    assert [b["name"] for b in client.get(url + "?search=gam").json()["results"]] == ["Gamma"]
    page = client.get(url + "?ordering=name&page_size=2").json()
    assert page["count"] == 3 and [b["name"] for b in page["results"]] == ["Alpha", "Beta"]


def test_bot_metadata_validation_names_the_field() -> None:
    workspace = make_workspace()
    client = client_for(owner_of(workspace))
    bad = client.post(f"/api/v1/workspaces/{workspace.pk}/bots/", {"name": "", "visibility": "public"})
    assert set(error_of(bad)["fields"]) == {"name", "visibility"}
    bot = make_bot(workspace)
    assert client.patch(f"/api/v1/bots/{bot.pk}/", {"name": "x" * 101}).status_code == 400
    assert client.patch(f"/api/v1/bots/{bot.pk}/", {"name": "New name"}).json()["name"] == "New name"


def test_a_structurally_broken_draft_is_refused_with_node_and_field() -> None:
    workspace = make_workspace()
    bot = make_bot(workspace)
    client = client_for(owner_of(workspace))
    draft = copy.deepcopy(bot.draft)
    draft["nodes"].append({"id": "start", "type": "teleport", "data": {}, "position": {"x": 0, "y": 0}})
    response = client.put(f"/api/v1/bots/{bot.pk}/draft", {"revision": 1, "draft": draft}, format="json")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_graph"
    codes = {(p["code"], p["node_id"]) for p in response.json()["error"]["problems"]}
    assert ("duplicate_node_id", "start") in codes
    assert any(code == "unknown_node_type" for code, _node in codes)
    bot.refresh_from_db()
    assert bot.draft_revision == 1 and len(bot.draft["nodes"]) == 3  # nothing written


def test_an_unfinished_draft_is_saved_with_its_problems_but_cannot_be_published() -> None:
    workspace = make_workspace()
    bot = make_bot(workspace)
    client = client_for(owner_of(workspace))
    draft = copy.deepcopy(bot.draft)
    draft["nodes"].append(
        {"id": "orphan", "type": "template@1", "data": {"template": "hi"}, "position": {"x": 0, "y": 200}}
    )
    saved = client.put(f"/api/v1/bots/{bot.pk}/draft", {"revision": 1, "draft": draft}, format="json")
    assert saved.status_code == 200, saved.content
    assert saved.json()["revision"] == 2
    assert [(p["code"], p["node_id"]) for p in saved.json()["problems"]] == [("unreachable_node", "orphan")]
    refused = client.post(f"/api/v1/bots/{bot.pk}/publish", {})
    assert refused.status_code == 400 and error_of(refused)["code"] == "invalid_graph"
    assert not BotVersion.objects.exists()


def test_second_editor_with_a_stale_revision_gets_409_and_loses_nothing() -> None:
    workspace = make_workspace()
    bot = make_bot(workspace)
    alice, bob = client_for(member(workspace, Role.EDITOR)), client_for(member(workspace, Role.EDITOR))
    loaded_revision = alice.get(f"/api/v1/bots/{bot.pk}/").json()["draft_revision"]
    assert bob.get(f"/api/v1/bots/{bot.pk}/").json()["draft_revision"] == loaded_revision

    alice_draft = copy.deepcopy(bot.draft)
    alice_draft["settings"]["persona"] = "Alice's persona"
    first = alice.put(
        f"/api/v1/bots/{bot.pk}/draft", {"revision": loaded_revision, "draft": alice_draft}, format="json"
    )
    assert first.status_code == 200

    bob_draft = copy.deepcopy(bot.draft)
    bob_draft["settings"]["persona"] = "Bob's persona"
    second = bob.put(f"/api/v1/bots/{bot.pk}/draft", {"revision": loaded_revision, "draft": bob_draft}, format="json")
    assert second.status_code == 409
    error = error_of(second)
    assert error["code"] == "stale_revision" and error["current_revision"] == loaded_revision + 1
    bot.refresh_from_db()
    assert bot.draft["settings"]["persona"] == "Alice's persona"
    # Bob reloads, merges, and saves on top.
    retry = bob.put(
        f"/api/v1/bots/{bot.pk}/draft", {"revision": loaded_revision + 1, "draft": bob_draft}, format="json"
    )
    assert retry.status_code == 200 and retry.json()["revision"] == loaded_revision + 2


def test_draft_save_requires_a_revision() -> None:
    workspace = make_workspace()
    bot = make_bot(workspace)
    response = client_for(owner_of(workspace)).put(f"/api/v1/bots/{bot.pk}/draft", {"draft": bot.draft}, format="json")
    assert error_of(response)["fields"] == {"revision": ["This field is required."]}


def test_unknown_ids_are_404_in_the_error_shape() -> None:
    workspace = make_workspace()
    client = client_for(owner_of(workspace))
    for url in ["/api/v1/bots/00000000-0000-0000-0000-000000000000/", "/api/v1/bots/not-a-uuid/", "/api/v1/nowhere"]:
        response = client.get(url)
        assert response.status_code == 404
        assert error_of(response)["code"] == "not_found"


def test_creating_from_an_unfinished_graph_returns_its_problems() -> None:
    workspace = make_workspace()
    client = client_for(owner_of(workspace))
    created = client.post(
        f"/api/v1/workspaces/{workspace.pk}/bots/",
        {"name": "Half done", "draft": {"version": 1, "nodes": [], "edges": []}},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert {problem["code"] for problem in created.json()["problems"]} >= {"no_start"}
    broken = client.post(
        f"/api/v1/workspaces/{workspace.pk}/bots/", {"name": "Broken", "draft": {"version": 3}}, format="json"
    )
    assert broken.status_code == 400
    assert any(key.startswith("draft") for key in error_of(broken)["fields"])
