import copy

import pytest

from builder.accounts.roles import Role
from builder.bots.models import Bot
from tests.factories import client_for, error_of, make_bot, make_workspace, member, owner_of

pytestmark = pytest.mark.django_db


def save(client, bot: Bot, mutate) -> int:
    current = client.get(f"/api/v1/bots/{bot.pk}/").json()
    draft = copy.deepcopy(current["draft"])
    mutate(draft)
    response = client.put(
        f"/api/v1/bots/{bot.pk}/draft", {"revision": current["draft_revision"], "draft": draft}, format="json"
    )
    assert response.status_code == 200, response.content
    return int(response.json()["revision"])


def add_template_node(draft: dict) -> None:
    draft["nodes"].append(
        {
            "id": "greet",
            "type": "template@1",
            "data": {"template": "Hello {{ sys.query }}"},
            "position": {"x": 1, "y": 1},
        }
    )
    draft["edges"].append({"id": "start-greet", "source": "start", "target": "greet"})


def test_publish_list_diff_rollback_and_restore() -> None:
    workspace = make_workspace()
    bot = make_bot(workspace)
    client = client_for(member(workspace, Role.EDITOR))
    v1 = client.post(f"/api/v1/bots/{bot.pk}/publish", {"note": "first"}).json()
    assert v1["number"] == 1

    save(client, bot, add_template_node)
    save(client, bot, lambda d: d["nodes"][1]["data"].update(user_prompt="Answer briefly: {{ sys.query }}"))
    save(client, bot, lambda d: d["settings"].update(opening_message="你好！"))
    v2 = client.post(f"/api/v1/bots/{bot.pk}/publish", {"note": "greeting"}).json()
    assert v2["number"] == 2

    versions = client.get(f"/api/v1/bots/{bot.pk}/versions/").json()
    assert [v["number"] for v in versions["results"]] == [2, 1]
    assert client.get(f"/api/v1/bots/{bot.pk}/").json()["live_version"] == 2

    diff = client.get(f"/api/v1/bots/{bot.pk}/diff?from=1&to=2").json()
    assert diff["nodes_added"] == ["greet"] and diff["nodes_removed"] == []
    assert [change["id"] for change in diff["nodes_changed"]] == ["llm"]
    assert diff["edges_added"] == ["start-greet"]
    assert diff["settings_changed"] == ["opening_message"]
    assert client.get(f"/api/v1/bots/{bot.pk}/diff?from=2").json()["nodes_added"] == []
    assert "to" in error_of(client.get(f"/api/v1/bots/{bot.pk}/diff?from=1&to=latest"))["fields"]
    assert client.get(f"/api/v1/bots/{bot.pk}/diff?from=9").status_code == 404

    rolled = client.post(f"/api/v1/bots/{bot.pk}/versions/1/rollback")
    assert rolled.status_code == 200 and rolled.json()["live_version"] == 1
    # Rollback serves v1 again but leaves the draft alone.
    assert any(node["id"] == "greet" for node in rolled.json()["draft"]["nodes"])

    revision = rolled.json()["draft_revision"]
    restored = client.post(f"/api/v1/bots/{bot.pk}/versions/1/restore", {"revision": revision})
    assert restored.status_code == 200
    assert [node["id"] for node in restored.json()["draft"]["nodes"]] == ["start", "llm", "answer"]
    stale = client.post(f"/api/v1/bots/{bot.pk}/versions/2/restore", {"revision": revision})
    assert stale.status_code == 409


def test_versions_are_immutable_snapshots() -> None:
    workspace = make_workspace()
    bot = make_bot(workspace)
    client = client_for(owner_of(workspace))
    client.post(f"/api/v1/bots/{bot.pk}/publish", {})
    save(client, bot, add_template_node)
    v1 = client.get(f"/api/v1/bots/{bot.pk}/versions/1/").json()
    assert [node["id"] for node in v1["graph"]["nodes"]] == ["start", "llm", "answer"]


def test_publishing_an_unchanged_draft_does_not_duplicate_versions() -> None:
    workspace = make_workspace()
    bot = make_bot(workspace)
    client = client_for(owner_of(workspace))
    first = client.post(f"/api/v1/bots/{bot.pk}/publish", {}).json()
    second = client.post(f"/api/v1/bots/{bot.pk}/publish", {}).json()
    assert first["number"] == second["number"] == 1


def test_viewers_cannot_publish_or_roll_back() -> None:
    workspace = make_workspace()
    bot = make_bot(workspace)
    client_for(owner_of(workspace)).post(f"/api/v1/bots/{bot.pk}/publish", {})
    viewer = client_for(member(workspace, Role.VIEWER))
    assert viewer.get(f"/api/v1/bots/{bot.pk}/versions/").status_code == 200
    assert viewer.post(f"/api/v1/bots/{bot.pk}/publish", {}).status_code == 403
    assert viewer.post(f"/api/v1/bots/{bot.pk}/versions/1/rollback").status_code == 403
    assert (
        viewer.put(f"/api/v1/bots/{bot.pk}/draft", {"revision": 1, "draft": bot.draft}, format="json").status_code
        == 403
    )
