"""Knowledge bases end to end through the services: upload, watch the status, search, edit, delete."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.test import override_settings

from builder.accounts.models import Workspace
from builder.accounts.roles import Role
from builder.accounts.services import workspace_delete
from builder.core.exceptions import NotFound, PayloadTooLarge, PermissionDenied, ValidationFailed
from builder.knowledge import services
from builder.knowledge.index import SearchFilter
from builder.knowledge.index_store import knowledge_index
from builder.knowledge.ingestion import fail_stale_ingestions
from builder.knowledge.models import Chunk, Document, KnowledgeBase
from builder.knowledge.selectors import searchable_documents
from tests.factories import make_user, make_workspace, member, owner_of, rolled_back
from tests.support.knowledge import wait_for_document

pytestmark = pytest.mark.django_db(transaction=True)

MANUAL = """# 耳机说明书

## 配对
长按电源键五秒，指示灯闪烁后在手机蓝牙设置中选择 Aurora 耳机。

## Battery
A full charge takes two hours and plays music for thirty hours.
"""


def _kb(**fields: Any) -> tuple[KnowledgeBase, Any]:
    workspace = make_workspace()
    owner = owner_of(workspace)
    return services.knowledge_base_create(actor=owner, workspace=workspace, name="Manuals", **fields), owner


def _search(kb: KnowledgeBase, query: str) -> list[str]:
    allowed = searchable_documents(workspace_id=kb.workspace_id, knowledge_base_ids=[str(kb.pk)])
    hits = knowledge_index().search_text([str(kb.pk)], query, k=5, filter=SearchFilter(document_ids=list(allowed)))
    return [hit.text for hit in hits]


def test_an_uploaded_document_is_indexed_and_searchable_in_chinese_and_english() -> None:
    kb, owner = _kb(chunking={"mode": "general", "chunk_size": 80, "chunk_overlap": 0})
    document = services.document_upload(
        actor=owner, knowledge_base=kb, name="manual.md", content=MANUAL.encode(), content_type="text/markdown"
    )
    assert document.status == Document.Status.QUEUED
    document = wait_for_document(document, Document.Status.READY, Document.Status.FAILED)
    assert document.status == Document.Status.READY, document.error
    assert document.kind == "md" and document.chunk_count == Chunk.objects.filter(document=document).count() > 1
    assert any("蓝牙" in text for text in _search(kb, "怎么配对蓝牙耳机"))
    assert any("thirty hours" in text for text in _search(kb, "battery hours"))


def test_disabled_and_deleted_documents_never_answer() -> None:
    kb, owner = _kb()
    document = wait_for_document(
        services.document_upload(actor=owner, knowledge_base=kb, name="a.txt", content=b"Aurora pairing guide"),
        Document.Status.READY,
    )
    assert _search(kb, "pairing")
    services.document_set_enabled(actor=owner, document=document, enabled=False)
    assert _search(kb, "pairing") == []
    services.document_set_enabled(actor=owner, document=document, enabled=True)
    assert _search(kb, "pairing")
    services.document_delete(actor=owner, document=document)
    assert Chunk.objects.filter(knowledge_base=kb).count() == 0
    # Gone from the index too, not only hidden by the allow-list.
    assert knowledge_index().search_text([str(kb.pk)], "pairing", k=5) == []


def test_an_edited_chunk_is_searched_by_its_new_text() -> None:
    kb, owner = _kb()
    document = wait_for_document(
        services.document_upload(
            actor=owner, knowledge_base=kb, name="a.txt", content=b"The old warranty is one year."
        ),
        Document.Status.READY,
    )
    chunk = Chunk.objects.get(document=document)
    services.chunk_update(actor=owner, chunk=chunk, text="The warranty is now three years, 保修三年.")
    assert _search(kb, "old") == []
    assert _search(kb, "保修") == ["The warranty is now three years, 保修三年."]
    assert Chunk.objects.get(pk=chunk.pk).edited


def test_broken_files_fail_with_a_reason_and_bad_uploads_are_refused() -> None:
    kb, owner = _kb()
    broken = services.document_upload(
        actor=owner, knowledge_base=kb, name="report.pdf", content=b"%PDF-1.7\n this is not a pdf", content_type=""
    )
    broken = wait_for_document(broken, Document.Status.FAILED, Document.Status.READY)
    assert broken.status == Document.Status.FAILED and broken.error["code"] == "corrupt_file"
    assert _search(kb, "pdf") == []
    with pytest.raises(ValidationFailed) as empty:
        services.document_upload(actor=owner, knowledge_base=kb, name="empty.txt", content=b"")
    assert empty.value.code == "empty_file" and "file" in empty.value.fields

    class Huge:
        """A 200 MB upload as Django hands it over: its size is known before anything is read."""

        size = 200 * 1024 * 1024

        def read(self, *args: Any) -> bytes:
            raise AssertionError("a file over the limit must not be read")

    with pytest.raises(PayloadTooLarge) as huge:
        services.document_upload(actor=owner, knowledge_base=kb, name="huge.pdf", content=Huge())  # type: ignore[arg-type]
    assert huge.value.code == "too_large"
    assert Document.objects.filter(knowledge_base=kb).count() == 1


def test_settings_are_validated_field_by_field() -> None:
    workspace = make_workspace()
    owner = owner_of(workspace)
    with pytest.raises(ValidationFailed) as bad:
        services.knowledge_base_create(
            actor=owner,
            workspace=workspace,
            name="x",
            chunking={"mode": "general", "chunk_size": 100, "chunk_overlap": 100},
        )
    assert any(key.startswith("chunking.") for key in bad.value.fields)
    with pytest.raises(ValidationFailed) as mode:
        services.knowledge_base_create(actor=owner, workspace=workspace, name="x", index_mode="magic")
    assert "index_mode" in mode.value.fields


def test_viewers_read_but_do_not_write_and_outsiders_see_nothing() -> None:
    kb, _owner = _kb()
    viewer = member(kb.workspace, Role.VIEWER)
    with pytest.raises(PermissionDenied):
        services.document_upload(actor=viewer, knowledge_base=kb, name="a.txt", content=b"hello")
    with pytest.raises(NotFound):
        services.document_upload(actor=make_user(), knowledge_base=kb, name="a.txt", content=b"hello")


@override_settings(KNOWLEDGE_STALE_AFTER_S=0)
def test_an_ingestion_whose_worker_died_is_failed_not_left_in_progress() -> None:
    kb, _owner = _kb()
    document = Document.objects.create(knowledge_base=kb, name="a.txt", source="upload", status="embedding")
    assert fail_stale_ingestions() == 1
    document.refresh_from_db()
    assert document.status == Document.Status.FAILED and document.error["code"] == "worker_lost"


def test_deleting_the_workspace_drops_its_index_entries_and_files_unless_rolled_back() -> None:
    kb, owner = _kb()
    document = wait_for_document(
        services.document_upload(actor=owner, knowledge_base=kb, name="a.txt", content=b"Aurora pairing guide"),
        Document.Status.READY,
    )
    stored = document.file
    assert default_storage.exists(stored) and knowledge_index().has_space(str(kb.pk))

    rolled_back(lambda: workspace_delete(actor=owner, workspace=kb.workspace))
    assert default_storage.exists(stored) and _search(kb, "pairing")

    workspace_delete(actor=owner, workspace=Workspace.objects.get(pk=kb.workspace_id))
    assert not KnowledgeBase.objects.filter(pk=kb.pk).exists()
    assert not knowledge_index().has_space(str(kb.pk)) and not default_storage.exists(stored)
