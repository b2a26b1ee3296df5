"""Start indexing a document where this deployment runs background work (``builder.core.background``).

Embedded, parsing and embedding are CPU-bound: one document at a time, so they never starve the
chats; an upload answers at once and the builder watches the document's progress.
"""

from __future__ import annotations

from concurrent.futures import Future

from builder.core.background import run_in_background


def dispatch_ingestion(document_id: str) -> Future[None] | None:
    from builder.knowledge.tasks import document_ingest_task

    return run_in_background(document_ingest_task, document_id, lane="knowledge-ingest")
