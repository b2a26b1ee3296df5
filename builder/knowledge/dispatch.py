"""Start indexing a document where this deployment runs background work (``builder.core.background``).

Embedded, a few documents at a time (``KNOWLEDGE_INGEST_WORKERS``, 2): a document that takes long
to read (up to its parse budget) does not hold up the next upload, and so few never starve the
chats; each file is parsed in a process of its own, which its thread only waits for. An upload
answers at once and the builder watches the document's progress.
"""

from __future__ import annotations

from concurrent.futures import Future

from django.conf import settings

from builder.core.background import run_in_background


def dispatch_ingestion(document_id: str) -> Future[None] | None:
    from builder.knowledge.tasks import document_ingest_task

    return run_in_background(
        document_ingest_task, document_id, lane="knowledge-ingest", workers=settings.KNOWLEDGE_INGEST_WORKERS
    )
