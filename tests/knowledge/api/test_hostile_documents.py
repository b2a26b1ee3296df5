"""Issue 11, defect 4: an upload within every size limit but expensive to read (a docx flooded with
paragraphs) fails with the budget it went over, in the reader's language; it is read in a capped
process of its own, so the server's memory does not grow with it; and a document uploaded after
it is indexed without waiting for it."""

from __future__ import annotations

import resource
import threading

import pytest
from django.conf import settings
from django.test import override_settings

from builder.knowledge.models import Document
from tests.knowledge.api.support import kb_url, new_kb, upload
from tests.knowledge.loading import files
from tests.knowledge.loading.page_server import PageServer
from tests.support.knowledge import wait_for_document

pytestmark = [
    pytest.mark.django_db(transaction=True),
    # The budgets are this process's settings; a Celery worker (production) has its own.
    pytest.mark.skipif(not settings.EMBEDDED, reason="embedded default only (ingestion in this process)"),
]

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MB = 1024 * 1024
FLOOD_PARAGRAPHS = 5_000  # 95,000 elements in 3.5 MB of XML: a 350 KB file
ELEMENT_BUDGET = 20_000


@override_settings(KNOWLEDGE_PARSE_MAX_ELEMENTS=ELEMENT_BUDGET)
def test_a_docx_flooded_with_paragraphs_fails_with_its_budget_in_the_readers_language() -> None:
    kb, client, _owner = new_kb()
    uploaded = upload(client, kb["id"], "report.docx", files.flooded_docx(FLOOD_PARAGRAPHS), DOCX)
    assert uploaded.status_code == 201, uploaded.content
    document = wait_for_document(Document.objects.get(pk=uploaded.json()["id"]))
    assert document.status == Document.Status.FAILED and document.chunk_count == 0
    english = client.get(f"/api/v1/documents/{document.pk}/").json()
    assert english["error"] == {
        "code": "too_many_elements",
        "message": "The docx file is too complex to read: it holds more than 20000 elements "
        "(paragraphs, runs, cells, tags). Split it into smaller files.",
    }
    chinese = client.get(f"/api/v1/documents/{document.pk}/", HTTP_ACCEPT_LANGUAGE="zh-Hans").json()
    assert chinese["error"] == {
        "code": "too_many_elements",
        "message": "docx 文件过于复杂，无法读取：其中的元素（段落、文本块、单元格、标签）超过 20000 个。"
        "请拆分为更小的文件。",
    }


@override_settings(KNOWLEDGE_PARSE_MAX_ELEMENTS=10_000_000, KNOWLEDGE_PARSE_MEMORY_MB=150)
def test_a_document_that_needs_more_memory_than_its_budget_fails_without_growing_the_server() -> None:
    # Parsed as a tree, these 300,000 paragraphs of HTML (5 MB) take ~300 MB; the parser may map 150.
    page = ("<html><body>" + "<p><b>x</b> y</p>" * 300_000 + "</body></html>").encode()
    kb, client, _owner = new_kb()
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    uploaded = upload(client, kb["id"], "page.html", page, "text/html")
    document = wait_for_document(Document.objects.get(pk=uploaded.json()["id"]))
    peak_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - peak_before
    assert document.status == Document.Status.FAILED
    assert client.get(f"/api/v1/documents/{document.pk}/").json()["error"] == {
        "code": "parse_memory",
        "message": "Reading the document needed more memory than its limit (150 MB). Split it into smaller files.",
    }
    assert peak_growth < 100 * MB  # the tree was built, and given up, in the parser's process


@override_settings(KNOWLEDGE_PARSE_MAX_ELEMENTS=ELEMENT_BUDGET, AGENTLOOM_HTTP_ALLOWLIST=["127.0.0.1"])
def test_a_small_document_is_indexed_while_a_slow_one_is_still_being_read(page_server: PageServer) -> None:
    # The flooded docx is added by its address and its download is held: the document stays in
    # progress, as long as the test wants, like a file that takes long to read.
    page_server.pages["/report.docx"] = (files.flooded_docx(FLOOD_PARAGRAPHS), DOCX)
    download = page_server.holds["/report.docx"] = threading.Event()
    kb, client, _owner = new_kb()
    try:
        added = client.post(kb_url(kb["id"], "documents/url"), {"url": page_server.url("/report.docx")})
        assert added.status_code == 201, added.content
        slow = Document.objects.get(pk=added.json()["id"])
        wait_for_document(slow, Document.Status.PARSING)
        small = upload(client, kb["id"], "faq.txt", b"Returns are free for thirty days.")
        assert small.status_code == 201, small.content
        small_document = wait_for_document(Document.objects.get(pk=small.json()["id"]))
        assert small_document.status == Document.Status.READY, small_document.error
        slow.refresh_from_db()
        assert slow.status == Document.Status.PARSING  # still reading: the small one did not wait for it
    finally:
        download.set()
    slow = wait_for_document(slow)
    assert slow.status == Document.Status.FAILED and slow.error["code"] == "too_many_elements"
