"""Documents and chunks over HTTP: upload, watch the status, read and edit chunks, search, delete."""

from __future__ import annotations

import pytest
from django.test import override_settings

from builder.accounts.roles import Role
from builder.knowledge.messages import stored_failure
from builder.knowledge.models import Chunk, Document, KnowledgeBase
from tests.factories import client_for, error_of, make_workspace, member, owner_of
from tests.knowledge.api.support import kb_url, new_kb, retrieve, upload, upload_ready
from tests.knowledge.loading.page_server import PageServer
from tests.support.knowledge import wait_for_document

pytestmark = pytest.mark.django_db(transaction=True)

MANUAL = """# Aurora headphones

## Pairing
Hold the power button for five seconds until the light blinks, then choose Aurora in Bluetooth settings.

## Battery
A full charge takes two hours and plays music for thirty hours.

## 保修
耳机保修一年，请保留购买凭证。
"""


def test_an_uploaded_document_is_indexed_its_chunks_edited_and_found_then_deleted() -> None:
    kb, client, _owner = new_kb(chunking={"mode": "general", "chunk_size": 120, "chunk_overlap": 0})
    uploaded = upload(client, kb["id"], "manual.md", MANUAL.encode(), "text/markdown")
    assert uploaded.status_code == 201, uploaded.content
    body = uploaded.json()
    assert body["status"] == "queued" and body["source"] == "upload" and body["name"] == "manual.md"
    assert body["size_bytes"] == len(MANUAL.encode()) and body["error"] is None

    document = wait_for_document(Document.objects.get(pk=body["id"]))
    detail = client.get(f"/api/v1/documents/{document.pk}/").json()
    assert detail["status"] == "ready", detail["error"]
    assert detail["progress"] == 100 and detail["kind"] == "md" and detail["enabled"] is True
    assert detail["chunk_count"] > 1 and detail["indexed_at"] is not None

    chunks = client.get(f"/api/v1/documents/{document.pk}/chunks/").json()
    assert chunks["count"] == detail["chunk_count"]
    assert [chunk["position"] for chunk in chunks["results"]] == sorted(c["position"] for c in chunks["results"])
    assert not any(chunk["edited"] for chunk in chunks["results"])
    battery = next(chunk for chunk in chunks["results"] if "thirty hours" in chunk["text"])

    hits = retrieve(client, kb["id"], "battery charge music", mode="full_text")
    assert hits and "thirty hours" in hits[0]["content"]
    assert hits[0]["document_name"] == "manual.md" and hits[0]["document_id"] == str(document.pk)
    assert hits[0]["chunk_id"] == battery["id"] and hits[0]["score"] > 0
    assert any("保修" in hit["content"] for hit in retrieve(client, kb["id"], "耳机保修多久"))

    edited = client.patch(f"/api/v1/chunks/{battery['id']}", {"text": "The battery now lasts forty hours."})
    assert edited.status_code == 200, edited.content
    assert edited.json()["edited"] is True and edited.json()["text"] == "The battery now lasts forty hours."
    hits = retrieve(client, kb["id"], "forty hours")
    assert hits[0]["chunk_id"] == battery["id"] and hits[0]["content"] == "The battery now lasts forty hours."
    assert not any("thirty" in hit["content"] for hit in retrieve(client, kb["id"], "thirty"))

    assert client.delete(f"/api/v1/documents/{document.pk}/").status_code == 204
    assert retrieve(client, kb["id"], "forty hours") == []
    assert retrieve(client, kb["id"], "耳机保修多久") == []
    assert client.get(f"/api/v1/documents/{document.pk}/").status_code == 404
    assert client.get(kb_url(kb["id"])).json()["document_count"] == 0


def test_a_disabled_document_stays_listed_but_never_answers() -> None:
    kb, client, _owner = new_kb()
    document = upload_ready(client, kb["id"], "pairing.txt", b"Aurora pairing guide: hold the button.")
    assert retrieve(client, kb["id"], "pairing")
    disabled = client.patch(f"/api/v1/documents/{document['id']}/", {"enabled": False})
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False
    assert retrieve(client, kb["id"], "pairing") == []
    assert client.get(kb_url(kb["id"], "documents/")).json()["results"][0]["enabled"] is False
    assert client.patch(f"/api/v1/documents/{document['id']}/", {"enabled": True}).json()["enabled"] is True
    assert retrieve(client, kb["id"], "pairing")
    bad = client.patch(f"/api/v1/documents/{document['id']}/", {"enabled": "perhaps"})
    assert list(error_of(bad)["fields"]) == ["enabled"]
    assert list(error_of(client.patch(f"/api/v1/documents/{document['id']}/", {}))["fields"]) == ["enabled"]


def test_a_document_is_indexed_again_on_request() -> None:
    kb, client, _owner = new_kb()
    document = upload_ready(client, kb["id"], "a.txt", b"The warranty is one year.")
    chunk = Chunk.objects.get(document_id=document["id"])
    client.patch(f"/api/v1/chunks/{chunk.pk}", {"text": "Edited by hand."})
    again = client.post(f"/api/v1/documents/{document['id']}/reindex")
    assert again.status_code == 202 and again.json()["status"] == "queued"
    indexed = wait_for_document(Document.objects.get(pk=document["id"]))
    assert indexed.status == Document.Status.READY
    # Indexed from its source again: the hand edit is replaced by the file's text.
    assert [hit["content"] for hit in retrieve(client, kb["id"], "warranty")] == ["The warranty is one year."]


def test_documents_are_filtered_by_status_searched_by_name_and_paginated() -> None:
    kb, client, _owner = new_kb()
    knowledge_base = KnowledgeBase.objects.get(pk=kb["id"])
    for name, status in [("FAQ.md", "ready"), ("Prices.csv", "failed"), ("faq-old.md", "ready"), ("x.pdf", "parsing")]:
        Document.objects.create(knowledge_base=knowledge_base, name=name, source="upload", status=status)
    url = kb_url(kb["id"], "documents/")
    ready = client.get(url + "?status=ready&ordering=name").json()
    assert [d["name"] for d in ready["results"]] == ["FAQ.md", "faq-old.md"]
    assert [d["name"] for d in client.get(url + "?search=faq&status=ready&ordering=name").json()["results"]] == [
        "FAQ.md",
        "faq-old.md",
    ]
    assert [d["name"] for d in client.get(url + "?status=failed").json()["results"]] == ["Prices.csv"]
    page = client.get(url + "?page_size=3").json()
    assert page["count"] == 4 and len(page["results"]) == 3 and page["next"]
    assert client.get(url + "?status=lost").status_code == 400


def test_a_broken_file_fails_with_its_reason_in_the_request_language() -> None:
    kb, client, _owner = new_kb()
    uploaded = upload(client, kb["id"], "report.pdf", b"%PDF-1.7\n this is not a pdf", "application/pdf")
    document = wait_for_document(Document.objects.get(pk=uploaded.json()["id"]))
    assert document.status == Document.Status.FAILED
    english = client.get(f"/api/v1/documents/{document.pk}/").json()
    assert english["status"] == "failed" and english["error"]["code"] == "corrupt_file"
    assert english["error"]["message"] == "The pdf file is damaged or not valid and could not be read."
    chinese = client.get(f"/api/v1/documents/{document.pk}/", HTTP_ACCEPT_LANGUAGE="zh-Hans").json()
    assert chinese["error"]["code"] == "corrupt_file"
    assert "pdf" in chinese["error"]["message"] and any("\u4e00" <= c <= "\u9fff" for c in chinese["error"]["message"])


def test_stored_failures_are_translated_with_their_parameters_or_shown_as_stored() -> None:
    kb, client, _owner = new_kb()
    knowledge_base = KnowledgeBase.objects.get(pk=kb["id"])
    errors = {
        "limit": stored_failure("too_large", {"limit": "1 KB"}),
        "lost": stored_failure("worker_lost"),
        "unknown": stored_failure("http_error", message="Connection refused"),
        "older": {"code": "corrupt_file", "message": "Stored before parameters were kept"},
    }
    assert errors["limit"]["message"] == "The file is larger than the limit of 1 KB."
    for name, error in errors.items():
        Document.objects.create(knowledge_base=knowledge_base, name=name, source="url", status="failed", error=error)
    shown = {
        document["name"]: document["error"]
        for document in client.get(kb_url(kb["id"], "documents/"), HTTP_ACCEPT_LANGUAGE="zh-Hans").json()["results"]
    }
    assert shown["limit"] == {"code": "too_large", "message": "文件超过了 1 KB 的上限。"}
    assert shown["lost"]["code"] == "worker_lost" and any("\u4e00" <= c <= "\u9fff" for c in shown["lost"]["message"])
    assert shown["unknown"] == {"code": "http_error", "message": "Connection refused"}
    assert shown["older"] == errors["older"]


def test_bad_uploads_are_refused_with_a_reason() -> None:
    kb, client, _owner = new_kb()
    missing = client.post(kb_url(kb["id"], "documents/"), {"name": "nothing"}, format="multipart")
    assert list(error_of(missing)["fields"]) == ["file"]
    empty = upload(client, kb["id"], "empty.txt", b"")
    assert empty.status_code == 400 and error_of(empty)["code"] == "empty_file"
    assert error_of(empty)["fields"]["file"] == ["The file is empty."]
    program = upload(client, kb["id"], "setup.exe", b"MZ\x90\x00", "application/octet-stream")
    assert program.status_code == 400 and error_of(program)["code"] == "unsupported_type"
    assert ".exe" in error_of(program)["fields"]["file"][0]
    no_extension = upload(client, kb["id"], "movie", b"\x00\x01", "video/mp4")
    assert error_of(no_extension)["code"] == "unsupported_type"
    not_json = client.post(kb_url(kb["id"], "documents/"), {"file": "x"}, format="json")
    assert not_json.status_code == 415
    assert not Document.objects.exists()


@override_settings(KNOWLEDGE_MAX_UPLOAD_BYTES=1024)
def test_an_upload_over_the_limit_is_refused_with_413() -> None:
    kb, client, _owner = new_kb()
    too_large = upload(client, kb["id"], "big.txt", b"a" * 1025)
    assert too_large.status_code == 413
    error = error_of(too_large)
    assert error["code"] == "too_large" and "1 KB" in error["fields"]["file"][0]
    assert upload(client, kb["id"], "fits.txt", b"a" * 1024).status_code == 201
    assert Document.objects.count() == 1


def test_an_upload_may_be_named() -> None:
    kb, client, _owner = new_kb()
    named = upload(client, kb["id"], "hb-2024-v3.md", b"# Handbook\nHello", "text/markdown", name="Handbook")
    assert named.status_code == 201 and named.json()["name"] == "Handbook"
    assert wait_for_document(Document.objects.get(pk=named.json()["id"])).status == Document.Status.READY


def test_a_web_page_is_added_by_its_address(page_server: PageServer) -> None:
    page_server.pages["/faq"] = (
        b"<html><head><title>FAQ</title></head><body><p>Returns are free for thirty days.</p></body></html>",
        "text/html; charset=utf-8",
    )
    kb, client, _owner = new_kb()
    refused = client.post(kb_url(kb["id"], "documents/url"), {"url": "ftp://example.com/file"})
    assert list(error_of(refused)["fields"]) == ["url"]
    assert list(error_of(client.post(kb_url(kb["id"], "documents/url"), {}))["fields"]) == ["url"]
    with override_settings(AGENTLOOM_HTTP_ALLOWLIST=["127.0.0.1"]):  # the embedded indexing thread reads it
        added = client.post(kb_url(kb["id"], "documents/url"), {"url": page_server.url("/faq")})
        assert added.status_code == 201, added.content
        assert added.json()["source"] == "url" and added.json()["url"] == page_server.url("/faq")
        document = wait_for_document(Document.objects.get(pk=added.json()["id"]))
    assert document.status == Document.Status.READY, document.error
    assert retrieve(client, kb["id"], "returns")[0]["content"].startswith("Returns are free")


def test_chunk_edits_are_checked() -> None:
    workspace = make_workspace()
    kb, client, _owner = new_kb(workspace)
    document = upload_ready(client, kb["id"], "a.txt", b"The warranty is one year.")
    chunk = Chunk.objects.get(document_id=document["id"])
    url = f"/api/v1/chunks/{chunk.pk}"
    for text in ["", "   ", "x" * 20_001]:
        refused = client.patch(url, {"text": text})
        assert refused.status_code == 400 and list(error_of(refused)["fields"]) == ["text"], text
    assert list(error_of(client.patch(url, {}))["fields"]) == ["text"]
    viewer = client_for(member(workspace, Role.VIEWER))
    assert viewer.get(f"/api/v1/documents/{document['id']}/chunks/").status_code == 200
    assert viewer.patch(url, {"text": "Mine now."}).status_code == 403
    stranger = client_for(owner_of(make_workspace(name="Other")))
    assert stranger.patch(url, {"text": "Mine now."}).status_code == 404
    assert stranger.get(f"/api/v1/documents/{document['id']}/chunks/").status_code == 404
    Document.objects.filter(pk=document["id"]).update(status=Document.Status.PARSING)
    busy = client.patch(url, {"text": "Too early."})
    assert busy.status_code == 409 and error_of(busy)["code"] == "not_ready"
    assert Chunk.objects.get(pk=chunk.pk).text == "The warranty is one year."


def test_viewers_read_documents_but_do_not_change_them_and_outsiders_see_nothing() -> None:
    workspace = make_workspace()
    kb, client, _owner = new_kb(workspace)
    document = upload_ready(client, kb["id"], "a.txt", b"Aurora pairing guide")
    viewer = client_for(member(workspace, Role.VIEWER))
    assert viewer.get(kb_url(kb["id"], "documents/")).json()["count"] == 1
    assert viewer.get(f"/api/v1/documents/{document['id']}/").status_code == 200
    assert retrieve(viewer, kb["id"], "pairing")
    for response in [
        upload(viewer, kb["id"], "b.txt", b"hello"),
        viewer.post(kb_url(kb["id"], "documents/url"), {"url": "https://example.com/"}),
        viewer.patch(f"/api/v1/documents/{document['id']}/", {"enabled": False}),
        viewer.post(f"/api/v1/documents/{document['id']}/reindex"),
        viewer.delete(f"/api/v1/documents/{document['id']}/"),
    ]:
        assert response.status_code == 403, response.content
    stranger = client_for(owner_of(make_workspace(name="Other")))
    for response in [
        stranger.get(kb_url(kb["id"], "documents/")),
        upload(stranger, kb["id"], "b.txt", b"hello"),
        stranger.get(f"/api/v1/documents/{document['id']}/"),
        stranger.delete(f"/api/v1/documents/{document['id']}/"),
        stranger.post(kb_url(kb["id"], "retrieve"), {"query": "pairing"}),
    ]:
        assert response.status_code == 404, response.content
    assert Document.objects.filter(pk=document["id"], enabled=True).count() == 1


def test_retrieve_checks_its_settings() -> None:
    kb, client, _owner = new_kb()
    upload_ready(client, kb["id"], "a.txt", b"Aurora pairing guide")
    url = kb_url(kb["id"], "retrieve")
    for body, field in [
        ({}, "query"),
        ({"query": ""}, "query"),
        ({"query": "pairing", "mode": "magic"}, "mode"),
        ({"query": "pairing", "top_k": 0}, "top_k"),
        ({"query": "pairing", "top_k": 51}, "top_k"),
        ({"query": "pairing", "score_threshold": 1.5}, "score_threshold"),
    ]:
        refused = client.post(url, body, format="json")
        assert refused.status_code == 400 and list(error_of(refused)["fields"]) == [field], body
    answered = client.post(url, {"query": "pairing", "top_k": 1, "score_threshold": 0, "mode": "semantic"})
    # An economical knowledge base answers every mode by full text, as the knowledge_retrieval node does.
    assert answered.status_code == 200 and answered.json()["query"] == "pairing"
    assert [hit["content"] for hit in answered.json()["hits"]] == ["Aurora pairing guide"]


def test_a_high_quality_knowledge_base_is_searched_by_meaning() -> None:
    kb, client, _owner = new_kb(index_mode="high_quality")
    document = upload_ready(
        client,
        kb["id"],
        "care.txt",
        b"Keep the earbuds away from water and clean them with a dry cloth.\n\n"
        b"The charging case needs two hours to charge fully.",
    )
    assert document["chunk_count"] >= 1
    hits = retrieve(client, kb["id"], "how do I wash my headphones", mode="semantic", top_k=1)
    assert "dry cloth" in hits[0]["content"]
    hybrid = retrieve(client, kb["id"], "charging case", mode="hybrid")
    assert "charging case" in hybrid[0]["content"] and 0 < hybrid[0]["score"] <= 1
