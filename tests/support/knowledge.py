"""Waiting for background indexing (a thread on the embedded default, the Celery worker in production)."""

from __future__ import annotations

import time

from builder.knowledge.models import Document

FINISHED = (Document.Status.READY, Document.Status.FAILED)


def wait_for_document(document: Document, *statuses: str, timeout_s: float = 60.0) -> Document:
    """Refresh ``document`` until it reaches one of ``statuses`` (default: ready or failed)."""
    wanted = statuses or FINISHED
    deadline = time.monotonic() + timeout_s
    while True:
        document.refresh_from_db()
        if document.status in wanted:
            return document
        if time.monotonic() > deadline:
            raise AssertionError(f"document {document.name} stayed {document.status}: {document.error}")
        time.sleep(0.05)
