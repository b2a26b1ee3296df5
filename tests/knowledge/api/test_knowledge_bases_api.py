"""Knowledge bases over HTTP: create, list with document counts, read, edit settings, delete."""

from __future__ import annotations

import pytest

from builder.accounts.roles import Role
from builder.knowledge.index_store import knowledge_index
from builder.knowledge.models import Document, KnowledgeBase
from tests.factories import client_for, error_of, key_client, make_user, make_workspace, member, owner_of
from tests.knowledge.api.support import kb_url, new_kb

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_knowledge_base_is_created_listed_read_edited_and_deleted() -> None:
    workspace = make_workspace()
    editor = client_for(member(workspace, Role.EDITOR))
    list_url = f"/api/v1/workspaces/{workspace.pk}/knowledge-bases/"
    created = editor.post(
        list_url,
        {
            "name": "产品手册",
            "description": "Everything about the headphones",
            "chunking": {"mode": "general", "chunk_size": 300, "chunk_overlap": 30},
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    kb = created.json()
    assert kb["index_mode"] == "economical" and kb["chunking"]["chunk_size"] == 300
    assert kb["document_count"] == 0 and set(kb["documents_by_status"].values()) == {0}
    assert knowledge_index().has_space(kb["id"])

    assert [item["name"] for item in editor.get(list_url).json()["results"]] == ["产品手册"]
    assert editor.get(kb_url(kb["id"])).json()["description"] == "Everything about the headphones"

    edited = editor.patch(
        kb_url(kb["id"]),
        {"name": "Manuals", "description": "", "chunking": {"mode": "parent_child"}},
        format="json",
    )
    assert edited.status_code == 200, edited.content
    assert edited.json()["name"] == "Manuals" and edited.json()["description"] == ""
    assert edited.json()["chunking"]["mode"] == "parent_child"

    assert client_for(owner_of(workspace)).delete(kb_url(kb["id"])).status_code == 204
    assert not KnowledgeBase.objects.exists()
    assert not knowledge_index().has_space(kb["id"])
    assert error_of(editor.get(kb_url(kb["id"])))["code"] == "not_found"


def test_the_list_counts_documents_by_status_searches_and_paginates() -> None:
    workspace = make_workspace()
    manuals, client, _owner = new_kb(workspace)
    client.post(f"/api/v1/workspaces/{workspace.pk}/knowledge-bases/", {"name": "Policies"})
    kb = KnowledgeBase.objects.get(pk=manuals["id"])
    for status in ["ready", "ready", "failed", "embedding"]:
        Document.objects.create(knowledge_base=kb, name=f"{status}.txt", source="upload", status=status)

    url = f"/api/v1/workspaces/{workspace.pk}/knowledge-bases/"
    page = client.get(url + "?ordering=name&page_size=1").json()
    assert page["count"] == 2 and [item["name"] for item in page["results"]] == ["Manuals"]
    listed = page["results"][0]
    assert listed["document_count"] == 4
    assert listed["documents_by_status"] == {
        "queued": 0,
        "parsing": 0,
        "chunking": 0,
        "embedding": 1,
        "ready": 2,
        "failed": 1,
    }
    assert client.get(kb_url(kb.pk)).json()["documents_by_status"]["ready"] == 2
    assert [item["name"] for item in client.get(url + "?search=polic").json()["results"]] == ["Policies"]
    assert client.get(url + "?ordering=-document_count").json()["results"][0]["name"] == "Manuals"


def test_bad_settings_are_refused_field_by_field() -> None:
    workspace = make_workspace()
    client = client_for(owner_of(workspace))
    url = f"/api/v1/workspaces/{workspace.pk}/knowledge-bases/"
    missing = client.post(url, {"index_mode": "magic"}, format="json")
    assert set(error_of(missing)["fields"]) == {"name", "index_mode"}
    overlap = client.post(
        url, {"name": "x", "chunking": {"mode": "general", "chunk_size": 100, "chunk_overlap": 100}}, format="json"
    )
    assert overlap.status_code == 400
    assert any(field.startswith("chunking.") for field in error_of(overlap)["fields"])
    blank = client.post(url, {"name": "   "}, format="json")
    assert list(error_of(blank)["fields"]) == ["name"]
    assert client.post(url, {"name": "Twice"}).status_code == 201
    twice = client.post(url, {"name": "Twice"})
    assert twice.status_code == 409 and error_of(twice)["code"] == "duplicate_name"


def test_the_index_mode_and_embedding_are_fixed_once_there_are_documents() -> None:
    kb, client, _owner = new_kb()
    # Empty: the mode may still change, and the index follows.
    switched = client.patch(kb_url(kb["id"]), {"index_mode": "high_quality"}, format="json")
    assert switched.status_code == 200, switched.content
    assert switched.json()["embedding"] == {"kind": "local"}
    assert not knowledge_index().has_space(kb["id"])  # made by the first ingestion, with its dimension
    back = client.patch(kb_url(kb["id"]), {"index_mode": "economical"}, format="json")
    assert back.json()["index_mode"] == "economical" and back.json()["embedding"] == {}
    assert knowledge_index().has_space(kb["id"])

    Document.objects.create(knowledge_base_id=kb["id"], name="a.txt", source="upload", status="ready")
    refused = client.patch(kb_url(kb["id"]), {"index_mode": "high_quality", "name": "Renamed"}, format="json")
    assert refused.status_code == 400 and list(error_of(refused)["fields"]) == ["index_mode"]
    assert KnowledgeBase.objects.get(pk=kb["id"]).name == "Manuals"  # nothing of the request was applied
    # Sending the current value back (a form that posts every field) is not a change.
    same = client.patch(kb_url(kb["id"]), {"index_mode": "economical", "name": "Renamed"}, format="json")
    assert same.status_code == 200 and same.json()["name"] == "Renamed"


def test_the_embedding_model_is_fixed_once_there_are_documents() -> None:
    kb, client, _owner = new_kb(index_mode="high_quality")
    Document.objects.create(knowledge_base_id=kb["id"], name="a.txt", source="upload", status="ready")
    other_model = {"provider": "00000000-0000-0000-0000-000000000001", "model": "text-embedding-3-small"}
    refused = client.patch(kb_url(kb["id"]), {"embedding": other_model}, format="json")
    assert refused.status_code == 400 and list(error_of(refused)["fields"]) == ["embedding"]


def test_viewers_read_editors_write_and_outsiders_see_nothing() -> None:
    workspace = make_workspace()
    kb, _client, _owner = new_kb(workspace)
    viewer = client_for(member(workspace, Role.VIEWER))
    assert viewer.get(f"/api/v1/workspaces/{workspace.pk}/knowledge-bases/").json()["count"] == 1
    assert viewer.get(kb_url(kb["id"])).status_code == 200
    for response in [
        viewer.post(f"/api/v1/workspaces/{workspace.pk}/knowledge-bases/", {"name": "Mine"}),
        viewer.patch(kb_url(kb["id"]), {"name": "Mine"}, format="json"),
        viewer.delete(kb_url(kb["id"])),
    ]:
        assert response.status_code == 403 and error_of(response)["code"] == "permission_denied"

    # Someone else's knowledge base is not there at all, whoever asks.
    stranger = client_for(owner_of(make_workspace(name="Other")))
    for response in [
        stranger.get(kb_url(kb["id"])),
        stranger.patch(kb_url(kb["id"]), {"name": "Mine"}, format="json"),
        stranger.delete(kb_url(kb["id"])),
        stranger.get(f"/api/v1/workspaces/{workspace.pk}/knowledge-bases/"),
    ]:
        assert response.status_code == 404 and error_of(response)["code"] == "not_found"
    other_key, _raw = key_client(make_workspace(name="Third"), role=Role.ADMIN)
    assert other_key.get(kb_url(kb["id"])).status_code == 404
    assert client_for().get(kb_url(kb["id"])).status_code in (401, 403)
    assert client_for(make_user()).get(kb_url("00000000-0000-0000-0000-000000000000")).status_code == 404
    assert KnowledgeBase.objects.get(pk=kb["id"]).name == "Manuals"


def test_an_api_key_works_like_its_role() -> None:
    workspace = make_workspace()
    kb, _client, _owner = new_kb(workspace)
    reader, _raw = key_client(workspace, role=Role.VIEWER)
    writer, _raw = key_client(workspace, role=Role.EDITOR)
    assert reader.get(kb_url(kb["id"])).status_code == 200
    assert reader.patch(kb_url(kb["id"]), {"name": "x"}, format="json").status_code == 403
    assert writer.patch(kb_url(kb["id"]), {"name": "x"}, format="json").status_code == 200
